"""Small builders for store rows, shared by the store tests."""

from datetime import UTC, date, datetime

from store import schema as s

T0 = datetime(2026, 11, 16, 17, 5, tzinfo=UTC)


def seed_class(conn, class_id="class-1", school_id="school-1"):
    conn.execute(s.schools.insert().values(school_id=school_id, display_name="Roosevelt High"))
    conn.execute(
        s.classes.insert().values(class_id=class_id, school_id=school_id, display_name="Biology 2", is_pli=True)
    )


def person(conn, key, role, aad=None, name=None):
    conn.execute(s.people.insert().values(person_key=key, role=role, aad_object_id=aad, display_name=name))


def event(source_id, actor, *, target=None, class_id="class-1", tool="teams", kind="reply", at=T0):
    return {
        "source_id": source_id,
        "class_id": class_id,
        "community_id": None,
        "tool": tool,
        "kind": kind,
        "actor_key": actor,
        "target_key": target,
        "object_id": None,
        "occurred_at": at,
        "run_id": None,
    }


def member(class_id, key, role):
    return {"class_id": class_id, "person_key": key, "role": role, "joined_on": date(2026, 8, 17), "left_on": None}
