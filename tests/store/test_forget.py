"""`forget` removes every row that belongs to a person, and only theirs, on both backends."""

from datetime import UTC, datetime

from sqlalchemy import func, select

from pli_pulse.pseudonym import Pseudonymizer
from store import schema as s
from store.forget import forget_person
from store.upsert import upsert
from tests.store.helpers import T0, event, member, person, seed_class

P = Pseudonymizer(b"k" * 32)
STUDENT_AAD = "11111111-1111-1111-1111-111111111111"
OTHER_AAD = "22222222-2222-2222-2222-222222222222"
TEACHER_AAD = "33333333-3333-3333-3333-333333333333"


def populate(conn):
    seed_class(conn)
    stu, other = P.student(STUDENT_AAD), P.student(OTHER_AAD)
    person(conn, stu, "student")
    person(conn, other, "student")
    person(conn, TEACHER_AAD, "teacher", aad=TEACHER_AAD, name="Ms. Rivera")
    upsert(conn, s.memberships, [member("class-1", stu, "student"), member("class-1", other, "student")])
    upsert(conn, s.memberships, [member("class-1", TEACHER_AAD, "teacher")])
    upsert(
        conn,
        s.activity_events,
        [
            event("e1", stu),
            event("e2", other, target=stu),  # someone else's act aimed at the student
            event("e3", other, target=TEACHER_AAD),
            event("e4", TEACHER_AAD, target=other),
        ],
    )
    conn.execute(
        s.submissions.insert().values(
            submission_id="sub-1", assignment_id="a", class_id="class-1", student_key=stu, submitted_at=T0
        )
    )
    conn.execute(s.communities.insert().values(community_id="com-1", display_name="Bio AC"))
    conn.execute(s.community_members.insert().values(community_id="com-1", person_key=TEACHER_AAD, role="teacher"))
    now = datetime.now(UTC)
    conn.execute(
        s.teacher_optins.insert().values(
            person_key=TEACHER_AAD, community_id="com-1", show_class_rows=True, updated_at=now
        )
    )
    conn.execute(
        s.exemplars.insert().values(
            exemplar_id="ex-1",
            title="Think-pair-share with Forms",
            summary="s",
            subject="Science",
            grade_band="9-12",
            practice="formative assessment",
            why_it_works="w",
            url="https://example.org/x",
            author_key=TEACHER_AAD,
            created_at=now,
        )
    )
    conn.execute(s.exemplar_votes.insert().values(exemplar_id="ex-1", person_key=TEACHER_AAD, voted_at=now))
    conn.execute(
        s.measure_results.insert().values(
            scope="teacher",
            scope_id=TEACHER_AAD,
            period="2026-W47",
            figures='{"community_activity": [1.0, 1, null]}',
            computed_at=now,
        )
    )


def rows_mentioning(conn, key):
    """Every row in the store whose person-shaped columns hold ``key``."""
    found = 0
    for table in s.metadata.sorted_tables:
        cols = [
            c
            for c in table.c
            if c.name
            in {"person_key", "actor_key", "target_key", "student_key", "author_key", "aad_object_id", "scope_id"}
        ]
        for col in cols:
            found += conn.execute(select(func.count()).select_from(table).where(col == key)).scalar_one()
    return found


def test_forgetting_a_student_removes_every_row_about_them_and_nothing_else(store_engine):
    with store_engine.begin() as conn:
        populate(conn)
    report = forget_person(store_engine, STUDENT_AAD, P)
    with store_engine.connect() as conn:
        assert rows_mentioning(conn, P.student(STUDENT_AAD)) == 0
        assert rows_mentioning(conn, P.student(OTHER_AAD)) > 0
        remaining = conn.execute(select(s.activity_events.c.source_id)).scalars().all()
    assert sorted(remaining) == ["e3", "e4"]
    assert report.matched_role == "student"
    assert report.removed["activity_events"] == 2
    assert report.removed["submissions"] == 1
    assert report.removed["memberships"] == 1
    assert report.removed["people"] == 1


def test_forgetting_a_teacher_removes_their_rows_and_unlinks_their_exemplars(store_engine):
    with store_engine.begin() as conn:
        populate(conn)
    report = forget_person(store_engine, TEACHER_AAD, P)
    with store_engine.connect() as conn:
        assert rows_mentioning(conn, TEACHER_AAD) == 0
        assert conn.execute(select(s.exemplars.c.author_key)).scalar_one() is None
    assert report.matched_role == "teacher"
    assert report.removed["teacher_optins"] == 1
    assert report.removed["community_members"] == 1
    assert report.removed["measure_results"] == 1
    assert report.removed["exemplar_votes"] == 1


def test_forgetting_an_unknown_person_removes_nothing_and_says_so(store_engine):
    with store_engine.begin() as conn:
        populate(conn)
    report = forget_person(store_engine, "99999999-9999-9999-9999-999999999999", P)
    assert report.matched_role is None
    assert report.total == 0
