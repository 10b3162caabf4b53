"""The files a real district hands over at setup: the PLI roster CSV and the school calendar TOML.

PLI roster CSV: the format is the product's and is documented once, in ``graph_ingest.sources.pli_roster``
(the module that reads it); ``write_pli_roster_csv`` writes exactly those columns.

School calendar TOML (read by ``pli_pulse.school_calendar.SchoolCalendar.merged_with_file``)::

    term_start = 2026-10-26            # TOML dates
    term_end = 2026-12-04
    timezone = "America/Los_Angeles"
    school_weekdays = [1, 2, 3, 4, 5]  # ISO weekday numbers, Monday = 1
    holidays = [2026-11-11, 2026-11-25]
"""

from __future__ import annotations

import csv
from pathlib import Path

from graph_ingest.sources.pli_roster import (  # the product owns the format; the simulator writes it
    ROSTER_COLUMNS,
    PliRosterRow,
    RosterFileError,
    read_pli_roster_csv,
)
from simulator.model import District

__all__ = [
    "ROSTER_COLUMNS",
    "PliRosterRow",
    "RosterFileError",
    "pli_roster_rows",
    "read_pli_roster_csv",
    "write_pli_roster_csv",
    "write_school_calendar",
]


def pli_roster_rows(district: District) -> list[PliRosterRow]:
    """One row per PLI teacher x PLI class they teach, community by community."""
    rows = []
    people, schools, classes = district.people, district.schools, district.classes
    for com in district.communities.values():
        partner = schools[com.partner_school_id].display_name if com.partner_school_id else None
        coach = people[com.coach_id].upn if com.coach_id else None
        for class_id in com.class_ids:
            cls = classes[class_id]
            for teacher_id in cls.teacher_ids:
                if teacher_id not in com.teacher_ids or cls.cohort is None:
                    continue
                teacher = people[teacher_id]
                rows.append(
                    PliRosterRow(
                        teacher_id,
                        teacher.upn,
                        teacher.display_name,
                        cls.id,
                        cls.display_name,
                        cls.cohort,
                        partner,
                        com.id,
                        com.display_name,
                        coach,
                    )
                )
    return rows


def write_pli_roster_csv(district: District, path: str | Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(ROSTER_COLUMNS)
        for row in pli_roster_rows(district):
            writer.writerow(["" if getattr(row, c) is None else getattr(row, c) for c in ROSTER_COLUMNS])


def school_calendar_toml(district: District) -> str:
    cal = district.calendar
    holidays = ", ".join(d.isoformat() for d in sorted(cal.holidays))
    return (
        f"# School calendar of the simulated district (seed {district.seed}, scale {district.scale}).\n"
        f"term_start = {cal.term_start.isoformat()}\n"
        f"term_end = {cal.term_end.isoformat()}\n"
        f'timezone = "{cal.timezone}"\n'
        f"school_weekdays = [{', '.join(str(d) for d in cal.weekdays)}]\n"
        f"holidays = [{holidays}]\n"
    )


def write_school_calendar(district: District, path: str | Path) -> None:
    Path(path).write_text(school_calendar_toml(district), encoding="utf-8")
