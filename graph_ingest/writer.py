"""Writing pages of records with their cursors, atomically, and without holding up the event loop."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence

from sqlalchemy import Engine

from graph_ingest.records import AssignmentRecord, EventRecord, FormLink, SubmissionRecord
from graph_ingest.state import check_runs_open, save_cursor
from store import schema as s
from store.upsert import insert_new, upsert

#: The events' columns as ``_write`` passes them: the record's fields, then the run.
_EVENT_FIELDS = (*EventRecord._fields, "run_id")


def write_page(engine: Engine, **page) -> int:
    """Upsert one page's records and save its ``cursor`` (source, scope, link) in the same transaction."""
    return write_pages(engine, [page])[0]


def write_pages(engine: Engine, pages: Sequence[dict]) -> list[int]:
    """Several pages in ONE transaction: each page's cursor still commits together with its events.

    Each page keeps its own statements: a variant merging every page's rows into one statement per table was no
    faster (bench_ingest_teams: 106.3 and 106.5 ms of CPU per 1,000 messages, against 87.7 to 102.5 ms for this
    one, on a noisy machine). Returns each page's count of new events.
    """
    with engine.begin() as conn:
        counts = [_write(conn, **page) for page in pages]
        check_runs_open(conn, (page.get("run_id") for page in pages))  # after the writes: see its docstring
        return counts


def _write(
    conn,
    *,
    run_id: int | None,
    events: Sequence[EventRecord] = (),
    form_links: Sequence[FormLink] = (),
    assignments: Sequence[AssignmentRecord] = (),
    submissions: Sequence[SubmissionRecord] = (),
    cursor: tuple[str, str, str] | None = None,
) -> int:
    # Tuples, not dicts: one row per message, reply, reaction and mention (bench_ingest_teams).
    n = insert_new(conn, s.activity_events, _EVENT_FIELDS, [(*e, run_id) for e in events])
    upsert(conn, s.form_classes, [f.row() for f in {(f.form_id, f.class_id): f for f in form_links}.values()])
    upsert(
        conn,
        s.assignments,
        [a.row() for a in assignments],
        update=["has_forms_resource", "form_id", "assigned_at", "due_at", "status"],
    )
    upsert_submissions(conn, [x.row() for x in submissions], run_id)
    if cursor is not None:
        save_cursor(conn, *cursor)
    return n


def upsert_submissions(conn, rows: Sequence[dict], run_id: int | None) -> int:
    """Submissions as the ingest writes them: stamped with the run when new or really changed, never otherwise.

    The stamp is how the measures recompute finds changed submissions (measures/snapshot.py): a sweep that sees
    a submission unchanged leaves its row, and its run, as they were.
    """
    return upsert(
        conn,
        s.submissions,
        [{**r, "run_id": run_id} for r in rows],
        update=["submitted_at", "returned_at", "status"],
        stamp=["run_id"],
    )


class GroupWriter:
    """Group commit: pages that arrive while a write is running go together in the next transaction.

    Writes run on a worker thread, so the event loop keeps sending paced requests on time (a synchronous write
    between the pacer granting a slot and the request leaving lets requests bunch up past the service's window:
    benchmarks/README.md, bench_ingest_pacing). One transaction for many pages saves a commit per page, the
    largest cost after the inserts themselves. Each caller still learns its own page's count of new events.
    """

    def __init__(self, engine: Engine):
        # Weak: the registry below is keyed weakly by engine, and a strong reference from its value would keep
        # every engine (and its SQLite page caches) alive for the life of the process.
        self._engine = weakref.ref(engine)
        self._pending: list[tuple[dict, asyncio.Future]] = []
        self._lock = asyncio.Lock()

    def _live_engine(self) -> Engine:
        engine = self._engine()
        if engine is None:  # only if a caller dropped its engine while still writing through it
            raise RuntimeError("the store's engine was closed while the ingest was still writing")
        return engine

    async def write(self, **page) -> int:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((page, future))
        async with self._lock:  # one transaction at a time; whoever holds the lock writes everything queued
            if not future.done():
                batch, self._pending = self._pending, []
                try:
                    counts = await asyncio.to_thread(write_pages, self._live_engine(), [p for p, _ in batch])
                except Exception as exc:  # every page of the failed transaction reports the failure
                    for _, f in batch:
                        if not f.done():
                            f.set_exception(exc)
                else:
                    for (_, f), n in zip(batch, counts, strict=True):
                        f.set_result(n)
        return await future


_writers: weakref.WeakKeyDictionary[Engine, dict[int, GroupWriter]] = weakref.WeakKeyDictionary()


async def write_page_async(engine: Engine, **page) -> int:
    """``write_page`` through the engine's group writer for the running event loop."""
    per_loop = _writers.setdefault(engine, {})
    loop = id(asyncio.get_running_loop())
    writer = per_loop.get(loop) or per_loop.setdefault(loop, GroupWriter(engine))
    return await writer.write(**page)
