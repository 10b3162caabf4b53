"""Writing one page's worth of records and its cursor, atomically."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import Engine

from graph_ingest.records import AssignmentRecord, EventRecord, FormLink, SubmissionRecord
from graph_ingest.state import save_cursor
from store import schema as s
from store.upsert import upsert


def write_page(
    engine: Engine,
    *,
    run_id: int | None,
    events: Sequence[EventRecord] = (),
    form_links: Sequence[FormLink] = (),
    assignments: Sequence[AssignmentRecord] = (),
    submissions: Sequence[SubmissionRecord] = (),
    cursor: tuple[str, str, str] | None = None,
) -> int:
    """Upsert the records and save ``cursor`` (source, scope, link) in the same transaction."""
    with engine.begin() as conn:
        n = upsert(conn, s.activity_events, [e.row(run_id) for e in events])
        upsert(conn, s.form_classes, [f.row() for f in {(f.form_id, f.class_id): f for f in form_links}.values()])
        upsert(
            conn,
            s.assignments,
            [a.row() for a in assignments],
            update=["has_forms_resource", "form_id", "assigned_at", "due_at", "status"],
        )
        upsert(conn, s.submissions, [x.row() for x in submissions], update=["submitted_at", "returned_at", "status"])
        if cursor is not None:
            save_cursor(conn, *cursor)
    return n


async def write_page_async(engine: Engine, **records) -> int:
    """``write_page`` on a worker thread, so the event loop keeps sending paced requests on time.

    A synchronous write of tens of milliseconds between the pacer granting a slot and the request leaving
    would let requests bunch up past the service's window (benchmarks/README.md, bench_ingest_pacing).
    """
    return await asyncio.to_thread(write_page, engine, **records)
