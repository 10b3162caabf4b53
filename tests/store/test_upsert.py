"""Event writes are idempotent: re-ingesting a page never duplicates or changes what was stored."""

from datetime import UTC, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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


def _stamped(conn, rows, run_id):
    cols = ["submitted_at", "returned_at", "status"]
    return upsert(conn, s.submissions, [{**r, "run_id": run_id} for r in rows], update=cols, stamp=["run_id"])


def test_a_stamp_is_written_with_a_new_row_and_moves_only_when_a_value_really_changes(store_engine):
    subs = [
        {
            "submission_id": f"sub-{i}",
            "assignment_id": "asg-1",
            "class_id": "class-1",
            "student_key": f"k{i}",
            "submitted_at": T0,
            "returned_at": None,
            "status": "submitted",
        }
        for i in range(3)
    ]
    with store_engine.begin() as conn:
        assert _stamped(conn, subs, 1) == 3
    returned = {**subs[1], "returned_at": T0 + timedelta(days=2), "status": "returned"}
    with store_engine.begin() as conn:
        # Run 2 sees all three again; only sub-1 changed, so only it is written and carries run 2.
        assert _stamped(conn, [subs[0], returned, subs[2]], 2) == 1
        stamps = dict(conn.execute(select(s.submissions.c.submission_id, s.submissions.c.run_id)).all())
    assert stamps == {"sub-0": 1, "sub-1": 2, "sub-2": 1}
    with store_engine.begin() as conn:
        # A value going back to NULL is a change too (NULL-safe comparison on both backends).
        assert _stamped(conn, [{**returned, "returned_at": None}], 3) == 1
        assert _stamped(conn, [{**returned, "returned_at": None}], 4) == 0
        row = conn.execute(select(s.submissions).where(s.submissions.c.submission_id == "sub-1")).one()
    assert (row.run_id, row.returned_at, row.status) == (3, None, "returned")


def test_a_stamp_without_update_columns_is_refused(store_engine):
    with store_engine.begin() as conn, pytest.raises(ValueError, match="needs update columns"):
        upsert(conn, s.submissions, [], stamp=["run_id"])


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


EVENT_FIELDS = tuple(event("x", "a"))  # the columns, in the order the tuples below carry them


def as_tuples(rows):
    return [tuple(r[f] for f in EVENT_FIELDS) for r in rows]


def raw_events(conn):
    return conn.exec_driver_sql(
        "SELECT source_id, class_id, community_id, tool, kind, actor_key, target_key, object_id, occurred_at, run_id"
        " FROM activity_events ORDER BY source_id"
    ).all()


