"""The fixed words cards use: measure names, tools, exemplar choice lists and what each measure calls for.

Kept in one place so the submission form, its validator, the search filters and the "exemplars for this" action all
agree on the same keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from measures.figures import DEFAULT_MIN_N, Suppression


@dataclass(frozen=True, slots=True)
class MeasureInfo:
    key: str
    label: str
    #: "share" (0..1 shown as %), "hours" (lower is better), "days" (mean school days)
    unit: str
    #: the PLI practice whose exemplars help when this measure is weak
    practice: str

    @property
    def higher_is_better(self) -> bool:
        return self.unit != "hours"


MEASURES: MappingProxyType[str, MeasureInfo] = MappingProxyType(
    {
        "fa_reach": MeasureInfo("fa_reach", "FA reach", "share", "formative_assessment"),
        "fa_monthly_reach": MeasureInfo("fa_monthly_reach", "FA every month", "share", "formative_assessment"),
        "feedback_turnaround": MeasureInfo("feedback_turnaround", "Feedback turnaround", "hours", "timely_feedback"),
        "participation": MeasureInfo("participation", "Participation", "share", "student_discourse"),
        "peer_reach": MeasureInfo("peer_reach", "Peer reach", "share", "peer_collaboration"),
    }
)

TOOLS: MappingProxyType[str, str] = MappingProxyType(
    {"teams": "Teams", "assignments": "Assignments", "forms": "Forms", "onenote": "OneNote"}
)

SUBJECTS: MappingProxyType[str, str] = MappingProxyType(
    {
        "ela": "English language arts",
        "math": "Mathematics",
        "science": "Science",
        "social_studies": "Social studies",
        "world_languages": "World languages",
        "arts": "Arts",
        "pe_health": "PE and health",
        "cte": "Career and technical education",
        "other": "Other",
    }
)

GRADE_BANDS: MappingProxyType[str, str] = MappingProxyType(
    {"k2": "K–2", "3_5": "Grades 3–5", "6_8": "Grades 6–8", "9_12": "Grades 9–12"}
)

PLI_PRACTICES: MappingProxyType[str, str] = MappingProxyType(
    {
        "formative_assessment": "Frequent formative assessment",
        "timely_feedback": "Timely feedback",
        "adapted_instruction": "Adapting instruction to evidence",
        "student_discourse": "Student discourse",
        "peer_collaboration": "Peer collaboration",
    }
)

#: Teacher community activity bands, in the order Fresno Figure 9 shows them.
ACTIVITY_BANDS: MappingProxyType[str, str] = MappingProxyType(
    {"daily": "Daily", "weekly": "Weekly", "monthly": "Monthly", "rarely": "Rarely", "none": "Not active"}
)


def suppression_words(reason: Suppression, min_n: int = DEFAULT_MIN_N, who: str = "students") -> str:
    """Why a figure is hidden, in words a teacher reads in a few seconds."""
    if reason is Suppression.SMALL_N:
        return f"fewer than {min_n} {who}"
    if reason is Suppression.COMPLEMENTARY:
        return "hidden so a small group cannot be worked out from the totals"
    if reason is Suppression.FEW_CLASSES:
        return "fewer than 3 classes to compare with, so another teacher's class would show through"
    return "no data yet this period"
