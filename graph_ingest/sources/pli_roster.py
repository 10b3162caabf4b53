"""The PLI roster: which teachers and classes are PLI, their cohort, community and coach.

A real district fills this file in; the simulated district writes one in the same format.

PLI roster CSV (UTF-8, a BOM is tolerated; comma-separated; first line is the header; one row per PLI
teacher x class; column order is free, extra columns are ignored, every column below must be present):

| column | required | meaning |
|---|---|---|
| ``teacher_aad_id`` | yes | the teacher's Entra ID (Azure AD) object id, a GUID |
| ``teacher_upn`` | yes | the teacher's sign-in name, e.g. ``ana.lopez@fresno-pli.example.edu`` |
| ``teacher_name`` | yes | display name, for the district lead's own checking |
| ``class_id`` | yes | the education class id (= Microsoft 365 group id = team id), a GUID |
| ``class_name`` | yes | class display name, e.g. ``Math 7 - Period 3`` |
| ``cohort`` | yes | PLI cohort: the four-digit year the teacher joined PLI, e.g. ``2025`` |
| ``partner_school`` | no | display name of the community's partner school; empty if none |
| ``community_id`` | yes | team id (GUID) of the teacher's accountable-community team |
| ``community_name`` | yes | display name of that community |
| ``coach_upn`` | no | sign-in name of the community's PLI coach; empty if none |
"""

from __future__ import annotations

import csv
import re
import uuid
from dataclasses import dataclass, fields
from pathlib import Path

ROSTER_COLUMNS = (
    "teacher_aad_id",
    "teacher_upn",
    "teacher_name",
    "class_id",
    "class_name",
    "cohort",
    "partner_school",
    "community_id",
    "community_name",
    "coach_upn",
)
_OPTIONAL = {"partner_school", "coach_upn"}
_UPN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COHORT = re.compile(r"^(19|20)\d\d$")


class RosterFileError(ValueError):
    """A PLI roster file the import cannot use; the message names the line and the column to fix."""


@dataclass(frozen=True, slots=True)
class PliRosterRow:
    teacher_aad_id: str
    teacher_upn: str
    teacher_name: str
    class_id: str
    class_name: str
    cohort: str
    partner_school: str | None
    community_id: str
    community_name: str
    coach_upn: str | None


def read_pli_roster_csv(path: str | Path) -> list[PliRosterRow]:
    """Parse and check a PLI roster file; the first problem found raises ``RosterFileError``."""
    path = Path(path)
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise RosterFileError(
                f"{path}: the file is empty; it needs a header line: {','.join(ROSTER_COLUMNS)}"
            ) from None
        missing = [c for c in ROSTER_COLUMNS if c not in header]
        if missing:
            raise RosterFileError(
                f"{path}: line 1 (header) lacks column(s) {', '.join(missing)}; the header must name all of: "
                f"{','.join(ROSTER_COLUMNS)}"
            )
        where = {c: header.index(c) for c in ROSTER_COLUMNS}
        rows = []
        for cells in reader:
            line = reader.line_num
            if not any(c.strip() for c in cells):
                continue  # blank lines are harmless
            if len(cells) != len(header):
                raise RosterFileError(
                    f"{path}: line {line} has {len(cells)} cells but the header has {len(header)} columns; "
                    "check for a missing or extra comma, or quote cells that contain commas"
                )
            values = {c: cells[i].strip() for c, i in where.items()}
            rows.append(_row(path, line, values))
    return rows


def _row(path: Path, line: int, values: dict[str, str]) -> PliRosterRow:
    def bad(column: str, problem: str) -> RosterFileError:
        return RosterFileError(f"{path}: line {line}, column {column}: {problem}; fix that cell and import again")

    for c in ROSTER_COLUMNS:
        if c not in _OPTIONAL and not values[c]:
            raise bad(c, "the cell is empty but is required")
    for c in ("teacher_aad_id", "class_id", "community_id"):
        try:
            uuid.UUID(values[c])
        except ValueError:
            raise bad(c, f"{values[c]!r} is not a GUID (copy the id from Entra ID or Teams)") from None
    for c in ("teacher_upn", "coach_upn"):
        if values[c] and not _UPN.match(values[c]):
            raise bad(c, f"{values[c]!r} is not a sign-in name like name@district.edu")
    if not _COHORT.match(values["cohort"]):
        raise bad("cohort", f"{values['cohort']!r} is not a four-digit year such as 2025")
    kwargs = {f.name: (values[f.name] or None) if f.name in _OPTIONAL else values[f.name] for f in fields(PliRosterRow)}
    kwargs["teacher_aad_id"] = kwargs["teacher_aad_id"].lower()
    kwargs["class_id"] = kwargs["class_id"].lower()
    kwargs["community_id"] = kwargs["community_id"].lower()
    return PliRosterRow(**kwargs)
