"""Ground truth of a simulated district, read straight off the generator's own events.

Why it exists: the product's ingest and measures must reproduce these facts from what the Graph stand-in
serves. So this module shares NOTHING with ``graph_ingest`` or ``measures`` (nor with
``pli_pulse.school_calendar``): it converts timestamps with ``zoneinfo`` itself and counts from the
``simulator.model`` objects only.

Format (JSON object; keys are stable; ids are Graph ids; dates are district-local ``YYYY-MM-DD`` in the
calendar's time zone, America/Los_Angeles; timestamps are UTC ``YYYY-MM-DDTHH:MM:SSZ``):

- ``meta``: ``seed``, ``scale``, ``tenant_id``, ``timezone``, ``term_start``, ``term_end``, ``school_weekdays``
  (ISO weekday numbers), ``holidays`` and ``school_days`` (sorted date lists).
- ``classes``: class id -> ``display_name``, ``school_id``, ``is_pli``, ``cohort`` (null if not PLI),
  ``community_id`` (the accountable community whose ``class_ids`` hold the class, else null), ``teacher_ids``,
  ``period``, ``students``: student id -> ``joined_on`` date.
- ``tool_dates``: class id -> student id (every enrolled student) -> ``teams`` / ``assignments`` / ``forms`` /
  ``onenote`` -> sorted dates with at least one event of that tool by the student: ``teams`` = the student
  posted or replied (mentions are made inside those) or reacted in a channel of the class team;
  ``assignments`` = the student submitted; ``forms`` = a Forms response attributed to the class;
  ``onenote`` = a class-notebook edit in the student's section group or the Collaboration Space.
- ``fa_dates``: class id -> student id (every enrolled student) -> sorted dates with a formative-assessment
  event (PRODUCT.md §4): a Forms response; a submission to an assignment with a Forms resource; a
  submission whose feedback or points were returned. CHOICE: a submission counts on the date the STUDENT
  submitted it; the return date is the teacher's act, so it is not an FA date of the student (it shows up
  in ``submissions.returned_at`` for ``feedback_turnaround``).
- ``edges``: class id -> list of ``{"source", "target", "kind", "count"}`` sorted by (source, target, kind),
  ``kind`` in ``reply`` (source replied in a thread target started), ``reaction`` (source reacted to a
  post or reply by target), ``mention`` (a message by source @mentions target). Whole term; teachers are
  nodes too; self-ties are left out. ``days`` breaks ``count`` down by district-local date
  (``{"2026-11-17": 2, ...}``), so period measures of the network can be computed from the truth too.
- ``posters``: class id -> student id -> sorted dates the student posted or replied in a class channel
  (students who never did are absent).
- ``onenote_collab``: class id -> student id -> sorted dates the student edited the Collaboration Space.
- ``community_days``: community id -> teacher id (each of the community's ``teacher_ids``, the coach
  excluded) -> sorted school days on which the teacher posted or replied in the community channel.
- ``submissions``: submission id -> ``class_id``, ``assignment_id``, ``student_id``, ``submitted_at`` and
  ``returned_at`` (null if none: never submitted / never returned), ``assignment_has_form``.

``write_truth`` streams the per-class sections through temporary files, so a 3,000-class district never
holds more than one class's events in memory; ``compute_truth`` builds the same object in memory (fine for
the small scale).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from simulator.generate import community_activity, iter_class_activity, school_days
from simulator.model import ClassActivity, CommunityActivity, District

TOOLS = ("teams", "assignments", "forms", "onenote")
CLASS_SECTIONS = ("tool_dates", "fa_dates", "edges", "posters", "onenote_collab")


def compute_truth(district: District) -> dict[str, Any]:
    truth: dict[str, Any] = {"meta": truth_meta(district), "classes": truth_classes(district)}
    sections: dict[str, dict[str, Any]] = {s: {} for s in CLASS_SECTIONS}
    submissions: dict[str, Any] = {}
    for activity in iter_class_activity(district):
        pieces = class_truth(district, activity)
        for s in CLASS_SECTIONS:
            sections[s][activity.class_id] = pieces[s]
        submissions.update(pieces["submissions"])
    truth.update(sections)
    truth["community_days"] = _all_community_days(district)
    truth["submissions"] = submissions
    return truth


def write_truth(district: District, path: str | Path) -> None:
    """Write the truth JSON class by class (bounded memory), then move it into place in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".truth-") as tmp:
        parts = {s: open(os.path.join(tmp, s), "w+b") for s in (*CLASS_SECTIONS, "submissions")}  # noqa: SIM115
        try:
            first = True
            for activity in iter_class_activity(district):
                pieces = class_truth(district, activity)
                sep = b"" if first else b","
                key = orjson.dumps(activity.class_id)
                for s in CLASS_SECTIONS:
                    parts[s].write(sep + key + b":" + orjson.dumps(pieces[s]))
                subs = pieces["submissions"]
                if subs:
                    out = parts["submissions"]
                    body = orjson.dumps(subs)[1:-1]
                    out.write((b"," if out.tell() else b"") + body)
                first = False
            staged = Path(tmp) / "truth.json"
            with open(staged, "wb") as out:
                out.write(b'{"meta":' + orjson.dumps(truth_meta(district)))
                out.write(b',"classes":' + orjson.dumps(truth_classes(district)))
                for s in CLASS_SECTIONS:
                    out.write(b',"' + s.encode() + b'":{')
                    parts[s].seek(0)
                    shutil.copyfileobj(parts[s], out)
                    out.write(b"}")
                out.write(b',"community_days":' + orjson.dumps(_all_community_days(district)))
                out.write(b',"submissions":{')
                parts["submissions"].seek(0)
                shutil.copyfileobj(parts["submissions"], out)
                out.write(b"}}")
        finally:
            for f in parts.values():
                f.close()
        os.replace(staged, path)


