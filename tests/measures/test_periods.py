"""Period labels resolve to date ranges clipped to the term and to the as-of date."""

from __future__ import annotations

from datetime import date

import pytest

from measures.periods import (
    PeriodError,
    all_periods,
    fa_monthly_window,
    format_period,
    parse_period,
    periods_containing,
    periods_touched,
    previous_label,
    previous_period,
)
from tests.measures.world import CALENDAR


def test_an_iso_week_runs_monday_to_sunday():
    p = parse_period("2026-W47", CALENDAR, date(2026, 12, 1))
    assert (p.start, p.end, p.kind) == (date(2026, 11, 16), date(2026, 11, 22), "week")
    assert format_period(p) == "2026-W47 (2026-11-16 to 2026-11-22)"


def test_periods_are_clipped_to_the_term_and_to_as_of():
    assert parse_period("2026-10", CALENDAR, date(2026, 12, 1)).start == date(2026, 10, 19)
    assert parse_period("2026-12", CALENDAR, date(2026, 12, 31)).end == date(2026, 12, 18)
    assert parse_period("2026-W47", CALENDAR, date(2026, 11, 18)).end == date(2026, 11, 18)
    term = parse_period("term", CALENDAR, date(2026, 11, 18))
    assert (term.start, term.end) == (date(2026, 10, 19), date(2026, 11, 18))


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("2026-13", "month from 01 to 12"),
        ("2026-W60", "has no week 60"),
        ("last week", "use an ISO week like 2026-W47"),
        ("2027-01", "has not started yet"),
        ("2026-09", "outside the term"),
    ],
)
def test_a_bad_label_says_what_to_type_instead(label, message):
    with pytest.raises(PeriodError, match=message):
        parse_period(label, CALENDAR, date(2026, 12, 18))


def test_previous_periods():
    p = parse_period("2026-W44", CALENDAR, date(2026, 12, 1))
    assert previous_period(p, CALENDAR).label == "2026-W43"
    assert previous_period(parse_period("2026-W43", CALENDAR, date(2026, 12, 1)), CALENDAR) is None
    assert previous_period(parse_period("term", CALENDAR, date(2026, 12, 1)), CALENDAR) is None
    assert previous_label("2026-W01") == "2025-W52"
    assert previous_label("2027-01") == "2026-12"
    assert previous_label("2026-11") == "2026-10"
    assert previous_label("term") is None


def test_all_periods_lists_the_weeks_months_and_term_up_to_as_of():
    labels = [p.label for p in all_periods(CALENDAR, date(2026, 11, 3))]
    assert labels == ["2026-10", "2026-11", "2026-W43", "2026-W44", "2026-W45", "term"]
    assert [p.label for p in periods_containing([date(2026, 11, 30)], CALENDAR, date(2026, 12, 18))] == [
        "2026-11",
        "2026-W49",
        "term",
    ]


def test_a_date_touches_its_week_its_month_the_term_and_the_later_weeks_whose_month_to_date_holds_it():
    as_of = date(2026, 12, 18)
    labels = [p.label for p in periods_touched([date(2026, 12, 2)], CALENDAR, as_of)]
    # W49 (30 Nov .. 6 Dec) contains it; W50 and W51 look at December to date for fa_monthly_reach.
    assert labels == ["2026-12", "2026-W49", "2026-W50", "2026-W51", "term"]
    # 30 November: W49's monthly window is December to date (its last school day), so only W49 and November.
    assert [p.label for p in periods_touched([date(2026, 11, 30)], CALENDAR, as_of)] == ["2026-11", "2026-W49", "term"]
    assert periods_touched([], CALENDAR, as_of) == []


def test_the_monthly_window_of_a_week_is_the_month_to_date_of_its_last_school_day():
    w49 = parse_period("2026-W49", CALENDAR, date(2026, 12, 18))  # Mon 30 Nov .. Sun 6 Dec
    assert fa_monthly_window(w49, CALENDAR) == (date(2026, 12, 1), date(2026, 12, 6))
    w44 = parse_period("2026-W44", CALENDAR, date(2026, 12, 18))  # Mon 26 Oct .. Sun 1 Nov
    assert fa_monthly_window(w44, CALENDAR) == (date(2026, 10, 19), date(2026, 10, 31))
