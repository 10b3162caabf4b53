"""Retention: activity older than the configured number of days is deleted (PRODUCT.md §5).

Run after every ingest, so the store never holds more history than the district agreed to keep. Only
activity goes: the roster, communities, exemplars and opt-ins describe the present, not the past.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, or_

from store import schema as s


def purge_expired(engine: Engine, retention_days: int, *, now: datetime | None = None) -> dict[str, int]:
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    sub = s.submissions.c
    with engine.begin() as conn:
        events = conn.execute(delete(s.activity_events).where(s.activity_events.c.occurred_at < cutoff)).rowcount
        subs = conn.execute(
            delete(s.submissions).where(
                or_(sub.submitted_at < cutoff, sub.submitted_at.is_(None) & (sub.returned_at < cutoff))
            )
        ).rowcount
        runs = conn.execute(delete(s.ingest_runs).where(s.ingest_runs.c.started_at < cutoff)).rowcount
    return {"activity_events": events or 0, "submissions": subs or 0, "ingest_runs": runs or 0}
