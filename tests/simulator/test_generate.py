"""The simulated district: deterministic, and realistic in the ways the measures care about."""

from __future__ import annotations

import hashlib
import os
import re
import statistics
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from simulator.generate import (
    DAY_END,
    DAY_START,
    FORM_HOSTS,
    class_activity,
    community_activity,
    generate_district,
    iter_class_activity,
    notebook_layout,
    period_window,
    school_days,
)
from simulator.model import ClassActivity, District

LA = ZoneInfo("America/Los_Angeles")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SEEDS = tuple(range(11, 17))  # realism is checked on six small districts pooled: one lucky draw cannot pass it


@pytest.fixture(scope="module")
def small() -> District:
    return generate_district(11, "small")


@pytest.fixture(scope="module")
def small_activity(small: District) -> dict[str, ClassActivity]:
    return {a.class_id: a for a in iter_class_activity(small)}


@pytest.fixture(scope="module")
def pooled() -> list[tuple[District, ClassActivity]]:
    out = []
    for seed in SEEDS:
        d = generate_district(seed, "small")
        out += [(d, a) for a in iter_class_activity(d)]
    return out


@pytest.fixture(scope="module")
def district_roster() -> District:
    return generate_district(5, "district")


def local(ts: datetime) -> datetime:
    assert ts.tzinfo is not None
    return ts.astimezone(LA)


def students_of(district: District, class_id: str) -> dict[str, date]:
    return {e.user_id: e.joined_on for e in district.enrollments[class_id] if e.role == "student"}


def class_events(a: ClassActivity) -> Iterator[tuple[str, str, datetime]]:
    """(kind, actor, timestamp) of every act in a class, teachers' acts included."""
    for m in a.messages:
        yield "message", m.author_id, m.created_at
        for r in m.reactions:
            yield "reaction", r.user_id, r.created_at
    for asg in a.assignments:
        yield "assignment", "", asg.assigned_at
        yield "assignment", "", asg.created_at
    for s in a.submissions:
        if s.submitted_at is not None:
            yield "submission", s.student_id, s.submitted_at
        if s.returned_at is not None:
            yield "return", "", s.returned_at
    for f in a.form_responses:
        yield "form", f.user_id, f.responded_at
    for e in a.notebook_edits:
        yield "notebook", e.user_id, e.edited_at


def student_student_acts(district: District, a: ClassActivity) -> int:
    """Replies, reactions and mentions from one student to another, counted here without the truth module."""
    students = students_of(district, a.class_id)
    author = {(m.channel_id, m.id): m.author_id for m in a.messages}
    n = 0
    for m in a.messages:
        pairs = [(r.user_id, m.author_id) for r in m.reactions] + [(m.author_id, t) for t in m.mention_ids]
        if m.reply_to_id is not None:
            pairs.append((m.author_id, author[(m.channel_id, m.reply_to_id)]))
        n += sum(1 for u, v in pairs if u != v and u in students and v in students)
    return n


def monthly_fa_share(district: District, a: ClassActivity) -> float:
    """Share of students with a formative-assessment event in every month of the term (Fresno Figure 10)."""
    students = students_of(district, a.class_id)
    months = {(d.year, d.month) for d in school_days(district.calendar)}
    has_form = {x.id for x in a.assignments if x.form_id}
    fa: dict[str, set[tuple[int, int]]] = {s: set() for s in students}
    for s in a.submissions:
        if s.submitted_at is not None and (s.assignment_id in has_form or s.returned_at is not None):
            d = local(s.submitted_at)
            fa[s.student_id].add((d.year, d.month))
    for f in a.form_responses:
        d = local(f.responded_at)
        fa[f.user_id].add((d.year, d.month))
    return sum(1 for s in students if fa[s] >= months) / len(students)


def classify(days: list[date], school: list[date]) -> str:
    """PRODUCT.md §4 teacher conversation frequency, recomputed here from the posting days."""
    if not days:
        return "none"
    active = set(days)
    if len(active) >= 0.8 * len(school):
        return "daily"
    weeks = {d.isocalendar()[:2] for d in school}
    if weeks <= {d.isocalendar()[:2] for d in active}:
        return "weekly"
    months = {(d.year, d.month) for d in school}
    if months <= {(d.year, d.month) for d in active}:
        return "monthly"
    return "rarely"


