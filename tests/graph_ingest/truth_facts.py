"""The facts the ingest must reproduce, read two ways: from the store, and from the simulator's truth.

Both sides are reduced to the same plain shapes (sets and dicts of strings), with the truth's student
ids pseudonymised with the deployment key, so a test can compare them with ``==``.
"""

from __future__ import annotations

from collections import Counter
from zoneinfo import ZoneInfo

from sqlalchemy import select

from pli_pulse.pseudonym import Pseudonymizer
from store import schema as s

TOOL_OF_KIND = {
    "post": "teams",
    "reply": "teams",
    "reaction": "teams",
    "mention": "teams",
    "submission": "assignments",
    "form_response": "forms",
    "notebook_edit": "onenote",
    "collab_edit": "onenote",
}


def store_facts(engine, timezone: str) -> dict:
    zone = ZoneInfo(timezone)
    with engine.connect() as conn:
        enrolled: dict[str, set[str]] = {}
        for r in conn.execute(select(s.memberships).where(s.memberships.c.role == "student")):
            enrolled.setdefault(r.class_id, set()).add(r.person_key)
        tool_dates: dict[tuple[str, str, str], set[str]] = {}
        edges: Counter = Counter()
        students = {k for keys in enrolled.values() for k in keys}
        rows = conn.execute(
            select(
                s.activity_events.c.class_id,
                s.activity_events.c.kind,
                s.activity_events.c.actor_key,
                s.activity_events.c.target_key,
                s.activity_events.c.occurred_at,
            ).where(s.activity_events.c.class_id.is_not(None))
        )
        for r in rows:
            when = r.occurred_at
            if when.tzinfo is None:  # SQLite returns naive UTC
                from datetime import UTC

                when = when.replace(tzinfo=UTC)
            tool = TOOL_OF_KIND.get(r.kind)
            if tool and r.actor_key in students:
                tool_dates.setdefault((r.class_id, r.actor_key, tool), set()).add(
                    when.astimezone(zone).date().isoformat()
                )
            if r.kind in {"reply", "reaction", "mention"} and r.target_key and r.target_key != r.actor_key:
                edges[(r.class_id, r.actor_key, r.target_key, r.kind)] += 1
        subs = {
            r.submission_id: (r.student_key, _iso(r.submitted_at), _iso(r.returned_at))
            for r in conn.execute(select(s.submissions))
            if r.submitted_at is not None or r.returned_at is not None
        }
    return {"enrolled": enrolled, "tool_dates": tool_dates, "edges": dict(edges), "submissions": subs}


def _iso(ts) -> str | None:
    if ts is None:
        return None
    from datetime import UTC

    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def truth_facts(truth: dict, pseudonymizer: Pseudonymizer, teachers: set[str]) -> dict:
    def key(aad: str) -> str:
        return aad.lower() if aad.lower() in teachers else pseudonymizer.student(aad)

    enrolled = {cid: {key(sid) for sid in c["students"]} for cid, c in truth["classes"].items()}
    tool_dates = {}
    for cid, per_student in truth["tool_dates"].items():
        for sid, per_tool in per_student.items():
            for tool, dates in per_tool.items():
                if dates:
                    tool_dates[(cid, key(sid), tool)] = set(dates)
    edges = {}
    for cid, items in truth["edges"].items():
        for e in items:
            edges[(cid, key(e["source"]), key(e["target"]), e["kind"])] = e["count"]
    subs = {
        sid: (key(x["student_id"]), x["submitted_at"], x["returned_at"])
        for sid, x in truth["submissions"].items()
        if x["submitted_at"] or x["returned_at"]
    }
    return {"enrolled": enrolled, "tool_dates": tool_dates, "edges": edges, "submissions": subs}


def differences(ours: dict, truth: dict, limit: int = 5) -> dict:
    """A short, readable account of where two fact sets differ (empty when equal)."""
    out = {}
    for name in truth:
        a, b = ours[name], truth[name]
        if a == b:
            continue
        if isinstance(a, dict):
            missing = [k for k in b if k not in a][:limit]
            extra = [k for k in a if k not in b][:limit]
            changed = [(k, a[k], b[k]) for k in b if k in a and a[k] != b[k]][:limit]
            out[name] = {"missing": missing, "extra": extra, "changed": changed, "sizes": (len(a), len(b))}
    return out


def attributable_onenote(district, class_activity, pseudonymizer: Pseudonymizer, timezone: str) -> dict:
    """OneNote dates Graph can vouch for: every edit in a student's own section group, and in the
    Collaboration Space only each section's latest edit (pages carry no author; sections carry only
    their last editor). The rest of the Collaboration Space history is unknowable through Graph."""
    zone = ZoneInfo(timezone)
    out: dict[tuple[str, str, str], set[str]] = {}
    for class_id in district.classes:
        activity = class_activity(district, class_id)
        latest = {}
        for e in activity.notebook_edits:
            if e.space == "collaboration" and (
                e.section_id not in latest or e.edited_at > latest[e.section_id].edited_at
            ):
                latest[e.section_id] = e
        keep = [e for e in activity.notebook_edits if e.space == "student"] + list(latest.values())
        for e in keep:
            if district.people[e.user_id].role != "student":
                continue
            key = (class_id, pseudonymizer.student(e.user_id), "onenote")
            out.setdefault(key, set()).add(e.edited_at.astimezone(zone).date().isoformat())
    return out
