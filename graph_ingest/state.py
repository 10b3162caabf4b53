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
    """The run this process writes for was closed by another (marked interrupted after STALE_RUN)."""


def check_runs_open(conn: Connection, run_ids) -> None:
    """Raise unless every run is still "running", and hold it so until the caller's transaction ends.

    An ended run is final: the measures recompute folds an ended run's events once and never counts them again
    (measures/snapshot.py), so a page written after its run ended would be missing from every figure until the
    next full recompute. The rows are read FOR SHARE on PostgreSQL, so a colleague closing the run waits for the
    page's commit; SQLite's single writer gives the same.
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
        raise RunClosedError(
            f"ingest run {r} is {status.get(r, 'no longer recorded')!r}, not running: another process closed it "
            f"(a run left running longer than {STALE_RUN} is taken for dead). Nothing was written for it. "
            "Start a new ingest; it will read again whatever this one had not saved."
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