# --- determinism ----------------------------------------------------------------------------------------


def test_same_seed_gives_an_identical_district_and_identical_class_activity(small: District) -> None:
    again = generate_district(11, "small")
    assert again == small
    first = next(iter(small.classes))
    assert class_activity(again, first) == class_activity(small, first)
    com = next(iter(small.communities))
    assert community_activity(again, com) == community_activity(small, com)


def test_a_different_seed_gives_a_different_district(small: District) -> None:
    other = generate_district(12, "small")
    assert set(other.people).isdisjoint(small.people)
    assert other.tenant_id != small.tenant_id
    assert set(other.classes).isdisjoint(small.classes)
    first = next(iter(small.classes))
    assert class_activity(small, first).messages != class_activity(other, next(iter(other.classes))).messages


def test_class_activity_does_not_depend_on_call_order(small: District, small_activity) -> None:
    ids = list(small.classes)
    fresh = generate_district(11, "small")
    backwards = {cid: class_activity(fresh, cid) for cid in reversed(ids)}
    assert backwards == small_activity
    assert class_activity(small, ids[3]) == class_activity(small, ids[3])


def test_iter_class_activity_yields_each_class_once_in_roster_order(small: District, small_activity) -> None:
    assert list(small_activity) == list(small.classes)
    assert all(isinstance(a, ClassActivity) for a in small_activity.values())


def test_an_unknown_scale_or_class_is_refused_with_a_message_that_says_what_to_use(small: District) -> None:
    with pytest.raises(ValueError, match="small, district"):
        generate_district(1, "huge")  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="not in this simulated district"):
        class_activity(small, "no-such-class")


# --- roster shape -----------------------------------------------------------------------------------------


def test_small_scale_has_two_schools_about_24_classes_600_students_and_two_communities(small: District) -> None:
    students = [p for p in small.people.values() if p.role == "student"]
    assert len(small.schools) == 2
    assert 20 <= len(small.classes) <= 28
    assert 550 <= len(students) <= 650
    assert len(small.communities) == 2
    weeks = {d.isocalendar()[:2] for d in school_days(small.calendar)}
    assert len(weeks) == 6


def test_district_scale_roster_has_a_hundred_schools_3000_classes_and_75000_students(district_roster) -> None:
    students = sum(1 for p in district_roster.people.values() if p.role == "student")
    assert len(district_roster.schools) == 100
    assert len(district_roster.classes) == 3000
    assert 74_000 <= students <= 76_000
    assert len(district_roster.communities) == 30
    assert len(school_days(district_roster.calendar)) == 90


def test_ids_look_like_graph_ids(small: District, small_activity) -> None:
    for guid in [*small.people, *small.classes, *small.schools, small.tenant_id]:
        assert uuid.UUID(guid).version == 4
    channel = re.compile(r"^19:[0-9a-f]{32}@thread\.tacv2$")
    for cls in small.classes.values():
        assert all(channel.match(c.id) for c in cls.channels)
        assert cls.channels[0].display_name == "General"
    for a in small_activity.values():
        per_channel = Counter((m.channel_id, m.id) for m in a.messages)
        assert max(per_channel.values()) == 1
        for m in a.messages:
            assert m.id.isdigit() and len(m.id) == 13
            assert int(m.id) == (m.created_at - EPOCH) // timedelta(milliseconds=1)
        assert all(uuid.UUID(x.id) for x in (*a.assignments, *a.submissions))


def test_people_have_fake_but_realistic_unique_names(small: District) -> None:
    upns = [p.upn for p in small.people.values()]
    assert len(set(upns)) == len(upns)
    assert all(u.endswith("@fresno-pli.example.edu") for u in upns)
    assert all(len(p.display_name.split()) >= 2 for p in small.people.values())


