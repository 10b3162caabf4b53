"""The typed inputs of every card builder (view models).

Builders are pure functions of these. Numbers arrive only as :class:`~measures.figures.Figure`, so a suppressed figure
has no value a card could print. No view model has a field for a student: cards cannot name one.
Every ``str`` that a person typed (class, community and teacher names, exemplar fields, search queries) is escaped by
the builders; view models hold the raw text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from measures.figures import DEFAULT_MIN_N, Figure


@dataclass(frozen=True, slots=True)
class Comparison:
    """One measure now, and what a reader compares it with.

    ``median`` is the community median on a class card and the district PLI median on a community digest.
    """

    current: Figure
    last_week: Figure | None = None
    median: Figure | None = None


@dataclass(frozen=True, slots=True)
class ToolUse:
    """Fresno Figure 11 for one tool: who used it, and on how many school days."""

    tool: str  # a key of vocabulary.TOOLS
    reach: Figure
    days: Figure  # mean distinct school days, over the students who used the tool
    days_per_enrolled: Figure  # the same total spread over every enrolled student


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image the app serves itself (signed, short-lived HTTPS URL) and what it shows, for readers without it."""

    url: str
    alt_text: str


@dataclass(frozen=True, slots=True)
class TabLink:
    """Where "Open dashboard" goes: a Teams deep link to the app's personal tab."""

    app_id: str
    entity_id: str
    sub_entity_id: str | None = None


@dataclass(frozen=True, slots=True)
class TeacherRef:
    """A teacher a card may mention or refresh for, and the display name.

    ``id`` is the Teams user id (MRI, ``29:...``) from the conversation's members: user-specific views need that
    form in ``refresh.userIds``, and mentions accept it too (they would also take an AAD object id or a UPN).
    """

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class ClassSummaryView:
    class_id: str
    class_name: str
    period_label: str  # e.g. "Week of 16 Nov 2026"
    enrolled: int
    fa_reach: Comparison
    fa_monthly_reach: Comparison
    feedback_turnaround: Comparison  # hours
    participation: Comparison
    peer_reach: Comparison
    tools: tuple[ToolUse, ...]
    teacher_share: Figure
    centralization: Figure
    dashboard: TabLink
    sparkline: ImageRef | None = None
    min_n: int = DEFAULT_MIN_N


@dataclass(frozen=True, slots=True)
class ExemplarView:
    exemplar_id: str
    title: str
    description: str
    subject: str  # a key of vocabulary.SUBJECTS
    grade_band: str  # a key of vocabulary.GRADE_BANDS
    practice: str  # a key of vocabulary.PLI_PRACTICES
    why_it_works: str
    url: str
    shared_by: str
    helpful_votes: int = 0


@dataclass(frozen=True, slots=True)
class DigestClassRow:
    class_id: str
    class_name: str
    teacher: TeacherRef
    opted_in: bool  # only opted-in classes get a row in a channel
    fa_reach: Comparison
    participation: Comparison
    peer_reach: Comparison


@dataclass(frozen=True, slots=True)
class ActivityBand:
    """Fresno Figure 9: how many of the community's teachers converse daily, weekly, ... (a count of teachers)."""

    band: str  # a key of vocabulary.ACTIVITY_BANDS
    teachers: Figure


@dataclass(frozen=True, slots=True)
class PrivateClassLine:
    class_name: str
    fa_reach: Comparison
    participation: Comparison
    peer_reach: Comparison


@dataclass(frozen=True, slots=True)
class PrivateDigestSection:
    """What one teacher sees in the digest (user-specific view): their own classes, opted in or not."""

    teacher: TeacherRef
    classes: tuple[PrivateClassLine, ...]


@dataclass(frozen=True, slots=True)
class CommunityDigestView:
    community_id: str
    community_name: str
    period_label: str
    fa_reach: Comparison  # community figures (median class), with last week
    fa_monthly_reach: Comparison
    feedback_turnaround: Comparison
    participation: Comparison
    peer_reach: Comparison
    activity: tuple[ActivityBand, ...]
    teachers: tuple[TeacherRef, ...]  # every teacher in the community (user-specific views)
    classes: tuple[DigestClassRow, ...]
    highlights: tuple[str, ...] = ()
    exemplars: tuple[ExemplarView, ...] = ()  # candidates; the card picks the ones for the weakest measure
    dashboard: TabLink | None = None
    min_n: int = DEFAULT_MIN_N


@dataclass(frozen=True, slots=True)
class ExemplarSearchView:
    query: str
    results: tuple[ExemplarView, ...]  # this page only
    page: int  # 1-based
    page_size: int
    total: int


@dataclass(frozen=True, slots=True)
class CommunityChoice:
    community_id: str
    name: str


@dataclass(frozen=True, slots=True)
class ExemplarFormView:
    """The submission form; on a second showing ``previous`` holds what was typed and ``errors`` says what to fix."""

    communities: tuple[CommunityChoice, ...] = ()
    previous: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExemplarDraft:
    """A validated submission, ready to store."""

    title: str
    url: str
    description: str
    why_it_works: str
    subject: str
    grade_band: str
    practice: str
    community_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CommandHelp:
    command: str
    what: str


DEFAULT_COMMANDS: tuple[CommandHelp, ...] = (
    CommandHelp("summary", "this week's summary of your classes"),
    CommandHelp("summary Algebra 1", "one class by name"),
    CommandHelp("exemplars peer feedback", "search exemplars shared by coaches"),
    CommandHelp("share exemplar", "share an activity that worked (coaches)"),
    CommandHelp("opt in", "show your class rows in your community's digest"),
    CommandHelp("help", "show this card again"),
)


@dataclass(frozen=True, slots=True)
class WelcomeView:
    user_name: str | None = None
    unknown_command: str | None = None  # set when the card answers a command the bot did not understand
    commands: tuple[CommandHelp, ...] = DEFAULT_COMMANDS


@dataclass(frozen=True, slots=True)
class ErrorView:
    what_happened: str
    what_to_do: str
    reference: str | None = None  # a short code support can look up in the logs; never a stack trace
