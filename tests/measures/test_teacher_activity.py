"""The teacher community-activity distribution (Fresno Figure 9), counted by hand.

Term 19 Oct .. 18 Dec 2026 has 42 school days: October 10 (19-30), November 18 (21 weekdays minus 11, 26
and 27 Nov), December 14 (1-18). 80% of 42 is 33.6, so "daily" needs 34 active school days.
"""

from __future__ import annotations

from datetime import date, timedelta

from measures.figures import Suppression
from tests.measures.world import CALENDAR, World, at, figures

SCHOOL_DAYS = CALENDAR.school_days()


def _community(habits: dict[str, list[date]], extra_teachers: int = 0) -> World:
    w = World()
    w.klass("A", 1)
    for teacher, days in habits.items():
        w.member("community-1", teacher)
        for d in days:
            w.talk("community-1", teacher, at(d))
    for i in range(extra_teachers):
        w.member("community-1", f"quiet-{i}")
    return w


def _mondays() -> list[date]:
    d, out = CALENDAR.term_start, []
    while d <= CALENDAR.term_end:
        out.append(d)
        d += timedelta(days=7)
    return out


def _distribution(w: World, period="term", min_n=1, scope="community", scope_id="community-1") -> dict:
    figs = figures(w, period, scope, scope_id, min_n=min_n)
    return {m.split(".", 1)[1]: f for m, f in figs.items() if m.startswith("teacher_activity.")}


def test_the_term_has_42_school_days():
    assert len(SCHOOL_DAYS) == 42


def test_each_teacher_falls_in_the_first_matching_category():
    w = _community(
        {
            "daily": SCHOOL_DAYS[:34],  # 34 of 42 >= 33.6: daily (also weekly and monthly, but daily wins)
            "almost": SCHOOL_DAYS[:33],  # 33 < 33.6, and misses the last week: only monthly
            "weekly": _mondays(),  # every Monday: one of 42 days a week, every school week
            "monthly": [date(2026, 10, 20), date(2026, 11, 3), date(2026, 12, 1)],
            "rarely": [date(2026, 11, 3)],
        },
        extra_teachers=1,  # a member who never posts: none
    )
    d = _distribution(w)
    counts = {k: int(f.value) for k, f in d.items()}
    # "almost" stops on SCHOOL_DAYS[32] = 2 Dec, so it misses the weeks of 7 and 14 Dec: monthly.
    assert counts == {"teachers": 6, "daily": 1, "weekly": 1, "monthly": 2, "rarely": 1, "none": 1}


def test_a_weekend_post_counts_for_weekly_but_not_for_daily():
    w = _community({"t": [date(2026, 11, 7)]})  # Saturday of W45
    d = _distribution(w, "2026-W45")
    assert d["weekly"].value == 1 and d["daily"].value == 0


def test_reactions_are_not_conversation():
    w = _community({})
    w.member("community-1", "t")
    w.talk("community-1", "t", at(date(2026, 11, 3)), kind="reaction")
    assert _distribution(w, "2026-W45")["none"].value == 1


def test_the_district_counts_a_teacher_once_across_communities():
    w = _community({"t": SCHOOL_DAYS[:10]})
    w.member("community-2", "t")
    w.talk("community-2", "t", at(date(2026, 11, 3)))
    d = _distribution(w, "2026-10", scope="district", scope_id="all")
    assert d["teachers"].value == 1 and d["daily"].value == 1


def test_small_cells_are_suppressed_with_their_complement_at_min_n_ten():
    # 12 teachers: 9 never post, 3 post once in W45 (= every school week of W45: weekly). Cells: none 9
    # and weekly 3 are both small; the zeros are shown; the total 12 is shown.
    w = _community({f"r{i}": [date(2026, 11, 3)] for i in range(3)}, extra_teachers=9)
    d = _distribution(w, "2026-W45", min_n=10)
    assert d["teachers"].value == 12
    assert d["weekly"].suppressed is Suppression.SMALL_N  # posting in the week = active every school week
    assert d["none"].suppressed is Suppression.SMALL_N
    assert d["daily"].value == 0 and d["monthly"].value == 0 and d["rarely"].value == 0


def test_a_single_small_cell_takes_the_smallest_other_cell_with_it():
    # 14 teachers: none 11 (shown), weekly 3 (small). Total 14 - 11 would give weekly = 3, so the
    # next-smallest shown cell goes too: the zeros are smaller than 11, the first zero (daily) is picked.
    w = _community({f"w{i}": [date(2026, 11, 3)] for i in range(3)}, extra_teachers=11)
    d = _distribution(w, "2026-W45", min_n=10)
    assert d["weekly"].suppressed is Suppression.SMALL_N
    assert d["daily"].suppressed is Suppression.COMPLEMENTARY
    assert d["none"].value == 11 and d["teachers"].value == 14
