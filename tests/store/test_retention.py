"""Activity older than the retention period is deleted; newer activity and the roster stay."""

from datetime import timedelta

from sqlalchemy import func, select

from store import schema as s
from store.retention import purge_expired
from store.upsert import upsert
from tests.store.helpers import T0, event, seed_class


def test_only_activity_older_than_the_retention_period_is_purged(store_engine):
    with store_engine.begin() as conn:
        seed_class(conn)
        upsert(
            conn,
            s.activity_events,
            [event("old", "a", at=T0 - timedelta(days=400)), event("new", "a", at=T0 - timedelta(days=10))],
        )
        upsert(
            conn,
            s.submissions,
            [
                {"submission_id": "s-old", "assignment_id": "a", "class_id": "class-1", "student_key": "a",
                 "submitted_at": T0 - timedelta(days=400), "returned_at": None, "status": "submitted"},
                {"submission_id": "s-new", "assignment_id": "a", "class_id": "class-1", "student_key": "a",
                 "submitted_at": T0 - timedelta(days=3), "returned_at": None, "status": "submitted"},
            ],
        )  # fmt: skip
    removed = purge_expired(store_engine, 365, now=T0)
    assert removed["activity_events"] == 1 and removed["submissions"] == 1
    with store_engine.connect() as conn:
        assert conn.execute(select(s.activity_events.c.source_id)).scalars().all() == ["new"]
        assert conn.execute(select(func.count()).select_from(s.classes)).scalar_one() == 1
