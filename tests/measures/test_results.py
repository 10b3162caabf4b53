"""Hand-computed class measures (PRODUCT.md §4) on tiny classes; the arithmetic is in the comments.

Calendar (tests/measures/world.py): term Mon 2026-10-19 .. Fri 2026-12-18, America/Los_Angeles, holidays
Wed 11 Nov and Thu-Fri 26-27 Nov. ISO weeks: W45 = 2-8 Nov, W46 = 9-15 Nov, W47 = 16-22 Nov.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from measures.figures import Suppression
from measures.results import MEASURES, Scopes, _grouped_median, _per_member
from tests.measures.world import World, at, figures, values

D = date


def test_an_empty_class_has_n_zero_and_every_figure_suppressed_even_at_min_n_one():
    w = World()
    w.klass("A", 0)
    figs = figures(w, "2026-W45")
    assert set(figs) == set(MEASURES)
    assert all(f.suppressed is Suppression.SMALL_N and f.n == 0 for f in figs.values())


def test_a_one_student_class_gets_reach_and_days_but_no_network_figures():
    w = World()
    (s,) = w.klass("A", 1)
    w.event("A", "forms", "form_response", s, at(D(2026, 11, 2)))  # Mon: FA + forms
    w.event("A", "teams", "post", s, at(D(2026, 11, 3)))  # Tue
    w.event("A", "teams", "post", s, at(D(2026, 11, 4), 9))  # Wed
    w.event("A", "teams", "post", s, at(D(2026, 11, 4), 15))  # same Wed again: still one day
    figs = figures(w, "2026-W45")
    v = values(figs)
    assert v["fa_reach"] == 1.0 and v["fa_monthly_reach"] == 1.0
    assert v["tool_reach.teams"] == 1.0 and v["tool_reach.forms"] == 1.0 and v["tool_reach.onenote"] == 0.0
    assert v["tool_days.teams"] == 2.0  # Tue and Wed: two distinct school days
    assert v["tool_days_per_student.teams"] == 2.0  # 2 days / 1 enrolled student
    assert v["participation"] == 1.0
    assert v["peer_reach"] == 0.0
    assert v["isolated"] == 1.0  # no act to or from anyone
    # n(n-1) = 0 pairs, no ties, n < 3, no acts: nothing to compute over
    for m in ("density", "reciprocity", "centralization", "teacher_share"):
        assert figs[m].suppressed is Suppression.NO_DATA, m
    assert figs["feedback_turnaround"].suppressed is Suppression.SMALL_N  # over 0 students
    assert figs["tool_days.onenote"].suppressed is Suppression.SMALL_N  # 0 users < min_n 1


def test_holidays_and_weekends_count_for_reach_but_not_for_school_days():
    w = World()
    (s,) = w.klass("A", 1)
    w.event("A", "teams", "post", s, at(D(2026, 11, 9)))  # Mon: school day
    w.event("A", "teams", "post", s, at(D(2026, 11, 11)))  # Wed: Veterans Day holiday
    w.event("A", "teams", "post", s, at(D(2026, 11, 14)))  # Sat
    v = values(figures(w, "2026-W46"))
    assert v["tool_reach.teams"] == 1.0
    assert v["tool_days.teams"] == 1.0  # only Monday is a school day


def test_a_sunday_evening_post_counts_on_sunday_in_the_district_not_monday_in_utc():
    w = World()
    (s,) = w.klass("A", 1)
    w.event("A", "teams", "post", s, at(D(2026, 11, 8), 20))  # Sun 20:00 PST = Mon 04:00 UTC
    assert values(figures(w, "2026-W45"))["tool_reach.teams"] == 1.0  # Sunday belongs to W45
    assert values(figures(w, "2026-W45"))["tool_days.teams"] == 0.0  # and Sunday is no school day
    assert values(figures(w, "2026-W46"))["tool_reach.teams"] == 0.0


def test_fa_events_are_forms_responses_forms_submissions_and_returned_submissions():
    w = World()
    s = w.klass("A", 5)
    w.assignment("A", "quiz", forms=True)
    w.assignment("A", "essay", forms=False)
    w.event("A", "forms", "form_response", s[0], at(D(2026, 11, 2)))  # FA: Forms response
    w.submission("A", "quiz", s[1], at(D(2026, 11, 3)))  # FA: submission to a Forms assignment
    w.submission("A", "essay", s[2], at(D(2026, 11, 3)), at(D(2026, 11, 20)))  # FA: feedback returned later
    w.submission("A", "essay", s[3], at(D(2026, 11, 3)))  # not FA: no Forms, nothing returned
    w.event("A", "teams", "post", s[4], at(D(2026, 11, 3)))  # not FA: a channel post
    v = values(figures(w, "2026-W45"))
    # 3 of 5 students; s2 counts in W45, the week it submitted, although feedback came in W47
    assert v["fa_reach"] == 0.6
    assert v["tool_reach.assignments"] == 0.6  # s1, s2, s3 submitted
    # ... but not when the feedback had not come back by the as-of date
    v = values(figures(w, "2026-W45", as_of=D(2026, 11, 10)))
    assert v["fa_reach"] == 0.4


def test_fa_monthly_reach_needs_every_month_of_the_period_and_for_a_week_the_month_to_date():
    w = World()
    s = w.klass("A", 3)
    for d in (D(2026, 10, 20), D(2026, 11, 5), D(2026, 12, 2)):
        w.event("A", "forms", "form_response", s[0], at(d))  # Oct, Nov, Dec
    for d in (D(2026, 10, 20), D(2026, 12, 2)):
        w.event("A", "forms", "form_response", s[1], at(d))  # Oct and Dec, not Nov
    w.event("A", "forms", "form_response", s[2], at(D(2026, 11, 5)))  # Nov only
    term = values(figures(w, "term"))
    assert term["fa_reach"] == 1.0
    assert term["fa_monthly_reach"] == pytest.approx(1 / 3)  # only s0 has all of Oct, Nov, Dec
    # W49 = 30 Nov .. 6 Dec; its last school day is Fri 4 Dec, so the window is 1..6 Dec: s0 and s1.
    w49 = values(figures(w, "2026-W49"))
    assert w49["fa_monthly_reach"] == pytest.approx(2 / 3)
    assert w49["fa_reach"] == pytest.approx(2 / 3)  # both responded on Wed 2 Dec, inside the week
    # W48 = 23..29 Nov, last school day Wed 25 Nov: window 1..29 Nov: s0 and s2, though nobody acted in W48
    w48 = values(figures(w, "2026-W48"))
    assert w48["fa_reach"] == 0.0
    assert w48["fa_monthly_reach"] == pytest.approx(2 / 3)


def test_a_student_who_joins_mid_period_is_in_s_and_owes_only_the_months_after_joining():
    w = World()
    s = w.klass("A", 2)
    late = w.enroll("A", "A-late", joined_on=D(2026, 11, 18))  # Wed of W47
    gone = w.enroll("A", "A-gone", left_on=D(2026, 11, 2))  # left at the end of October
    for student in (s[0], s[1]):
        for d in (D(2026, 10, 21), D(2026, 11, 18), D(2026, 12, 9)):
            w.event("A", "forms", "form_response", student, at(d))
    w.event("A", "forms", "form_response", late, at(D(2026, 11, 19)))
    w.event("A", "forms", "form_response", late, at(D(2026, 12, 9)))
    w.event("A", "forms", "form_response", gone, at(D(2026, 10, 21)))
    # W47: s0, s1, late are enrolled (late from Wednesday); gone left before the week.
    w47 = figures(w, "2026-W47")
    assert w47["fa_reach"].n == 3 and w47["fa_reach"].value == 1.0
    # W46 (9..15 Nov): late had not joined yet, gone had left: n = 2.
    assert figures(w, "2026-W46")["fa_reach"].n == 2
    # Term: all four are in S. s0, s1 have Oct+Nov+Dec; late owes Nov+Dec and has both; gone owed only
    # October (enrolled 19 Oct .. 1 Nov, and 1 Nov is a Sunday) and has it: 4 of 4.
    term = figures(w, "term")
    assert term["fa_reach"].n == 4
    assert term["fa_monthly_reach"].value == 1.0
    # Drop late's December response: late misses a month it was enrolled in.
    w.events = [e for e in w.events if not (e["actor_key"] == late and e["occurred_at"].month == 12)]
    assert figures(w, "term")["fa_monthly_reach"].value == 0.75


def test_a_star_network_has_centralization_one():
    w = World()
    s = w.klass("A", 5)
    for leaf in s[1:]:
        w.act("A", "reply", leaf, s[0], at(D(2026, 11, 3)))  # s1..s4 reply in s0's thread
    v = values(figures(w, "2026-W45"))
    # undirected degrees 4,1,1,1,1: C = Σ(4 - d_i) / ((n-1)(n-2)) = (0+3+3+3+3) / (4*3) = 1
    assert v["centralization"] == 1.0
    assert v["density"] == 0.2  # L = 4 ties / (5*4) pairs
    assert v["reciprocity"] == 0.0
    assert v["peer_reach"] == 1.0 and v["isolated"] == 0.0


def test_an_even_ring_has_centralization_zero():
    w = World()
    s = w.klass("A", 5)
    for i in range(5):
        w.act("A", "mention", s[i], s[(i + 1) % 5], at(D(2026, 11, 3)))
    v = values(figures(w, "2026-W45"))
    assert v["centralization"] == 0.0  # every undirected degree is 2
    assert v["density"] == 0.25  # 5 / 20


def test_reciprocity_density_teacher_share_and_isolated_on_a_mixed_network():
    w = World()
    s = w.klass("A", 5, teacher="T")
    day = at(D(2026, 11, 4))
    w.act("A", "reply", s[0], s[1], day)
    w.act("A", "reaction", s[0], s[1], at(D(2026, 11, 5)))  # a second act on the same tie
    w.act("A", "reply", s[1], s[0], day)  # makes 0<->1 mutual
    w.act("A", "reply", s[2], s[3], day)  # one-way
    w.act("A", "mention", s[0], s[2], day)  # one-way
    w.act("A", "reaction", "T", s[3], day)  # the teacher reacts to s3
    w.act("A", "reply", s[4], s[4], day)  # a reply in one's own thread is no tie
    v = values(figures(w, "2026-W45"))
    # directed student ties: 0→1, 1→0, 2→3, 0→2 = 4; mutual: 0→1 and 1→0 = 2
    assert v["reciprocity"] == 0.5
    assert v["density"] == 0.2  # 4 / (5*4)
    # undirected degrees: s0=2 ({1,2}), s1=1, s2=2 ({3,0}), s3=1, s4=0; dmax 2:
    # Σ(2-d) = 0+1+0+1+2 = 4; (n-1)(n-2) = 12 -> 1/3
    assert v["centralization"] == pytest.approx(1 / 3, abs=1e-6)
    # acts: 0→1 twice, 1→0, 2→3, 0→2, T→3 = 6; with the teacher: 1
    assert v["teacher_share"] == pytest.approx(1 / 6, abs=1e-6)
    assert v["peer_reach"] == 0.8  # s0..s3
    assert v["isolated"] == 1.0  # s4 only acted on itself
    assert v["participation"] == 0.8  # s0, s1, s2, s4 replied (s4 in its own thread); s3 only received


def test_feedback_turnaround_is_the_median_hours_over_submissions_returned_in_the_period():
    w = World()
    s = w.klass("A", 4)
    w.assignment("A", "essay")
    w.submission("A", "essay", s[0], at(D(2026, 11, 9), 8), at(D(2026, 11, 9), 10))  # 2 h, returned W46
    w.submission("A", "essay", s[1], at(D(2026, 11, 9), 8), at(D(2026, 11, 9), 18))  # 10 h, W46
    w.submission("A", "essay", s[2], at(D(2026, 11, 6), 8), at(D(2026, 11, 9), 8))  # 72 h, submitted W45
    w.submission("A", "essay", s[3], at(D(2026, 11, 13), 8), at(D(2026, 11, 16), 10))  # 74 h, returned W47
    w.submission("A", "essay", s[0], at(D(2026, 11, 12), 8))  # never returned
    figs = figures(w, "2026-W46")
    assert figs["feedback_turnaround"].value == 10.0  # median of 2, 10, 72
    assert figs["feedback_turnaround"].n == 3  # three students behind it
    assert figures(w, "2026-W47")["feedback_turnaround"].value == 74.0
    assert figures(w, "2026-11")["feedback_turnaround"].value == 41.0  # median of 2, 10, 72, 74 = (10+72)/2


def test_onenote_collaboration_reach_counts_collaboration_space_edits_only():
    w = World()
    s = w.klass("A", 4)
    w.event("A", "onenote", "collab_edit", s[0], at(D(2026, 11, 3)))
    w.event("A", "onenote", "notebook_edit", s[1], at(D(2026, 11, 3)))
    v = values(figures(w, "2026-W45"))
    assert v["onenote_collab_reach"] == 0.25
    assert v["tool_reach.onenote"] == 0.5


def test_tool_days_is_averaged_over_users_and_over_enrolled_students():
    w = World()
    s = w.klass("A", 4)
    for d in (2, 3, 4):
        w.event("A", "forms", "form_response", s[0], at(D(2026, 11, d)))  # 3 days
    w.event("A", "forms", "form_response", s[1], at(D(2026, 11, 5)))  # 1 day
    figs = figures(w, "2026-W45")
    assert figs["tool_days.forms"].value == 2.0 and figs["tool_days.forms"].n == 2  # (3+1)/2 users
    assert figs["tool_days_per_student.forms"].value == 1.0 and figs["tool_days_per_student.forms"].n == 4


def test_the_same_figures_are_suppressed_below_min_n_ten():
    w = World()
    s = w.klass("A", 9)
    w.event("A", "forms", "form_response", s[0], at(D(2026, 11, 2)))
    figs = figures(w, "2026-W45", min_n=10)
    assert all(not f.shown for f in figs.values())
    assert figs["fa_reach"].suppressed is Suppression.SMALL_N and figs["fa_reach"].n == 9
    w.enroll("A", "A-tenth")
    figs = figures(w, "2026-W45", min_n=10)
    assert figs["fa_reach"].value == 0.1 and figs["fa_reach"].n == 10
    assert figs["tool_days.forms"].suppressed is Suppression.SMALL_N  # one user is still under 10


def test_events_outside_the_term_or_after_as_of_are_ignored():
    w = World()
    (s,) = w.klass("A", 1)
    w.event("A", "forms", "form_response", s, at(D(2026, 10, 16)))  # Friday before the term
    w.event("A", "forms", "form_response", s, at(D(2026, 11, 6)))  # after the as-of date below
    assert values(figures(w, "2026-W45", as_of=D(2026, 11, 4)))["fa_reach"] == 0.0
    assert values(figures(w, "term", as_of=D(2026, 11, 4)))["fa_reach"] == 0.0


def _reach_world(reached_by_class: dict[str, tuple[int, int]], pli: dict[str, bool] | None = None) -> World:
    """Classes with (reached, n): `reached` students answer a form on Mon 2 Nov."""
    w = World()
    for class_id, (reached, n) in reached_by_class.items():
        is_pli = True if pli is None else pli[class_id]
        community = "community-1" if is_pli else None
        s = w.klass(class_id, n, pli=is_pli, community=community)
        for student in s[:reached]:
            w.event(class_id, "forms", "form_response", student, at(D(2026, 11, 2)))
    return w


def test_comparisons_are_medians_of_shown_class_figures_per_community_and_pli_status():
    w = _reach_world(
        {"A": (2, 10), "B": (5, 10), "C": (8, 10), "X": (1, 10), "Y": (4, 10), "Z": (6, 10)},
        pli={"A": True, "B": True, "C": True, "X": False, "Y": False, "Z": False},
    )
    community = figures(w, "2026-W45", "community", "community-1")
    assert community["fa_reach.median"].value == 0.5  # median of 0.2, 0.5, 0.8
    assert community["fa_reach.median"].n == 30
    assert community["fa_reach"].value == 0.5  # pooled: 15 of 30
    assert figures(w, "2026-W45", "district", "pli")["fa_reach.median"].value == 0.5
    assert figures(w, "2026-W45", "district", "non_pli")["fa_reach.median"].value == 0.4  # of 0.1, 0.4, 0.6
    assert figures(w, "2026-W45", "district", "all")["fa_reach"].value == 26 / 60
    assert figures(w, "2026-W45", "district", "all")["fa_reach.median"].value == 0.45  # (0.4 + 0.5) / 2


def test_group_figures_pool_enrolments_so_the_total_is_the_sum_of_its_parts():
    w = _reach_world({"A": (3, 12), "B": (9, 18)})
    school = figures(w, "2026-W45", "school", "school-1")
    assert school["fa_reach"].value == 0.4 and school["fa_reach"].n == 30  # (3 + 9) / (12 + 18)
    teacher = figures(w, "2026-W45", "teacher", "teacher-A")
    assert teacher["fa_reach"].value == 0.25 and teacher["fa_reach"].n == 12


def test_a_small_class_in_a_community_forces_complementary_suppression_of_the_next_smallest():
    # n = 12, 15, 5 at min_n 10: C is small; the community total (32) is shown, so without more
    # suppression C = total - A - B. A (the smallest shown, n 12) is suppressed as its complement.
    w = _reach_world({"A": (3, 12), "B": (6, 15), "C": (1, 5)})
    a, b, c = (figures(w, "2026-W45", "class", k, min_n=10)["fa_reach"] for k in "ABC")
    total = figures(w, "2026-W45", "community", "community-1", min_n=10)["fa_reach"]
    assert c.suppressed is Suppression.SMALL_N
    assert a.suppressed is Suppression.COMPLEMENTARY
    assert b.shown and b.value == 0.4
    assert total.shown and total.value == 10 / 32


def test_comparison_medians_are_suppressed_when_too_few_students_are_behind_them():
    w = _reach_world({"A": (3, 12)})
    community = figures(w, "2026-W45", "community", "community-1", min_n=20)
    assert community["fa_reach.median"].suppressed is Suppression.SMALL_N


def test_a_median_over_fewer_than_three_classes_is_suppressed_because_it_would_show_a_class():
    w = _reach_world({"A": (3, 12), "B": (6, 12)})
    community = figures(w, "2026-W45", "community", "community-1", min_n=10)
    assert community["fa_reach.median"].suppressed is Suppression.FEW_CLASSES


@pytest.mark.parametrize("n_groups", [1, 7, 40_000])  # 40,000: more groups than 16 bits hold
@pytest.mark.parametrize("presorted", [True, False])
def test_group_medians_equal_pandas_medians_for_any_groups_and_missing_values(n_groups, presorted):
    rng = np.random.default_rng(n_groups)
    groups = rng.integers(0, n_groups, 5_000)
    values = rng.normal(size=5_000)
    values[rng.random(5_000) < 0.1] = np.nan
    if presorted:
        order = np.argsort(values)  # NaN last, so the values present are ascending
        groups, values = groups[order], values[order]
    got = _grouped_median(groups, values, n_groups, presorted=presorted)
    want = pd.Series(values).groupby(groups).median().reindex(range(n_groups)).to_numpy()
    np.testing.assert_allclose(got, want, equal_nan=True)


def test_each_returned_submission_counts_once_in_every_group_its_class_belongs_to():
    # classes 0..2; group entities 3 (classes 0, 1), 4 (class 1), 5 (classes 0, 1, 2); class 2 in one group
    scopes = Scopes(
        entities=pd.DataFrame({"scope": [], "scope_id": []}),
        member_entity=np.array([5, 3, 4, 5, 3, 5]),
        member_class=np.array([2, 1, 1, 1, 0, 0]),
        relations=None,
    )
    h_class = np.array([1, 0, 2, 1])
    h_val = np.array([1.0, 2.0, 3.0, 4.0])
    ents, vals = _per_member(h_class, h_val, scopes, n_classes=3, n_ent=6)
    pairs = sorted(zip(ents.tolist(), vals.tolist(), strict=True))
    assert pairs == sorted([(3, 1.0), (4, 1.0), (5, 1.0), (3, 2.0), (5, 2.0), (5, 3.0), (3, 4.0), (4, 4.0), (5, 4.0)])
    assert vals.tolist() == sorted(vals.tolist())  # still in the values' order, as the medians need


@pytest.mark.parametrize("bad", [-1, 3])
def test_a_group_code_outside_the_groups_is_an_error_not_a_silently_dropped_value(bad):
    with pytest.raises(ValueError, match="group codes"):
        _grouped_median(np.array([0, bad, 1]), np.array([1.0, 2.0, 3.0]), 3)
