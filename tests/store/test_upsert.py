"""Event writes are idempotent: re-ingesting a page never duplicates or changes what was stored."""

from datetime import timedelta

from sqlalchemy import func, select

from store import schema as s
from store.upsert import upsert
from tests.store.helpers import T0, event, seed_class


def count(conn, table):
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_writing_the_same_page_twice_stores_each_event_once(store_engine):
    page = [event(f"teams:msg:{i}", f"student-{i % 7}") for i in range(120)]
    with store_engine.begin() as conn:
        assert upsert(conn, s.activity_events, page) == 120
    with store_engine.begin() as conn:
        assert upsert(conn, s.activity_events, page) == 0  # nothing new
        assert upsert(conn, s.activity_events, page[:30]) == 0
        assert count(conn, s.activity_events) == 120


def test_overlapping_pages_add_only_the_new_events(store_engine):
    first = [event(f"teams:msg:{i}", "a") for i in range(0, 60)]
    second = [event(f"teams:msg:{i}", "a") for i in range(40, 100)]
    with store_engine.begin() as conn:
        upsert(conn, s.activity_events, first)
        assert upsert(conn, s.activity_events, second) == 40
        assert count(conn, s.activity_events) == 100


def test_an_event_seen_again_keeps_its_first_version(store_engine):
    with store_engine.begin() as conn:
        upsert(conn, s.activity_events, [event("teams:msg:1", "a", at=T0)])
        upsert(conn, s.activity_events, [event("teams:msg:1", "b", at=T0 + timedelta(hours=1))])
        row = conn.execute(select(s.activity_events)).one()
    assert (row.actor_key, row.occurred_at.replace(tzinfo=T0.tzinfo)) == ("a", T0)


def test_a_submission_upsert_updates_the_return_time_when_feedback_arrives_later(store_engine):
    sub = {
        "submission_id": "sub-1",
        "assignment_id": "asg-1",
        "class_id": "class-1",
        "student_key": "k",
        "submitted_at": T0,
        "returned_at": None,
        "status": "submitted",
    }
    cols = ["returned_at", "status"]
    with store_engine.begin() as conn:
        upsert(conn, s.submissions, [sub], update=cols)
        upsert(
            conn, s.submissions, [{**sub, "returned_at": T0 + timedelta(hours=30), "status": "returned"}], update=cols
        )
        row = conn.execute(select(s.submissions)).one()
        assert count(conn, s.submissions) == 1
    assert row.status == "returned"
    assert row.returned_at.replace(tzinfo=T0.tzinfo) == T0 + timedelta(hours=30)


def test_large_batches_are_split_under_the_parameter_limit(store_engine):
    rows = [event(f"teams:msg:{i}", "a") for i in range(9000)]  # 90,000 parameters in one call
    with store_engine.begin() as conn:
        assert upsert(conn, s.activity_events, rows) == 9000
        assert count(conn, s.activity_events) == 9000


def test_the_store_refuses_a_student_row_that_carries_a_name(store_engine):
    import pytest
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), store_engine.begin() as conn:
        seed_class(conn)
        conn.execute(s.people.insert().values(person_key="hash", role="student", display_name="Ana Lopez"))


def test_a_batch_that_repeats_a_key_is_written_once_with_its_last_version(store_engine):
    sub = {
        "submission_id": "sub-1",
        "assignment_id": "asg-1",
        "class_id": "class-1",
        "student_key": "k",
        "submitted_at": T0,
        "returned_at": None,
        "status": "submitted",
    }
    with store_engine.begin() as conn:
        upsert(conn, s.submissions, [sub, {**sub, "status": "returned"}], update=["status"])
        assert conn.execute(select(s.submissions.c.status)).scalar_one() == "returned"


def test_upserted_rows_read_back_exactly_as_a_plain_sqlalchemy_insert_stores_them(store_engine):
    # SQLite takes a compiled executemany path; its stored text must be what SQLAlchemy itself writes.
    at = T0 + timedelta(microseconds=123456)
    via_insert = {**event("teams:msg:plain", "a", target="b", at=at), "object_id": "thread-1", "run_id": None}
    via_upsert = {**via_insert, "source_id": "teams:msg:upsert"}
    assignment = {"assignment_id": "asg-1", "class_id": "class-1", "form_id": None, "status": "assigned"}
    with store_engine.begin() as conn:
        conn.execute(s.activity_events.insert(), [via_insert])
        upsert(conn, s.activity_events, [via_upsert])
        upsert(conn, s.assignments, [assignment], update=["status"])  # leaves out a column with a default
        stored = {r.source_id: r._asdict() for r in conn.execute(select(s.activity_events))}
        raw = conn.exec_driver_sql("SELECT source_id, occurred_at FROM activity_events ORDER BY source_id").all()
        has_forms = conn.execute(select(s.assignments.c.has_forms_resource)).scalar_one()
    plain, fast = stored.pop("teams:msg:plain"), stored.pop("teams:msg:upsert")
    assert {**fast, "source_id": None} == {**plain, "source_id": None}
    assert raw[0][1] == raw[1][1]  # byte-for-byte the same timestamp text (or value) in the database
    assert has_forms is False


def test_a_later_update_of_listed_columns_changes_only_those_columns(store_engine):
    asg = {"assignment_id": "asg-1", "class_id": "class-1", "has_forms_resource": True, "form_id": "f1"}
    with store_engine.begin() as conn:
        assert upsert(conn, s.assignments, [{**asg, "status": "draft"}], update=["status"]) == 1
        assert upsert(conn, s.assignments, [{**asg, "form_id": "f2", "status": "assigned"}], update=["status"]) == 1
        row = conn.execute(select(s.assignments)).one()
    assert (row.form_id, row.status, row.has_forms_resource) == ("f1", "assigned", True)
