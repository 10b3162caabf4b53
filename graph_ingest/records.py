"""What the ingest keeps: small typed records of acts, never content.

Parsers return these and nothing else, so a body, subject, answer or grade cannot reach the store by
accident: there is no field to put it in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import NamedTuple

#: Maps an AAD object id to the key stored for that person (teachers: the id; students: HMAC pseudonym).
PersonKey = Callable[[str], str]


def parse_time(value: str | None) -> datetime | None:
    """Graph timestamps are ISO 8601 with Z; Python 3.11 parses them directly, keeping them aware."""
    if not value:
        return None
    ts = datetime.fromisoformat(value)
    if ts.tzinfo is None:
        raise ValueError(f"timestamp without a time zone from Graph: {value!r}")
    return ts


class EventRecord(NamedTuple):
    """One act by one person. A NamedTuple rather than a frozen dataclass: just as immutable, and built
    three times faster, which counts at one record per message, reply, reaction and mention."""

    source_id: str
    tool: str
    kind: str
    actor_key: str
    occurred_at: datetime
    class_id: str | None = None
    community_id: str | None = None
    target_key: str | None = None
    object_id: str | None = None

    def row(self, run_id: int | None = None) -> dict:
        """The store row (the writer itself passes tuples: ``store.upsert.insert_new``)."""
        return {**self._asdict(), "run_id": run_id}


@dataclass(frozen=True, slots=True)
class FormLink:
    """A Forms quiz seen in a class: through an assignment resource or a link posted in a channel."""

    form_id: str
    class_id: str
    seen_via: str  # assignment | channel_link

    def row(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class AssignmentRecord:
    assignment_id: str
    class_id: str
    has_forms_resource: bool
    form_id: str | None
    assigned_at: datetime | None
    due_at: datetime | None
    status: str | None

    def row(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SubmissionRecord:
    submission_id: str
    assignment_id: str
    class_id: str
    student_key: str
    submitted_at: datetime | None
    returned_at: datetime | None
    status: str | None

    def row(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class MemberRecord:
    class_id: str
    person_key: str
    role: str  # student | teacher
    joined_on: date | None

    def row(self) -> dict:
        return {**asdict(self), "left_on": None}
