"""The district's own files: the PLI roster CSV and the school calendar TOML."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pli_pulse.school_calendar import SchoolCalendar
from simulator.district_files import (
    ROSTER_COLUMNS,
    RosterFileError,
    pli_roster_rows,
    read_pli_roster_csv,
    write_pli_roster_csv,
    write_school_calendar,
)
from simulator.generate import generate_district, school_days
from simulator.model import District


@pytest.fixture(scope="module")
def district() -> District:
    return generate_district(31, "small")


@pytest.fixture
def roster_path(district: District, tmp_path: Path) -> Path:
    path = tmp_path / "pli_roster.csv"
    write_pli_roster_csv(district, path)
    return path


def rewrite_cell(path: Path, line: int, column: str, value: str) -> None:
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    rows[line - 1][rows[0].index(column)] = value
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)


def test_roster_csv_round_trips_to_the_same_typed_rows(district: District, roster_path: Path) -> None:
    assert read_pli_roster_csv(roster_path) == pli_roster_rows(district)
    header = roster_path.read_text(encoding="utf-8").splitlines()[0]
    assert header == ",".join(ROSTER_COLUMNS)


def test_roster_has_one_row_per_pli_teacher_and_class(district: District, roster_path: Path) -> None:
    rows = read_pli_roster_csv(roster_path)
    expected = {
        (t, c.id)
        for com in district.communities.values()
        for c in (district.classes[x] for x in com.class_ids)
        for t in c.teacher_ids
        if t in com.teacher_ids
    }
    pairs = [(r.teacher_aad_id, r.class_id) for r in rows]
    assert len(set(pairs)) == len(pairs) and set(pairs) == expected
    assert len(rows) == len(expected) == sum(1 for c in district.classes.values() if c.is_pli)
    for r in rows:
        com = district.communities[r.community_id]
        assert r.teacher_upn == district.people[r.teacher_aad_id].upn
        assert r.coach_upn == district.people[com.coach_id].upn
        assert r.cohort == district.classes[r.class_id].cohort
        assert r.partner_school == district.schools[com.partner_school_id].display_name


def test_a_cell_that_is_not_a_guid_is_reported_by_line_and_column(roster_path: Path) -> None:
    rewrite_cell(roster_path, 3, "class_id", "Math 7 period 3")
    with pytest.raises(RosterFileError, match=r"line 3, column class_id: 'Math 7 period 3' is not a GUID"):
        read_pli_roster_csv(roster_path)


def test_a_bad_cohort_or_upn_is_reported_with_what_to_fix(roster_path: Path) -> None:
    rewrite_cell(roster_path, 2, "cohort", "year one")
    with pytest.raises(RosterFileError, match=r"line 2, column cohort: .*four-digit year.*fix that cell"):
        read_pli_roster_csv(roster_path)
    rewrite_cell(roster_path, 2, "cohort", "2025")
    rewrite_cell(roster_path, 4, "teacher_upn", "ana lopez")
    with pytest.raises(RosterFileError, match=r"line 4, column teacher_upn"):
        read_pli_roster_csv(roster_path)


def test_a_row_with_a_missing_cell_names_its_line(roster_path: Path) -> None:
    lines = roster_path.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0]
    roster_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(RosterFileError, match=r"line 3 has 9 cells but the header has 10 columns"):
        read_pli_roster_csv(roster_path)


def test_a_missing_header_column_or_required_cell_is_reported(roster_path: Path) -> None:
    rewrite_cell(roster_path, 2, "community_name", "")
    with pytest.raises(RosterFileError, match=r"line 2, column community_name: the cell is empty"):
        read_pli_roster_csv(roster_path)
    text = roster_path.read_text(encoding="utf-8").replace("coach_upn", "coach", 1)
    roster_path.write_text(text, encoding="utf-8")
    with pytest.raises(RosterFileError, match=r"header\) lacks column\(s\) coach_upn"):
        read_pli_roster_csv(roster_path)


def test_optional_cells_may_be_empty_and_a_bom_is_tolerated(roster_path: Path) -> None:
    rewrite_cell(roster_path, 2, "coach_upn", "")
    rewrite_cell(roster_path, 2, "partner_school", "")
    roster_path.write_text("\ufeff" + roster_path.read_text(encoding="utf-8"), encoding="utf-8")
    first = read_pli_roster_csv(roster_path)[0]
    assert first.coach_upn is None and first.partner_school is None


def test_the_calendar_file_gives_the_product_the_same_school_days(district: District, tmp_path: Path) -> None:
    path = tmp_path / "calendar.toml"
    write_school_calendar(district, path)
    base = SchoolCalendar(term_start=district.calendar.term_start, term_end=district.calendar.term_start)
    cal = base.merged_with_file(path)
    assert cal.term_start == district.calendar.term_start and cal.term_end == district.calendar.term_end
    assert cal.timezone == "America/Los_Angeles" and cal.weekdays == (1, 2, 3, 4, 5)
    assert cal.holidays == frozenset(district.calendar.holidays)
    assert cal.school_days() == list(school_days(district.calendar))
