"""Measures input frames rebuilt from the simulator's ground truth (``pli-pulse simulate truth``) alone.

The truth keeps facts at the grain the measures need (dates per student and tool, dated ties, submission
times), not every message. So each fact becomes the smallest set of events that carries it, at noon
district time on its date:
- a date in ``posters``: one ``post``; a dated tie: ``count`` events of its kind from source to target;
  a Teams date covered by neither (a reaction to one's own message): one self-``reaction``;
- ``forms`` dates: one ``form_response``; ``onenote`` dates: a ``collab_edit`` on Collaboration Space days,
  else a ``notebook_edit``;
- submissions: the submission table as it is, plus ``submission``/``feedback_returned`` events;
- ``community_days``: one ``post`` per teacher and day in the community.
Student ids are pseudonymised with the deployment key, as the ingest does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pandas as pd

from measures.frames import ActivityFrames
from pli_pulse.pseudonym import Pseudonymizer


def frames_from_truth(truth: dict, pseudonymizer: Pseudonymizer) -> ActivityFrames:
    zone = ZoneInfo(truth["meta"]["timezone"])
    teachers = {t.lower() for c in truth["classes"].values() for t in c["teacher_ids"]}
    teachers |= {t.lower() for days in truth["community_days"].values() for t in days}

    def key(aad: str) -> str:
        return aad.lower() if aad.lower() in teachers else pseudonymizer.student(aad)

    def noon(day: str) -> datetime:
        return datetime.combine(date.fromisoformat(day), time(12), zone).astimezone(UTC)

    events: list[dict] = []

    def add(class_id, tool, kind, actor, day, target=None, community_id=None, object_id=None):
        events.append(
            {
                "class_id": class_id,
                "community_id": community_id,
                "tool": tool,
                "kind": kind,
                "actor_key": actor,
                "target_key": target,
                "object_id": object_id,
                "occurred_at": noon(day),
            }
        )

    for class_id, per_student in truth["tool_dates"].items():
        posters = truth["posters"].get(class_id, {})
        collab = truth["onenote_collab"].get(class_id, {})
        tie_days: dict[str, set[str]] = {}
        for edge in truth["edges"].get(class_id, ()):
            for day, n in edge["days"].items():
                for i in range(n):  # distinct acts need distinct objects, or they read as one duplicated row
                    add(
                        class_id,
                        "teams",
                        edge["kind"],
                        key(edge["source"]),
                        day,
                        key(edge["target"]),
                        None,
                        f"{day}#{i}",
                    )
                tie_days.setdefault(edge["source"], set()).add(day)
        for sid, tools in per_student.items():
            k = key(sid)
            for day in posters.get(sid, ()):
                add(class_id, "teams", "post", k, day)
            for day in set(tools["teams"]) - set(posters.get(sid, ())) - tie_days.get(sid, set()):
                add(class_id, "teams", "reaction", k, day, k)
            for day in tools["forms"]:
                add(class_id, "forms", "form_response", k, day)
            for day in tools["onenote"]:
                add(class_id, "onenote", "collab_edit" if day in collab.get(sid, ()) else "notebook_edit", k, day)

    subs, assignments = [], {}
    first_teacher = {cid: key(c["teacher_ids"][0]) for cid, c in truth["classes"].items() if c["teacher_ids"]}
    for sub_id, x in truth["submissions"].items():
        student = key(x["student_id"])
        submitted = datetime.fromisoformat(x["submitted_at"]) if x["submitted_at"] else None
        returned = datetime.fromisoformat(x["returned_at"]) if x["returned_at"] else None
        subs.append(
            {
                "submission_id": sub_id,
                "assignment_id": x["assignment_id"],
                "class_id": x["class_id"],
                "student_key": student,
                "submitted_at": submitted,
                "returned_at": returned,
            }
        )
        assignments[x["assignment_id"]] = {
            "assignment_id": x["assignment_id"],
            "class_id": x["class_id"],
            "has_forms_resource": bool(x["assignment_has_form"]),
        }
        for kind, when in (("submission", submitted), ("feedback_returned", returned)):
            if when is not None:
                events.append(
                    {
                        "class_id": x["class_id"],
                        "community_id": None,
                        "tool": "assignments",
                        "kind": kind,
                        # feedback is the teacher's act towards the student; the truth does not say which
                        # teacher returned it, so the class's first teacher stands in
                        "actor_key": first_teacher[x["class_id"]] if kind == "feedback_returned" else student,
                        "target_key": student if kind == "feedback_returned" else None,
                        "object_id": x["assignment_id"],
                        "occurred_at": when,
                    }
                )
    for community_id, per_teacher in truth["community_days"].items():
        for teacher, days in per_teacher.items():
            for day in days:
                add(None, "teams", "post", key(teacher), day, community_id=community_id)

    enrollments = []
    for class_id, c in truth["classes"].items():
        for sid, joined in c["students"].items():
            enrollments.append(
                {"class_id": class_id, "person_key": key(sid), "role": "student",
                 "joined_on": date.fromisoformat(joined), "left_on": None}
            )  # fmt: skip
        for t in c["teacher_ids"]:
            enrollments.append(
                {"class_id": class_id, "person_key": key(t), "role": "teacher", "joined_on": None, "left_on": None}
            )
    classes = pd.DataFrame(
        [
            {"class_id": cid, "school_id": c["school_id"], "is_pli": c["is_pli"], "community_id": c["community_id"]}
            for cid, c in truth["classes"].items()
        ]
    )
    members = pd.DataFrame(
        [
            {"community_id": cid, "person_key": key(t), "role": "teacher"}
            for cid, per in truth["community_days"].items()
            for t in per
        ]
    )
    return ActivityFrames(
        events=pd.DataFrame(events),
        enrollments=pd.DataFrame(enrollments),
        submissions=pd.DataFrame(subs),
        assignments=pd.DataFrame(list(assignments.values())),
        classes=classes,
        community_members=members,
    ).normalised()
