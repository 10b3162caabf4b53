"""The district's school calendar: which dates are school days, in the district's time zone.

Measures count *school days*, so a Sunday-night post in Fresno (already Monday in UTC) must count for
Sunday. Every timestamp is converted with ``to_district_date`` before it meets the calendar.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class SchoolCalendar:
    term_start: date
    term_end: date
    timezone: str = "America/Los_Angeles"
    weekdays: tuple[int, ...] = (1, 2, 3, 4, 5)  # ISO weekday numbers
    holidays: frozenset[date] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, settings) -> SchoolCalendar:
        cal = cls(
            term_start=settings.calendar_term_start,
            term_end=settings.calendar_term_end,
            timezone=settings.calendar_timezone,
            weekdays=tuple(settings.calendar_school_weekdays),
            holidays=frozenset(settings.calendar_holidays),
        )
        if settings.calendar_file is not None:
            cal = cal.merged_with_file(Path(settings.calendar_file))
        return cal

    def merged_with_file(self, path: Path) -> SchoolCalendar:
        """A district calendar file (TOML: term_start, term_end, holidays) overrides the inline values."""
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return SchoolCalendar(
            term_start=data.get("term_start", self.term_start),
            term_end=data.get("term_end", self.term_end),
            timezone=data.get("timezone", self.timezone),
            weekdays=tuple(data.get("school_weekdays", self.weekdays)),
            holidays=frozenset(data.get("holidays", [])) | self.holidays,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_school_day(self, d: date) -> bool:
        return self.term_start <= d <= self.term_end and d.isoweekday() in self.weekdays and d not in self.holidays

    def school_days(self, start: date | None = None, end: date | None = None) -> list[date]:
        """School days in [start, end] (inclusive), clipped to the term."""
        lo = max(start or self.term_start, self.term_start)
        hi = min(end or self.term_end, self.term_end)
        out = []
        d = lo
        while d <= hi:
            if self.is_school_day(d):
                out.append(d)
            d += timedelta(days=1)
        return out

    def to_district_date(self, ts: datetime) -> date:
        if ts.tzinfo is None:
            raise ValueError("naive timestamp: every timestamp must carry its time zone")
        return ts.astimezone(self.zone).date()

    def school_days_in(self, dates: Iterable[date]) -> set[date]:
        return {d for d in dates if self.is_school_day(d)}
