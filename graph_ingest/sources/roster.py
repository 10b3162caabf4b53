"""Education roster: classes, their members and teachers, schools.

Only what the measures need is kept: class ids and names, school membership, who is a teacher and who
is a student. Student names, addresses, phone numbers and birth dates are dropped here; a student
leaves this module as an AAD id that the caller pseudonymises before writing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClassInfo:
    class_id: str
    display_name: str
    grade: str | None
    subject: str | None
    external_id: str | None


@dataclass(frozen=True, slots=True)
class Member:
    aad_id: str
    role: str  # student | teacher
    display_name: str | None  # kept for teachers only
    upn: str | None


@dataclass(frozen=True, slots=True)
class SchoolInfo:
    school_id: str
    display_name: str
    external_id: str | None


def parse_classes(doc: dict) -> list[ClassInfo]:
    out = []
    for c in doc.get("value", ()):
        course = c.get("course") or {}
        out.append(
            ClassInfo(
                class_id=c["id"],
                display_name=c.get("displayName") or c["id"],
                grade=c.get("grade"),
                subject=course.get("subject") or None,
                external_id=c.get("externalId"),
            )
        )
    return out


def parse_members(doc: dict, *, teacher_ids: set[str] | None = None) -> list[Member]:
    """Members of a class. A member is a teacher if Graph's primaryRole says so or the class lists them
    as a teacher (group owners); everyone else counts as a student."""
    teacher_ids = teacher_ids or set()
    out = []
    for u in doc.get("value", ()):
        uid = u["id"]
        is_teacher = u.get("primaryRole") == "teacher" or uid in teacher_ids
        out.append(
            Member(
                aad_id=uid,
                role="teacher" if is_teacher else "student",
                display_name=u.get("displayName") if is_teacher else None,
                upn=u.get("userPrincipalName") or u.get("mail"),
            )
        )
    return out


def parse_ids(doc: dict) -> list[str]:
    return [x["id"] for x in doc.get("value", ())]


def parse_schools(doc: dict) -> list[SchoolInfo]:
    return [SchoolInfo(s["id"], s.get("displayName") or s["id"], s.get("externalId")) for s in doc.get("value", ())]