def test_some_classes_have_fewer_than_ten_students(small: District) -> None:
    sizes = [len(students_of(small, c)) for c in small.classes]
    assert any(n < 10 for n in sizes)
    assert statistics.median(sizes) >= 20


def test_some_students_join_mid_term_and_do_nothing_in_the_class_before_joining(
    small: District, small_activity
) -> None:
    start = small.calendar.term_start
    late = [(c, s, j) for c in small.classes for s, j in students_of(small, c).items() if j > start]
    assert late, "no mid-term joiners"
    late_acts = 0
    for a in small_activity.values():
        joined = students_of(small, a.class_id)
        for kind, actor, ts in class_events(a):
            if actor in joined:
                assert local(ts).date() >= joined[actor], (kind, actor, ts)
                late_acts += joined[actor] > start
        for m in a.messages:
            assert all(joined.get(t, start) <= local(m.created_at).date() for t in m.mention_ids)
        for s in a.submissions:
            assert s.student_id in joined
    assert late_acts > 0, "mid-term joiners never take part after joining"


def test_every_class_act_is_on_a_school_day_between_8_and_15_30_district_time(small: District, small_activity) -> None:
    days = set(school_days(small.calendar))
    holidays_in_term = [h for h in small.calendar.holidays if small.calendar.term_start <= h <= small.calendar.term_end]
    assert len(holidays_in_term) >= 3  # Veterans Day and the Thanksgiving break
    for a in small_activity.values():
        for kind, _, ts in class_events(a):
            t = local(ts)
            assert t.date() in days, (kind, t)
            secs = t.hour * 3600 + t.minute * 60 + t.second
            assert DAY_START <= secs <= DAY_END, (kind, t)


def test_class_activity_clusters_in_the_class_period(small: District, small_activity) -> None:
    shares = []
    for a in small_activity.values():
        lo, hi = period_window(small.classes[a.class_id].period)
        times = [local(ts) for kind, _, ts in class_events(a) if kind in ("message", "notebook", "form")]
        inside = sum(1 for t in times if lo <= t.hour * 3600 + t.minute * 60 + t.second <= hi)
        shares.append(inside / len(times))
    assert statistics.mean(shares) > 0.6
    assert len({c.period for c in small.classes.values()}) >= 4


def test_activity_spans_the_whole_term(small: District, small_activity) -> None:
    days = school_days(small.calendar)
    seen = {local(ts).date() for a in small_activity.values() for _, _, ts in class_events(a)}
    assert days[0] in seen and days[-1] in seen
    assert len(seen) == len(days)


# --- PLI against non-PLI ---------------------------------------------------------------------------------


def test_pli_students_collaborate_about_a_third_more_than_non_pli_students(pooled) -> None:
    acts = {True: 0, False: 0}
    students = {True: 0, False: 0}
    per_class = {True: [], False: []}
    for d, a in pooled:
        pli, n, x = d.classes[a.class_id].is_pli, len(students_of(d, a.class_id)), student_student_acts(d, a)
        acts[pli] += x
        students[pli] += n
        per_class[pli].append(x / n)
    ratio = (acts[True] / students[True]) / (acts[False] / students[False])
    assert 1.15 < ratio < 1.7, ratio
    # realistic variance: the groups overlap, some non-PLI classes out-collaborate some PLI classes
    assert max(per_class[False]) > min(per_class[True])


def test_more_pli_students_use_formative_assessment_every_month(pooled) -> None:
    shares = {True: [], False: []}
    for d, a in pooled:
        shares[d.classes[a.class_id].is_pli].append(monthly_fa_share(d, a))
    assert statistics.mean(shares[True]) > statistics.mean(shares[False]) + 0.15
    assert max(shares[False]) > 0  # non-PLI students do some formative assessment too


