"""The roster keeps who is a teacher and who is a student, and drops students' personal details."""

import orjson

from graph_ingest.sources.roster import parse_classes, parse_members


def load(shared_dir, name):
    return orjson.loads((shared_dir / "fixtures" / "graph" / name).read_bytes())


def test_the_published_class_list_gives_ids_and_names(shared_dir):
    (cls,) = parse_classes(load(shared_dir, "education-classes-list.fixed.json"))
    assert (cls.class_id, cls.display_name, cls.external_id) == ("11019", "Health 1", "11019")


def test_members_are_split_by_role_and_students_lose_their_names(shared_dir):
    members = parse_members(load(shared_dir, "education-class-members.fixed.json"))
    teachers = [m for m in members if m.role == "teacher"]
    students = [m for m in members if m.role == "student"]
    assert teachers and students
    assert all(m.display_name for m in teachers)
    assert all(m.display_name is None for m in students)
    dumped = repr(students)
    assert "Address" not in dumped and "+1 (" not in dumped


def test_a_class_owner_counts_as_a_teacher_even_without_the_primary_role():
    doc = {"value": [{"id": "u1", "displayName": "Co Teacher", "primaryRole": "none"}]}
    (m,) = parse_members(doc, teacher_ids={"u1"})
    assert m.role == "teacher" and m.display_name == "Co Teacher"