def truth_meta(district: District) -> dict[str, Any]:
    cal = district.calendar
    return {
        "seed": district.seed,
        "scale": district.scale,
        "tenant_id": district.tenant_id,
        "timezone": cal.timezone,
        "term_start": cal.term_start.isoformat(),
        "term_end": cal.term_end.isoformat(),
        "school_weekdays": list(cal.weekdays),
        "holidays": sorted(d.isoformat() for d in cal.holidays),
        "school_days": [d.isoformat() for d in school_days(cal)],
    }


def truth_classes(district: District) -> dict[str, Any]:
    community_of = {c: com.id for com in district.communities.values() for c in com.class_ids}
    out = {}
    for cls in district.classes.values():
        out[cls.id] = {
            "display_name": cls.display_name,
            "school_id": cls.school_id,
            "is_pli": cls.is_pli,
            "cohort": cls.cohort,
            "community_id": community_of.get(cls.id),
            "teacher_ids": list(cls.teacher_ids),
            "period": cls.period,
            "students": {
                e.user_id: e.joined_on.isoformat() for e in district.enrollments[cls.id] if e.role == "student"
            },
        }
    return out


class _LocalDates:
    """UTC timestamp -> district-local ISO date, sharing one string per date to keep big truths small."""

    def __init__(self, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)
        self.strings: dict[str, str] = {}

    def __call__(self, ts: datetime) -> str:
        if ts.tzinfo is None:
            raise ValueError("the simulator produced a naive timestamp")
        s = ts.astimezone(self.zone).date().isoformat()
        return self.strings.setdefault(s, s)


