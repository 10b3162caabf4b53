"""A tiny district built by hand for the measures tests: classes, students, events at local times."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pandas as pd

from measures.frames import ActivityFrames
from pli_pulse.school_calendar import SchoolCalendar

LA = ZoneInfo("America/Los_Angeles")
#: Mon 2026-10-19 .. Fri 2026-12-18; Veterans Day (Wed 11 Nov) and Thanksgiving (26-27 Nov) are holidays.
CALENDAR = SchoolCalendar(
    term_start=date(2026, 10, 19),
    term_end=date(2026, 12, 18),
    timezone="America/Los_Angeles",
    holidays=frozenset({date(2026, 11, 11), date(2026, 11, 26), date(2026, 11, 27)}),
)
AS_OF = date(2026, 12, 18)


def at(d: date, hour: int = 10, minute: int = 0) -> datetime:
    """A district-local wall time as an aware UTC datetime, as Graph would deliver it."""
    return datetime.combine(d, time(hour, minute), LA).astimezone(ZoneInfo("UTC"))


class World:
    def __init__(self) -> None:
        self.events: list[dict] = []
        self.enrollments: list[dict] = []
        self.submissions: list[dict] = []
        self.assignments: list[dict] = []
        self.classes: list[dict] = []
        self.members: list[dict] = []

    def klass(
        self,
        class_id: str,
        n_students: int,
        *,
        school: str = "school-1",
        pli: bool = True,
        community: str | None = "community-1",
        teacher: str | None = None,
    ) -> list[str]:
        self.classes.append({"class_id": class_id, "school_id": school, "is_pli": pli, "community_id": community})
        teacher = teacher or f"teacher-{class_id}"
        self.enrollments.append(
            {"class_id": class_id, "person_key": teacher, "role": "teacher", "joined_on": None, "left_on": None}
        )
        keys = [f"{class_id}-s{i}" for i in range(n_students)]
        for key in keys:
            self.enroll(class_id, key)
        return keys

    def enroll(self, class_id: str, key: str, joined_on: date | None = None, left_on: date | None = None) -> str:
        self.enrollments.append(
            {"class_id": class_id, "person_key": key, "role": "student", "joined_on": joined_on, "left_on": left_on}
        )
        return key

    def event(self, class_id, tool, kind, actor, when: datetime, target=None, object_id=None, community=None):
        self.events.append(
            {
                "class_id": class_id,
                "community_id": community,
                "tool": tool,
                "kind": kind,
                "actor_key": actor,
                "target_key": target,
                "object_id": object_id or f"obj-{len(self.events)}",
                "occurred_at": when,
            }
        )

    def act(self, class_id, kind, actor, target, when: datetime):
        self.event(class_id, "teams", kind, actor, when, target=target)

    def talk(self, community, teacher, when: datetime, kind="post"):
        self.event(None, "teams", kind, teacher, when, community=community)

    def member(self, community, teacher, role="teacher"):
        self.members.append({"community_id": community, "person_key": teacher, "role": role})

    def assignment(self, class_id, assignment_id, forms=False):
        self.assignments.append({"assignment_id": assignment_id, "class_id": class_id, "has_forms_resource": forms})

    def submission(self, class_id, assignment_id, student, submitted: datetime, returned: datetime | None = None):
        self.submissions.append(
            {
                "submission_id": f"sub-{len(self.submissions)}",
                "assignment_id": assignment_id,
                "class_id": class_id,
                "student_key": student,
                "submitted_at": submitted,
                "returned_at": returned,
            }
        )

    def frames(self) -> ActivityFrames:
        def df(rows, cols):
            return pd.DataFrame(rows, columns=cols)

        ev = df(self.events, ["class_id", "community_id", "tool", "kind", "actor_key", "target_key", "object_id",
                              "occurred_at"])  # fmt: skip
        ev["occurred_at"] = pd.to_datetime(ev["occurred_at"], utc=True)
        sub = df(self.submissions, ["submission_id", "assignment_id", "class_id", "student_key", "submitted_at",
                                    "returned_at"])  # fmt: skip
        sub["submitted_at"] = pd.to_datetime(sub["submitted_at"], utc=True)
        sub["returned_at"] = pd.to_datetime(sub["returned_at"], utc=True)
        return ActivityFrames(
            events=ev,
            enrollments=df(self.enrollments, ["class_id", "person_key", "role", "joined_on", "left_on"]),
            submissions=sub,
            assignments=df(self.assignments, ["assignment_id", "class_id", "has_forms_resource"]),
            classes=df(self.classes, ["class_id", "school_id", "is_pli", "community_id"]),
            community_members=df(self.members, ["community_id", "person_key", "role"]),
        )


def figures(world: World, period: str, scope: str = "class", scope_id: str = "A", min_n: int = 1, as_of=AS_OF):
    """{measure: Figure} of one scope in one period, computed from the world's frames."""
    from measures.periods import parse_period
    from measures.results import compute_results, figures_from_rows

    p = parse_period(period, CALENDAR, as_of)
    table = compute_results(world.frames(), CALENDAR, [p], as_of=as_of, min_n=min_n)
    rows = table[(table["scope"] == scope) & (table["scope_id"] == scope_id)]
    return figures_from_rows(rows)


def values(figs: dict) -> dict:
    """Shown values only, rounded for comparison with hand-computed numbers."""
    return {m: round(f.value, 6) for m, f in figs.items() if f.shown}


def store_world(engine, world: World, optins: dict[str, bool] | None = None) -> None:
    """Write a World into the store tables, as the ingest would (students keyed, teachers by AAD id)."""
    from datetime import UTC, datetime

    from store import schema
    from store.upsert import upsert

    now = datetime(2026, 12, 1, tzinfo=UTC)
    teachers = {e["person_key"] for e in world.enrollments if e["role"] == "teacher"}
    teachers |= {m["person_key"] for m in world.members}
    students = {e["person_key"] for e in world.enrollments if e["role"] == "student"} - teachers
    communities = {c["community_id"] for c in world.classes if c["community_id"]}
    communities |= {m["community_id"] for m in world.members}
    with engine.begin() as conn:
        upsert(
            conn, schema.schools, [{"school_id": s, "display_name": s} for s in {c["school_id"] for c in world.classes}]
        )
        upsert(
            conn,
            schema.classes,
            [{"class_id": c["class_id"], "school_id": c["school_id"], "display_name": c["class_id"],
              "is_pli": c["is_pli"]} for c in world.classes],
        )  # fmt: skip
        upsert(
            conn,
            schema.people,
            [{"person_key": t, "role": "teacher", "aad_object_id": t, "display_name": t} for t in teachers]
            + [{"person_key": s, "role": "student", "aad_object_id": None, "display_name": None} for s in students],
        )
        upsert(conn, schema.memberships, world.enrollments)
        upsert(conn, schema.communities, [{"community_id": c, "display_name": c} for c in communities])
        upsert(
            conn,
            schema.community_classes,
            [
                {"community_id": c["community_id"], "class_id": c["class_id"]}
                for c in world.classes
                if c["community_id"]
            ],
        )
        upsert(conn, schema.community_members, world.members)
        upsert(
            conn,
            schema.activity_events,
            [{"source_id": f"src-{i}", **e} for i, e in enumerate(world.events)],
        )
        upsert(conn, schema.assignments, world.assignments)
        upsert(conn, schema.submissions, world.submissions)
        for person, show in (optins or {}).items():
            for c in communities:
                upsert(conn, schema.teacher_optins, [{"person_key": person, "community_id": c,
                                                      "show_class_rows": show, "updated_at": now}])  # fmt: skip