def test_pli_classes_attach_forms_quizzes_to_more_assignments_and_return_feedback_faster(pooled) -> None:
    form_share = {True: [], False: []}
    turnaround = {True: [], False: []}
    for d, a in pooled:
        pli = d.classes[a.class_id].is_pli
        form_share[pli].append(sum(1 for x in a.assignments if x.form_id) / max(1, len(a.assignments)))
        turnaround[pli] += [
            (s.returned_at - s.submitted_at).total_seconds() / 3600 for s in a.submissions if s.returned_at is not None
        ]
    assert statistics.mean(form_share[True]) > 2 * statistics.mean(form_share[False]) > 0
    assert statistics.median(turnaround[True]) < statistics.median(turnaround[False])


# --- Teams, Forms, Assignments, OneNote ------------------------------------------------------------------


def test_threads_have_replies_reactions_and_mentions_between_students_and_teachers(small, small_activity) -> None:
    kinds = Counter()
    for a in small_activity.values():
        students = students_of(small, a.class_id)
        teachers = set(small.classes[a.class_id].teacher_ids)
        by_id = {(m.channel_id, m.id): m for m in a.messages}
        for m in a.messages:
            if m.reply_to_id is not None:
                parent = by_id[(m.channel_id, m.reply_to_id)]
                assert parent.reply_to_id is None and parent.created_at < m.created_at
                kinds["reply", m.author_id in students, parent.author_id in students] += 1
            for r in m.reactions:
                assert r.created_at >= m.created_at and r.user_id != m.author_id
                kinds["reaction", r.user_id in students, m.author_id in students] += 1
            for i, target in enumerate(m.mention_ids):
                tag = f'<at id="{i}">{small.people[target].display_name}</at>'
                assert tag in m.body_html
                kinds["mention", m.author_id in students, target in students] += 1
            assert m.author_id in students or m.author_id in teachers
            assert m.last_modified_at >= m.created_at
    for kind in ("reply", "reaction", "mention"):
        assert kinds[kind, True, True] > 0  # student to student
        assert kinds[kind, False, True] > 0  # teacher to student
        assert kinds[kind, True, False] > 0  # student to teacher


def test_some_teacher_posts_carry_a_forms_link_that_students_answer(small, small_activity) -> None:
    linked = [m for a in small_activity.values() for m in a.messages if m.form_id]
    assert linked
    for m in linked:
        assert f"https://forms.office.com/Pages/ResponsePage.aspx?id={m.form_id}" in m.body_html
        assert m.author_id in small.classes[m.team_id].teacher_ids
    answered = {f.form_id for a in small_activity.values() for f in a.form_responses}
    assert sum(1 for m in linked if m.form_id in answered) > len(linked) / 2


def test_assignments_have_forms_quizzes_submissions_and_feedback_with_realistic_turnaround(small_activity) -> None:
    assignments = [x for a in small_activity.values() for x in a.assignments]
    submissions = [s for a in small_activity.values() for s in a.submissions]
    with_form = [x for x in assignments if x.form_id]
    assert 0 < len(with_form) < len(assignments)
    for x in with_form:
        links = [r for r in x.resources if r.kind == "educationLinkResource" and x.form_id in (r.url or "")]
        assert links and any(h in links[0].url for h in FORM_HOSTS)
    for x in assignments:
        if not x.form_id:
            assert not any("forms." in (r.url or "") for r in x.resources)
        assert x.created_at <= x.assigned_at < x.due_at
    never_submitted = [s for s in submissions if s.submitted_at is None]
    returned = [s for s in submissions if s.returned_at is not None]
    never_returned = [s for s in submissions if s.submitted_at is not None and s.returned_at is None]
    assert never_submitted and returned and never_returned
    assert all(s.returned_at is None and s.points is None for s in never_submitted)
    hours = [(s.returned_at - s.submitted_at).total_seconds() / 3600 for s in returned]
    assert min(hours) > 0
    assert 4 < statistics.median(hours) < 96  # hours to days
    assert max(hours) > 48
    assert all(s.points is not None or s.feedback_text for s in returned)
    answered = {(f.form_id, f.user_id) for a in small_activity.values() for f in a.form_responses}
    quiz = {x.id: x.form_id for x in with_form}
    for s in submissions:
        if s.assignment_id in quiz and s.submitted_at is not None:
            assert (quiz[s.assignment_id], s.student_id) in answered