def _utc(ts: datetime | None) -> str | None:
    return None if ts is None else ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def class_truth(district: District, activity: ClassActivity) -> dict[str, Any]:
    """The truth sections for one class, from its generated events."""
    local = _LocalDates(district.calendar.timezone)
    students = [e.user_id for e in district.enrollments[activity.class_id] if e.role == "student"]
    enrolled = set(students)
    tools: dict[str, dict[str, set[str]]] = {s: {t: set() for t in TOOLS} for s in students}
    fa: dict[str, set[str]] = {s: set() for s in students}
    posters: dict[str, set[str]] = {}
    collab: dict[str, set[str]] = {}
    edges: Counter[tuple[str, str, str]] = Counter()
    edge_days: dict[tuple[str, str, str], Counter[str]] = {}

    def tie(source: str, target: str, kind: str, day: str) -> None:
        edges[(source, target, kind)] += 1
        edge_days.setdefault((source, target, kind), Counter())[day] += 1

    authors = {(m.channel_id, m.id): m.author_id for m in activity.messages}
    for m in activity.messages:
        day = local(m.created_at)
        if m.author_id in enrolled:
            tools[m.author_id]["teams"].add(day)
            posters.setdefault(m.author_id, set()).add(day)
        if m.reply_to_id is not None:
            starter = authors[(m.channel_id, m.reply_to_id)]
            if starter != m.author_id:
                tie(m.author_id, starter, "reply", day)
        for r in m.reactions:
            if r.user_id in enrolled:
                tools[r.user_id]["teams"].add(local(r.created_at))
            if r.user_id != m.author_id:
                tie(r.user_id, m.author_id, "reaction", local(r.created_at))
        for target in set(m.mention_ids):
            if target != m.author_id:
                tie(m.author_id, target, "mention", day)

    has_form = {a.id: a.form_id is not None for a in activity.assignments}
    submissions: dict[str, Any] = {}
    for s in activity.submissions:
        submissions[s.id] = {
            "class_id": s.class_id,
            "assignment_id": s.assignment_id,
            "student_id": s.student_id,
            "submitted_at": _utc(s.submitted_at),
            "returned_at": _utc(s.returned_at),
            "assignment_has_form": has_form[s.assignment_id],
        }
        if s.submitted_at is not None and s.student_id in enrolled:
            day = local(s.submitted_at)
            tools[s.student_id]["assignments"].add(day)
            if has_form[s.assignment_id] or s.returned_at is not None:
                fa[s.student_id].add(day)
    for f in activity.form_responses:
        if f.user_id in enrolled:
            day = local(f.responded_at)
            tools[f.user_id]["forms"].add(day)
            fa[f.user_id].add(day)
    for e in activity.notebook_edits:
        if e.user_id in enrolled:
            day = local(e.edited_at)
            tools[e.user_id]["onenote"].add(day)
            if e.space == "collaboration":
                collab.setdefault(e.user_id, set()).add(day)

    return {
        "tool_dates": {s: {t: sorted(tools[s][t]) for t in TOOLS} for s in students},
        "fa_dates": {s: sorted(fa[s]) for s in students},
        "edges": [
            {"source": u, "target": v, "kind": k, "count": n, "days": dict(sorted(edge_days[(u, v, k)].items()))}
            for (u, v, k), n in sorted(edges.items(), key=lambda x: x[0])
        ],
        "posters": {s: sorted(posters[s]) for s in students if s in posters},
        "onenote_collab": {s: sorted(collab[s]) for s in students if s in collab},
        "submissions": submissions,
    }


def community_truth(district: District, activity: CommunityActivity) -> dict[str, list[str]]:
    """Per community teacher, the school days they posted or replied in the community channel."""
    local = _LocalDates(district.calendar.timezone)
    com = district.communities[activity.community_id]
    days: dict[str, set[str]] = {t: set() for t in com.teacher_ids}
    for m in activity.messages:
        if m.author_id in days:
            days[m.author_id].add(local(m.created_at))
    return {t: sorted(d) for t, d in days.items()}


def _all_community_days(district: District) -> dict[str, dict[str, list[str]]]:
    return {cid: community_truth(district, community_activity(district, cid)) for cid in district.communities}
