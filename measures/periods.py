"""Reporting periods: an ISO week, a calendar month, or the term to date.

A period is always resolved against the school calendar and an "as of" date, because a measure for the
current week must not count days that have not happened yet, and nothing outside the term counts at all.
Labels are the strings people type and the store keys on: ``2026-W47``, ``2026-11``, ``term``.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from pli_pulse.school_calendar import SchoolCalendar

PeriodKind = Literal["week", "month", "term"]
TERM = "term"

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(ValueError):
    """A period label that cannot be used; the message says what to type instead."""


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A resolved period: ``start``..``end`` inclusive, already clipped to the term and the as-of date."""

    start: date
    end: date
    label: str
    kind: PeriodKind

    def __str__(self) -> str:
        return self.label

    def contains(self, d: date) -> bool:
        return self.start <= d <= self.end

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def today_in_district(calendar: SchoolCalendar, now: datetime | None = None) -> date:
    now = now or datetime.now(calendar.zone)
    return calendar.to_district_date(now)


def _nominal(label: str, calendar: SchoolCalendar) -> tuple[date, date, PeriodKind]:
    if label == TERM:
        return calendar.term_start, calendar.term_end, "term"
    if m := _WEEK.match(label):
        year, week = int(m.group(1)), int(m.group(2))
        try:
            monday = date.fromisocalendar(year, week, 1)
        except ValueError:
            raise PeriodError(f"{label!r} is not an ISO week: {year} has no week {week}") from None
        return monday, monday + timedelta(days=6), "week"
    if m := _MONTH.match(label):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise PeriodError(f"{label!r} is not a month: use YYYY-MM with a month from 01 to 12")
        first = date(year, month, 1)
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        return first, nxt - timedelta(days=1), "month"
    raise PeriodError(f"{label!r} is not a period: use an ISO week like 2026-W47, a month like 2026-11, or 'term'")


def parse_period(label: str, calendar: SchoolCalendar, as_of: date | None = None) -> Period:
    """Resolve a label to dates clipped to the term and to ``as_of`` (default: today in the district)."""
    label = label.strip()
    as_of = as_of or today_in_district(calendar)
    start, end, kind = _nominal(label, calendar)
    lo = max(start, calendar.term_start)
    hi = min(end, calendar.term_end, as_of)
    if lo > hi:
        if start > as_of:
            raise PeriodError(f"{label} has not started yet (as of {as_of.isoformat()}); choose an earlier period")
        raise PeriodError(
            f"{label} lies outside the term {calendar.term_start.isoformat()}..{calendar.term_end.isoformat()}; "
            "choose a period inside the term"
        )
    return Period(lo, hi, label, kind)


def week_label(d: date) -> str:
    iso = d.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def month_label(d: date) -> str:
    return f"{d.year}-{d.month:02d}"


def format_period(period: Period) -> str:
    """Human text for headings: the label and the dates it covers."""
    return f"{period.label} ({period.start.isoformat()} to {period.end.isoformat()})"


def previous_period(period: Period, calendar: SchoolCalendar, as_of: date | None = None) -> Period | None:
    """The week or month before; the term has no previous period here. None when it falls before the term."""
    if period.kind == "term":
        return None
    start, _, _ = _nominal(period.label, calendar)
    before = start - timedelta(days=1)
    label = week_label(before) if period.kind == "week" else month_label(before)
    try:
        return parse_period(label, calendar, as_of or period.end)
    except PeriodError:
        return None


def current_week(calendar: SchoolCalendar, as_of: date | None = None) -> Period:
    as_of = min(as_of or today_in_district(calendar), calendar.term_end)
    return parse_period(week_label(as_of), calendar, as_of)


def periods_containing(dates: Iterable[date], calendar: SchoolCalendar, as_of: date) -> list[Period]:
    """Every week and month that contains one of ``dates`` (inside the term and not after as_of), plus the term."""
    labels: set[str] = set()
    for d in dates:
        if calendar.term_start <= d <= min(calendar.term_end, as_of):
            labels.add(week_label(d))
            labels.add(month_label(d))
    out = sorted({parse_period(label, calendar, as_of) for label in labels}, key=lambda p: (p.kind, p.start))
    if as_of >= calendar.term_start:
        out.append(parse_period(TERM, calendar, as_of))
    return out


def all_periods(calendar: SchoolCalendar, as_of: date) -> list[Period]:
    """Every week and month of the term up to ``as_of``, and the term to date."""
    end = min(calendar.term_end, as_of)
    days = [calendar.term_start + timedelta(days=i) for i in range((end - calendar.term_start).days + 1)]
    return periods_containing(days, calendar, as_of)


def months_in(start: date, end: date) -> list[tuple[date, date]]:
    """The calendar months overlapping [start, end], each clipped to it."""
    out = []
    d = start
    while d <= end:
        nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        out.append((d, min(end, nxt - timedelta(days=1))))
        d = nxt
    return out


def weeks_in(start: date, end: date) -> list[tuple[date, date]]:
    """The ISO weeks overlapping [start, end], each clipped to it."""
    out = []
    d = start
    while d <= end:
        sunday = d + timedelta(days=7 - d.isoweekday())
        out.append((d, min(end, sunday)))
        d = sunday + timedelta(days=1)
    return out


def fa_monthly_window(period: Period, calendar: SchoolCalendar) -> tuple[date, date]:
    """The range fa_monthly_reach looks at: P itself, or for a week the month to date of its last school day.

    PRODUCT.md §4: "For a week, use the month to date that contains the week's last school day." A week
    with no school day (a holiday week) falls back to the month containing the week's last day.
    """
    if period.kind != "week":
        return period.start, period.end
    school = calendar.school_days(period.start, period.end)
    last = school[-1] if school else period.end
    month_start, month_end = months_in(last.replace(day=1), last.replace(day=28) + timedelta(days=4))[0]
    return max(month_start, calendar.term_start), min(period.end, month_end)


def reach(period: Period, calendar: SchoolCalendar) -> tuple[date, date]:
    """The dates a period's figures are computed from: the period, and for a week also its fa_monthly window
    (the month to date), so a late event early in a month changes that month's later weeks too."""
    start, end = fa_monthly_window(period, calendar)
    return min(start, period.start), max(end, period.end)


def periods_touched(dates: Iterable[date], calendar: SchoolCalendar, as_of: date) -> list[Period]:
    """Every period up to ``as_of`` whose figures draw on one of ``dates`` (``reach``), in ``all_periods`` order."""
    dates = sorted(set(dates))
    out = []
    for period in all_periods(calendar, as_of):
        lo, hi = reach(period, calendar)
        i = bisect_left(dates, lo)
        if i < len(dates) and dates[i] <= hi:
            out.append(period)
    return out


def previous_label(label: str) -> str | None:
    """The label before ``label`` without a calendar (for store look-ups); None for the term."""
    if m := _WEEK.match(label):
        monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        return week_label(monday - timedelta(days=7))
    if m := _MONTH.match(label):
        year, month = int(m.group(1)), int(m.group(2))
        return f"{year - (month == 1)}-{(month - 2) % 12 + 1:02d}"
    return None