def test_tuple_rows_are_stored_byte_for_byte_as_upsert_stores_the_same_rows_as_dicts(database_url, tmp_path):
    from store.db import make_engine, upgrade
    from store.upsert import insert_new

    rows = [
        {
            **event(f"teams:msg:{i}", f"actor-{i}", target=None if i % 2 else "t", at=T0 + timedelta(microseconds=i)),
            "object_id": "thread-1" if i % 3 else None,
            "run_id": i % 4 or None,
        }
        for i in range(50)
    ]
    if database_url.startswith("sqlite"):
        urls = [f"sqlite:///{tmp_path / 'dicts.sqlite3'}", f"sqlite:///{tmp_path / 'tuples.sqlite3'}"]
    else:  # one PostgreSQL database: the two writes go one after the other into a cleared table
        urls = [database_url, database_url]
    stored = []
    for url, write in zip(
        urls,
        (
            lambda conn: upsert(conn, s.activity_events, rows),
            lambda conn: insert_new(conn, s.activity_events, EVENT_FIELDS, as_tuples(rows)),
        ),
        strict=True,
    ):
        engine = make_engine(url)
        upgrade(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM activity_events")
            assert write(conn) == 50
            stored.append(raw_events(conn))
        engine.dispose()
    assert stored[0] == stored[1]
    assert len(stored[1]) == 50


def test_tuple_rows_count_only_new_events_and_keep_the_first_version_on_a_repeat(store_engine):
    from store.upsert import insert_new

    first = as_tuples([event(f"teams:msg:{i}", "a") for i in range(0, 60)])
    second = as_tuples([event(f"teams:msg:{i}", "b", at=T0 + timedelta(hours=1)) for i in range(40, 100)])
    with store_engine.begin() as conn:
        assert insert_new(conn, s.activity_events, EVENT_FIELDS, first) == 60
        assert insert_new(conn, s.activity_events, EVENT_FIELDS, second) == 40
        assert insert_new(conn, s.activity_events, EVENT_FIELDS, second) == 0
        rows = {r.source_id: r for r in conn.execute(select(s.activity_events))}
    assert len(rows) == 100
    assert rows["teams:msg:45"].actor_key == "a"  # stored by the first page, not changed by the second
    assert rows["teams:msg:45"].occurred_at.replace(tzinfo=T0.tzinfo) == T0
    assert rows["teams:msg:75"].actor_key == "b"


def test_tuple_rows_that_repeat_a_key_in_one_batch_store_its_last_version_as_upsert_does(store_engine):
    from store.upsert import insert_new

    batch = as_tuples([event("teams:msg:1", "a"), event("teams:msg:2", "a"), event("teams:msg:1", "b")])
    with store_engine.begin() as conn:
        assert insert_new(conn, s.activity_events, EVENT_FIELDS, batch) == 2
        actors = dict(conn.execute(select(s.activity_events.c.source_id, s.activity_events.c.actor_key)).all())
    assert actors == {"teams:msg:1": "b", "teams:msg:2": "a"}


def test_tuple_rows_in_any_field_order_that_leave_out_a_defaulted_column_get_its_default(store_engine):
    from store.upsert import insert_new

    fields = ("status", "class_id", "assignment_id", "form_id", "due_at")  # no has_forms_resource
    due = T0 + timedelta(days=2, microseconds=7)
    with store_engine.begin() as conn:
        assert insert_new(conn, s.assignments, fields, [("assigned", "class-1", "asg-1", None, due)]) == 1
        upsert(
            conn,
            s.assignments,
            [{"assignment_id": "asg-2", "class_id": "class-1", "form_id": None, "status": "assigned", "due_at": due}],
        )
        raw = conn.exec_driver_sql(
            "SELECT has_forms_resource, status, class_id, form_id, due_at FROM assignments ORDER BY assignment_id"
        ).all()
        row = conn.execute(select(s.assignments).where(s.assignments.c.assignment_id == "asg-1")).one()
    assert raw[0] == raw[1]  # the same stored values as upsert with dicts
    assert row.has_forms_resource is False
    assert (row.status, row.class_id, row.form_id) == ("assigned", "class-1", None)
    assert row.due_at.replace(tzinfo=T0.tzinfo) == due


def test_an_empty_batch_of_tuple_rows_writes_nothing(store_engine):
    from store.upsert import insert_new

    with store_engine.begin() as conn:
        assert insert_new(conn, s.activity_events, EVENT_FIELDS, []) == 0
        assert count(conn, s.activity_events) == 0


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.datetimes(),  # naive, years 1 to 9999, microsecond 0 included
        st.datetimes(timezones=st.just(UTC)),
        st.datetimes(timezones=st.timezones()),  # named zones: SQLAlchemy keeps the wall time, drops the offset
        st.datetimes(
            timezones=st.builds(timezone, st.timedeltas(min_value=-timedelta(hours=23), max_value=timedelta(hours=23)))
        ),
        st.dates(),
        st.none(),
    )
)
def test_the_tuple_path_turns_every_time_into_exactly_the_text_sqlalchemy_writes_on_sqlite(value):
    from sqlalchemy.dialects import sqlite

    from store.upsert import _sqlite_tuple_plan

    dialect = sqlite.dialect()
    theirs = s.activity_events.c.occurred_at.type.dialect_impl(dialect).bind_processor(dialect)
    _, parameters = _sqlite_tuple_plan(s.activity_events, (), (), EVENT_FIELDS)
    (row,) = parameters(as_tuples([event("teams:msg:1", "a", at=value)]))
    assert row[EVENT_FIELDS.index("occurred_at")] == theirs(value)
