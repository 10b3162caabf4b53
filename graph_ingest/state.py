"""Ingest cursors (delta links) and run records in the store.

A cursor is written in the same transaction as the events of the page it follows, so whatever moment
the process dies, the store never holds a cursor that is ahead of its events: a rerun re-reads at most
one page, and the idempotent upserts make that harmless.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, insert, select, update

from store import schema as s
from store.upsert import upsert


def load_cursor(conn: Connection, source: str, scope_id: str) -> str | None:
    row = conn.execute(
        select(s.ingest_cursors.c.cursor).where(
            s.ingest_cursors.c.source == source, s.ingest_cursors.c.scope_id == scope_id
        )
    ).first()
    return row.cursor if row else None


def load_cursors(engine: Engine, source: str) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(s.ingest_cursors.c.scope_id, s.ingest_cursors.c.cursor).where(s.ingest_cursors.c.source == source)
        )
        return {r.scope_id: r.cursor for r in rows}


def save_cursor(conn: Connection, source: str, scope_id: str, cursor: str) -> None:
    upsert(
        conn,
        s.ingest_cursors,
        [{"source": source, "scope_id": scope_id, "cursor": cursor, "updated_at": datetime.now(UTC)}],
        update=["cursor", "updated_at"],
    )


def drop_cursors(engine: Engine, source: str | None = None) -> int:
    with engine.begin() as conn:
        stmt = s.ingest_cursors.delete()
        if source:
            stmt = stmt.where(s.ingest_cursors.c.source == source)
        return conn.execute(stmt).rowcount or 0


#: A run still "running" after this long was killed (SIGKILL, a lost machine): no ingest runs this long on
#: purpose, so a replica starting now cannot be mistaking a colleague's live run for a dead one.
STALE_RUN = timedelta(hours=12)


def start_run(engine: Engine, mode: str, *, now: datetime | None = None) -> int:
    """Record a new run, and close the records of runs that died without finishing as "interrupted"."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            update(s.ingest_runs)
            .where(s.ingest_runs.c.status == "running", s.ingest_runs.c.started_at < now - STALE_RUN)
            .values(status="interrupted")
        )
        result = conn.execute(insert(s.ingest_runs).values(started_at=now, status="running", mode=mode, stats={}))
        return int(result.inserted_primary_key[0])


class RunClosedError(RuntimeError):
    """The run this process writes for is no longer running (another process marked it interrupted)."""


def check_runs_open(conn: Connection, run_ids) -> None:
    """Raise unless every run is still "running"; call it after the transaction's writes, before its commit.

    An ended run is final: the measures recompute folds an ended run's events once and never counts them again
    (measures/snapshot.py), so a page written after its run ended would be missing from every figure until the
    next full recompute. After a write the transaction holds SQLite's write lock on the newest snapshot, so no
    one can close the run before the commit; on PostgreSQL the rows are read FOR SHARE, which makes a colleague's
    update of the status wait for the commit. Raising rolls the page back.
    """
    run_ids = sorted(set(run_ids) - {None})
    if not run_ids:
        return
    runs = s.ingest_runs.c
    stmt = select(runs.run_id, runs.status).where(runs.run_id.in_(run_ids)).with_for_update(read=True)
    status = {int(r): st for r, st in conn.execute(stmt)}
    closed = [r for r in run_ids if status.get(r) != "running"]
    if closed:
        r = closed[0]
        now = f"marked {status[r]!r}" if r in status else "no longer recorded"
        raise RunClosedError(
            f"ingest run {r} is {now}, not running, so this page was not saved: another process takes a run "
            f"still running after {STALE_RUN.total_seconds() / 3600:.0f} hours for dead and closes it. "
            "Start a new ingest; it reads again whatever this one had not saved."
        )


def finish_run(engine: Engine, run_id: int, status: str, stats: dict) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(s.ingest_runs)
            .where(s.ingest_runs.c.run_id == run_id)
            .values(finished_at=datetime.now(UTC), status=status, stats=stats)
        )


SWEEP = "sweep"  # cursor source for the last time a non-delta source was read in full


def last_sweeps(engine: Engine) -> dict[str, datetime]:
    return {name: datetime.fromisoformat(at) for name, at in load_cursors(engine, SWEEP).items()}


def save_sweeps(engine: Engine, names, at: datetime) -> None:
    with engine.begin() as conn:
        for name in names:
            save_cursor(conn, SWEEP, name, at.isoformat())
