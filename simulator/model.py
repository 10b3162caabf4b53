"""The simulated district's data model: the facts the generator decides and the servers serve.

Two layers, so that a 75,000-student district fits in bounded memory:
- ``District``: the roster-sized facts (schools, people, classes, enrolments, communities, calendar).
  Always in memory; about 100 MB at district scale.
- ``ClassActivity`` / ``CommunityActivity``: the activity of ONE class team or community team. It is
  generated on demand, deterministically from (seed, class id), so a server or the ground truth can
  walk all classes one at a time and drop each after use.

Ids look like Graph ids (GUIDs for users and groups, numeric strings for channel messages).
Every timestamp is timezone-aware UTC. The simulator is allowed to hold content (message bodies,
points): the real Graph does, and the product must prove it drops them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

Role = Literal["student", "teacher"]


@dataclass(frozen=True, slots=True)
class School:
    id: str
    display_name: str
    external_id: str


@dataclass(frozen=True, slots=True)
class Person:
    id: str  # AAD object id (GUID)
    display_name: str
    upn: str  # user principal name, e.g. ana.lopez@fresno.example.edu
    role: Role
    school_id: str
    grade: str | None = None  # students only
    external_id: str = ""  # student number or teacher number


@dataclass(frozen=True, slots=True)
class Enrollment:
    class_id: str
    user_id: str
    role: Role
    joined_on: date  # first district date the member is in the class (mid-term joiners differ)


@dataclass(frozen=True, slots=True)
class Channel:
    id: str  # e.g. "19:abc...@thread.tacv2"
    display_name: str


@dataclass(frozen=True, slots=True)
class SchoolClass:
    id: str  # = group id = team id
    display_name: str
    school_id: str
    subject: str
    grade: str
    term: str
    is_pli: bool
    cohort: str | None  # PLI cohort, e.g. "2026"; None for non-PLI classes
    teacher_ids: tuple[str, ...]
    channels: tuple[Channel, ...]  # channels[0] is General
    class_code: str = ""
    mail_nickname: str = ""
    period: int = 1  # the daily period (1-6) the class meets in; class activity clusters in its time window


@dataclass(frozen=True, slots=True)
class Community:
    """An accountable community: a team of PLI teachers with its own conversation channel."""

    id: str  # team id of the community team
    display_name: str
    channel: Channel
    teacher_ids: tuple[str, ...]
    coach_id: str
    class_ids: tuple[str, ...]
    partner_school_id: str | None
    # How often each teacher converses: "daily" | "weekly" | "monthly" | "rarely" | "none".
    posting_habit: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reaction:
    user_id: str
    reaction_type: str  # like, heart, laugh, surprised
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Message:
    """A channel message (a top-level post when ``reply_to_id`` is None, else a reply)."""

    id: str
    team_id: str
    channel_id: str
    reply_to_id: str | None
    author_id: str
    created_at: datetime
    body_html: str  # content: served, never stored by the product
    mention_ids: tuple[str, ...] = ()
    reactions: tuple[Reaction, ...] = ()
    form_id: str | None = None  # a Forms link inside the body, if any

    @property
    def last_modified_at(self) -> datetime:
        """Graph bumps lastModifiedDateTime when a reaction is added."""
        return max([self.created_at, *(r.created_at for r in self.reactions)])


@dataclass(frozen=True, slots=True)
class Resource:
    kind: str  # Graph @odata.type suffix, e.g. "educationLinkResource"
    display_name: str
    url: str | None


@dataclass(frozen=True, slots=True)
class Assignment:
    id: str
    class_id: str
    display_name: str
    created_at: datetime
    assigned_at: datetime
    due_at: datetime
    resources: tuple[Resource, ...]
    form_id: str | None  # set when one resource is a Forms quiz link
    max_points: float | None


@dataclass(frozen=True, slots=True)
class Submission:
    id: str
    assignment_id: str
    class_id: str
    student_id: str
    submitted_at: datetime | None  # None: never submitted (status "working")
    returned_at: datetime | None  # feedback or points returned
    points: float | None  # content: served, never stored by the product
    feedback_text: str | None  # content: served, never stored by the product


@dataclass(frozen=True, slots=True)
class FormResponse:
    form_id: str
    user_id: str
    responded_at: datetime
    operation: Literal["SubmitResponse", "CreateResponse"] = "SubmitResponse"


@dataclass(frozen=True, slots=True)
class NotebookEdit:
    """An edit in a class notebook: in the student's own section group or in the Collaboration Space."""

    class_id: str
    user_id: str
    section_group_id: str
    section_id: str
    edited_at: datetime
    space: Literal["student", "collaboration"]


@dataclass(frozen=True, slots=True)
class ClassActivity:
    class_id: str
    messages: tuple[Message, ...]  # posts and replies, in created order
    assignments: tuple[Assignment, ...]
    submissions: tuple[Submission, ...]
    form_responses: tuple[FormResponse, ...]
    notebook_edits: tuple[NotebookEdit, ...]


@dataclass(frozen=True, slots=True)
class CommunityActivity:
    community_id: str
    messages: tuple[Message, ...]


@dataclass(frozen=True, slots=True)
class Calendar:
    term_start: date
    term_end: date
    timezone: str
    holidays: tuple[date, ...]
    weekdays: tuple[int, ...] = (1, 2, 3, 4, 5)


@dataclass
class District:
    seed: int
    scale: Literal["small", "district"]
    tenant_id: str
    domain: str
    calendar: Calendar
    schools: dict[str, School]
    people: dict[str, Person]
    classes: dict[str, SchoolClass]
    enrollments: dict[str, tuple[Enrollment, ...]]  # class id -> members (students and teachers)
    communities: dict[str, Community]
    coach_ids: tuple[str, ...] = ()
