"""The ground truth says exactly what happened in the generated events, recounted here independently."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from simulator.generate import class_activity, community_activity, generate_district
from simulator.model import ClassActivity, District
from simulator.truth import compute_truth, write_truth

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture(scope="module")
def district() -> District:
    return generate_district(21, "small")


@pytest.fixture(scope="module")
def truth(district: District) -> dict:
    return compute_truth(district)


def day(ts: datetime) -> str:
    return ts.astimezone(LA).strftime("%Y-%m-%d")


def sample_classes(district: District) -> list[str]:
    """A PLI class, a non-PLI class and the smallest class."""
    classes = list(district.classes.values())
    smallest = min(classes, key=lambda c: len(district.enrollments[c.id]))
    pli = next(c for c in classes if c.is_pli and c.id != smallest.id)
    non = next(c for c in classes if not c.is_pli and c.id != smallest.id)
    return [pli.id, non.id, smallest.id]


def test_written_truth_is_the_computed_truth_as_json(district: District, truth: dict, tmp_path) -> None:
    path = tmp_path / "out" / "truth.json"
    write_truth(district, path)
    assert json.loads(path.read_text()) == truth
    assert [p.name for p in path.parent.iterdir()] == ["truth.json"]  # no temporary files left behind


def test_truth_has_stable_top_level_keys_and_the_calendar(district: District, truth: dict) -> None:
    assert list(truth) == [
        "meta",
        "classes",
        "tool_dates",
        "fa_dates",
        "edges",
        "posters",
        "onenote_collab",
        "community_days",
        "submissions",
    ]
    meta = truth["meta"]
    assert meta["seed"] == 21 and meta["scale"] == "small" and meta["tenant_id"] == district.tenant_id
    assert meta["timezone"] == "America/Los_Angeles"
    assert meta["term_start"] == "2026-10-26" and meta["term_end"] == "2026-12-04"
    assert "2026-11-26" in meta["holidays"] and "2026-11-26" not in meta["school_days"]
    assert len(meta["school_days"]) == 26
    assert all(date.fromisoformat(d).isoweekday() <= 5 for d in meta["school_days"])


def test_truth_classes_carry_pli_cohort_community_teachers_and_joining_dates(district: District, truth: dict) -> None:
    assert set(truth["classes"]) == set(district.classes)
    for com in district.communities.values():
        for cid in com.class_ids:
            assert truth["classes"][cid]["community_id"] == com.id
    for cid, c in truth["classes"].items():
        cls = district.classes[cid]
        assert c["is_pli"] == cls.is_pli and c["cohort"] == cls.cohort
        assert (c["community_id"] is None) == (not cls.is_pli)
        assert c["teacher_ids"] == list(cls.teacher_ids)
        joined = {e.user_id: e.joined_on.isoformat() for e in district.enrollments[cid] if e.role == "student"}
        assert c["students"] == joined


def recount(district: District, a: ClassActivity) -> dict:
    """What the truth should say for one class, counted again from the events without the truth module."""
    students = {e.user_id for e in district.enrollments[a.class_id] if e.role == "student"}
    tools = {s: {"teams": set(), "assignments": set(), "forms": set(), "onenote": set()} for s in students}
    fa = {s: set() for s in students}
    posters, collab = {}, {}
    edges = Counter()
    starter = {}
    for m in a.messages:  # messages come in created order, so a thread's post precedes its replies
        if m.reply_to_id is None:
            starter[(m.channel_id, m.id)] = m.author_id
    for m in a.messages:
        if m.author_id in students:
            tools[m.author_id]["teams"].add(day(m.created_at))
            posters.setdefault(m.author_id, set()).add(day(m.created_at))
        if m.reply_to_id and starter[(m.channel_id, m.reply_to_id)] != m.author_id:
            edges[m.author_id, starter[(m.channel_id, m.reply_to_id)], "reply"] += 1
        for r in m.reactions:
            if r.user_id in students:
                tools[r.user_id]["teams"].add(day(r.created_at))
            if r.user_id != m.author_id:
                edges[r.user_id, m.author_id, "reaction"] += 1
        for t in m.mention_ids:
            if t != m.author_id:
                edges[m.author_id, t, "mention"] += 1
    quiz = {x.id for x in a.assignments if x.form_id is not None}
    for s in a.submissions:
        if s.submitted_at is not None:
            tools[s.student_id]["assignments"].add(day(s.submitted_at))
            if s.assignment_id in quiz or s.returned_at is not None:
                fa[s.student_id].add(day(s.submitted_at))
    for f in a.form_responses:
        tools[f.user_id]["forms"].add(day(f.responded_at))
        fa[f.user_id].add(day(f.responded_at))
    for e in a.notebook_edits:
        if e.user_id in students:
            tools[e.user_id]["onenote"].add(day(e.edited_at))
            if e.space == "collaboration":
                collab.setdefault(e.user_id, set()).add(day(e.edited_at))
    return {
        "tool_dates": {s: {t: sorted(v) for t, v in per.items()} for s, per in tools.items()},
        "fa_dates": {s: sorted(v) for s, v in fa.items()},
        "posters": {s: sorted(v) for s, v in posters.items()},
        "onenote_collab": {s: sorted(v) for s, v in collab.items()},
        "edges": {(u, v, k): n for (u, v, k), n in edges.items()},
    }


def test_tool_dates_and_fa_dates_match_the_events_of_sample_classes(district: District, truth: dict) -> None:
    for cid in sample_classes(district):
        expected = recount(district, class_activity(district, cid))
        assert truth["tool_dates"][cid] == expected["tool_dates"]
        assert truth["fa_dates"][cid] == expected["fa_dates"]
        assert any(truth["fa_dates"][cid].values())


def test_edges_count_replies_reactions_and_mentions_without_self_ties(district: District, truth: dict) -> None:
    for cid in sample_classes(district):
        expected = recount(district, class_activity(district, cid))["edges"]
        got = {(e["source"], e["target"], e["kind"]): e["count"] for e in truth["edges"][cid]}
        assert got == expected
        assert all(e["source"] != e["target"] and e["count"] > 0 for e in truth["edges"][cid])
        teachers = set(district.classes[cid].teacher_ids)
        assert any(e["source"] in teachers or e["target"] in teachers for e in truth["edges"][cid])


def test_posters_and_collaboration_space_editors_match_the_events(district: District, truth: dict) -> None:
    for cid in sample_classes(district):
        expected = recount(district, class_activity(district, cid))
        assert truth["posters"][cid] == expected["posters"]
        assert truth["onenote_collab"][cid] == expected["onenote_collab"]
    assert any(truth["onenote_collab"].values())


def test_a_returned_submission_counts_for_fa_on_the_day_it_was_submitted(district: District, truth: dict) -> None:
    found = 0
    for sub_id, s in truth["submissions"].items():
        if s["returned_at"] and not s["assignment_has_form"]:
            submitted = datetime.strptime(s["submitted_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            returned = datetime.strptime(s["returned_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            assert returned > submitted, sub_id
            assert day(submitted) in truth["fa_dates"][s["class_id"]][s["student_id"]]
            found += 1
    assert found


def test_submissions_list_every_submission_with_utc_times_and_the_forms_flag(district: District, truth: dict) -> None:
    cid = sample_classes(district)[0]
    a = class_activity(district, cid)
    quiz = {x.id for x in a.assignments if x.form_id}
    for s in a.submissions:
        t = truth["submissions"][s.id]
        assert t["class_id"] == cid and t["assignment_id"] == s.assignment_id and t["student_id"] == s.student_id
        assert t["assignment_has_form"] == (s.assignment_id in quiz)
        expected = None if s.submitted_at is None else s.submitted_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert t["submitted_at"] == expected
    assert any(t["submitted_at"] is None for t in truth["submissions"].values())
    assert any(t["returned_at"] is None and t["submitted_at"] for t in truth["submissions"].values())


def test_every_truth_date_is_a_school_day_on_or_after_the_student_joined(truth: dict) -> None:
    school = set(truth["meta"]["school_days"])
    for cid, per_student in truth["tool_dates"].items():
        joined = truth["classes"][cid]["students"]
        assert set(per_student) == set(joined)
        for sid, tools in per_student.items():
            for dates in [*tools.values(), truth["fa_dates"][cid][sid]]:
                assert dates == sorted(dates)
                assert all(d in school and d >= joined[sid] for d in dates)


def test_community_days_are_the_school_days_each_teacher_posted_or_replied(district: District, truth: dict) -> None:
    school = set(truth["meta"]["school_days"])
    for com in district.communities.values():
        activity = community_activity(district, com.id)
        expected = {
            t: sorted({day(m.created_at) for m in activity.messages if m.author_id == t}) for t in com.teacher_ids
        }
        assert truth["community_days"][com.id] == expected
        assert com.coach_id not in truth["community_days"][com.id]
        assert all(set(days) <= school for days in expected.values())
    daily = [t for com in district.communities.values() for t, h in com.posting_habit.items() if h == "daily"]
    n_school = len(school)
    assert all(
        len(truth["community_days"][c][t]) >= 0.8 * n_school
        for c in truth["community_days"]
        for t in daily
        if t in truth["community_days"][c]
    )