def test_class_notebooks_have_a_section_group_per_student_and_a_collaboration_space(small, small_activity) -> None:
    spaces = Counter()
    for cid, a in small_activity.items():
        layout = notebook_layout(small, cid)
        assert set(layout.student_groups) == set(students_of(small, cid))
        for e in a.notebook_edits:
            spaces[e.space] += 1
            if e.space == "student":
                group, sections = layout.student_groups[e.user_id]
                assert e.section_group_id == group and e.section_id in {s for s, _ in sections}
            else:
                assert e.section_group_id == layout.collaboration_group_id
    assert spaces["student"] > spaces["collaboration"] > 0


# --- accountable communities ------------------------------------------------------------------------------


def test_community_teams_are_pli_teachers_with_a_coach(small: District) -> None:
    for com in small.communities.values():
        assert com.coach_id in small.coach_ids and com.coach_id not in com.teacher_ids
        assert len(com.teacher_ids) >= 3
        for cid in com.class_ids:
            cls = small.classes[cid]
            assert cls.is_pli and cls.cohort in ("2025", "2026")
            assert set(cls.teacher_ids) & set(com.teacher_ids)
        assert set(com.posting_habit) == set(com.teacher_ids)
    in_communities = {c for com in small.communities.values() for c in com.class_ids}
    assert in_communities == {c.id for c in small.classes.values() if c.is_pli}
    assert any(not c.is_pli for c in small.classes.values())


def test_more_than_two_thirds_of_community_teachers_converse_daily(district_roster: District) -> None:
    habits = Counter(h for com in district_roster.communities.values() for h in com.posting_habit.values())
    assert habits["daily"] / sum(habits.values()) > 2 / 3
    assert all(habits[h] > 0 for h in ("weekly", "monthly", "rarely", "none"))


def test_teachers_post_in_their_community_as_often_as_their_habit_says(district_roster: District) -> None:
    school = list(school_days(district_roster.calendar))
    for com in list(district_roster.communities.values())[:12]:
        activity = community_activity(district_roster, com.id)
        days: dict[str, set[date]] = {t: set() for t in com.teacher_ids}
        for m in activity.messages:
            assert m.team_id == com.id and m.channel_id == com.channel.id
            assert local(m.created_at).date() in set(school)
            for r in m.reactions:
                assert local(r.created_at).date() == local(m.created_at).date()
            if m.author_id in days:
                days[m.author_id].add(local(m.created_at).date())
        for teacher, habit in com.posting_habit.items():
            assert classify(sorted(days[teacher]), school) == habit, (teacher, habit)
        assert any(m.author_id == com.coach_id for m in activity.messages)
        assert any(m.reply_to_id for m in activity.messages)


def test_a_fresh_process_with_another_hash_seed_generates_the_same_district(small: District) -> None:
    """Nothing may depend on Python's per-process string hashing or on set order."""
    script = (
        "import hashlib, sys\n"
        "from simulator.generate import generate_district, class_activity, community_activity\n"
        "d = generate_district(11, 'small')\n"
        "c = list(d.classes)[5]\n"
        "m = next(iter(d.communities))\n"
        "text = repr(d) + repr(class_activity(d, c)) + repr(community_activity(d, m))\n"
        "sys.stdout.write(hashlib.sha256(text.encode()).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    c, m = list(small.classes)[5], next(iter(small.communities))
    here = repr(small) + repr(class_activity(small, c)) + repr(community_activity(small, m))
    assert out.stdout == hashlib.sha256(here.encode()).hexdigest()


def test_every_forms_response_maps_to_its_class_through_an_assignment_or_a_channel_link(small_activity) -> None:
    assert sum(len(a.form_responses) for a in small_activity.values()) > 0
    for a in small_activity.values():
        known = {x.form_id for x in a.assignments if x.form_id} | {m.form_id for m in a.messages if m.form_id}
        assert {f.form_id for f in a.form_responses} <= known
        assert {f.operation for f in a.form_responses} <= {"SubmitResponse", "CreateResponse"}
