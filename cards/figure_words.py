"""How figures become words: values, trends, comparisons with a median and the shape of a class network.

A suppressed Figure has no value, so nothing here can print one; every function that needs two shown figures says
so in words instead ("no comparison: last week is suppressed"). Trends carry an arrow AND words; the colour they
suggest is decoration only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cards.views import Comparison
from cards.vocabulary import MEASURES, MeasureInfo, suppression_words
from measures.figures import DEFAULT_MIN_N, Figure

#: A change smaller than this is "steady": 2 percentage points for shares, 10% (at least 1 h) for turnaround hours,
#: 0.2 days for day counts. Week-to-week noise in a class of 25 is about one student, i.e. 4 points.
STEADY_POINTS = 2.0
STEADY_HOURS_RELATIVE = 0.10
STEADY_HOURS_MIN = 1.0
STEADY_DAYS = 0.2

#: Network shape thresholds (teacher_share = share of interactions that involve the teacher; centralization = Freeman
#: degree centralization of the student subgraph, 0 even .. 1 star).
#: - teacher_share >= 0.60: most interactions go through the teacher -> "mostly teacher-centred";
#: - else centralization >= 0.50: students talk, but through one or two hubs -> "student-led, around a few students";
#: - else teacher_share <= 0.40 and centralization < 0.30: many students reply to many -> "peer-driven";
#: - otherwise -> "a mix of teacher-led and peer conversation".
TEACHER_CENTRED_SHARE = 0.60
PEER_DRIVEN_SHARE = 0.40
HUB_CENTRALIZATION = 0.50
EVEN_CENTRALIZATION = 0.30

ARROW_UP = "↑"
ARROW_DOWN = "↓"
ARROW_STEADY = "→"


def format_value(fig: Figure, unit: str) -> str:
    """A shown figure as text; a suppressed one as the word "suppressed" (never a number)."""
    if not fig.shown:
        return "suppressed"
    value = fig.value
    assert value is not None
    if unit == "share":
        return f"{round(value * 100)}%"
    if unit == "hours":
        return f"{value:.0f} h" if value < 48 else f"{value / 24:.1f} days"
    if unit == "days":
        return f"{value:.1f} days"
    if unit == "count":
        return f"{value:.0f}"
    raise ValueError(f"unknown unit {unit!r}")


def figure_words(fig: Figure, unit: str, min_n: int = DEFAULT_MIN_N, who: str = "students") -> str:
    """Value, or "suppressed (fewer than 10 students)"."""
    if fig.shown:
        return format_value(fig, unit)
    assert fig.suppressed is not None
    return f"suppressed ({suppression_words(fig.suppressed, min_n, who)})"


@dataclass(frozen=True, slots=True)
class Trend:
    arrow: str
    words: str
    color: str  # "Good", "Attention" or "Default": decoration; arrow and words carry the meaning

    @property
    def text(self) -> str:
        return f"{self.arrow} {self.words}" if self.arrow else self.words


def trend(comparison: Comparison, info: MeasureInfo) -> Trend:
    cur, prev = comparison.current, comparison.last_week
    if prev is None:
        return Trend("", "no figure for last week", "Default")
    if not cur.shown or not prev.shown:
        which = "this week" if not cur.shown else "last week"
        return Trend("", f"no trend: {which} is suppressed", "Default")
    assert cur.value is not None and prev.value is not None
    delta = cur.value - prev.value
    if info.unit == "share":
        points = delta * 100
        if abs(points) < STEADY_POINTS:
            return Trend(ARROW_STEADY, "steady since last week", "Default")
        size = f"{abs(round(points))} points"
    elif info.unit == "hours":
        if abs(delta) < max(STEADY_HOURS_MIN, STEADY_HOURS_RELATIVE * prev.value):
            return Trend(ARROW_STEADY, "steady since last week", "Default")
        size = f"{abs(delta):.0f} h"
    else:
        if abs(delta) < STEADY_DAYS:
            return Trend(ARROW_STEADY, "steady since last week", "Default")
        size = f"{abs(delta):.1f} days"
    rising = delta > 0
    better = rising == info.higher_is_better
    if info.unit == "hours":
        words = f"{size} {'slower' if rising else 'faster'} than last week"
    else:
        words = f"{'up' if rising else 'down'} {size} from last week"
    return Trend(ARROW_UP if rising else ARROW_DOWN, words, "Good" if better else "Attention")


def versus_median(comparison: Comparison, info: MeasureInfo, median_name: str = "community median") -> str:
    """Where the figure stands against a median, e.g. "above the community median (58%)"."""
    cur, med = comparison.current, comparison.median
    if med is None:
        return f"no {median_name} yet"
    if not med.shown:
        return f"{median_name} suppressed"
    if not cur.shown:
        return f"{median_name} {format_value(med, info.unit)}"
    assert cur.value is not None and med.value is not None
    delta = cur.value - med.value
    steady = (
        abs(delta * 100) < STEADY_POINTS
        if info.unit == "share"
        else abs(delta) < max(STEADY_HOURS_MIN, STEADY_HOURS_RELATIVE * med.value)
        if info.unit == "hours"
        else abs(delta) < STEADY_DAYS
    )
    if steady:
        place = "at"
    elif info.unit == "hours":
        place = "faster than" if delta < 0 else "slower than"
    else:
        place = "above" if delta > 0 else "below"
    return f"{place} the {median_name} ({format_value(med, info.unit)})"


def network_shape(teacher_share: Figure, centralization: Figure, min_n: int = DEFAULT_MIN_N) -> str:
    """The class conversation in plain words (thresholds above)."""
    for fig in (teacher_share, centralization):
        if not fig.shown:
            assert fig.suppressed is not None
            return f"not shown ({suppression_words(fig.suppressed, min_n)})"
    assert teacher_share.value is not None and centralization.value is not None
    if teacher_share.value >= TEACHER_CENTRED_SHARE:
        return "mostly teacher-centred: most replies and reactions involve you"
    if centralization.value >= HUB_CENTRALIZATION:
        return "student-led, but around a few students"
    if teacher_share.value <= PEER_DRIVEN_SHARE and centralization.value < EVEN_CENTRALIZATION:
        return "peer-driven: many students respond to many others"
    return "a mix of teacher-led and peer conversation"


def weakest_measure(measures: Mapping[str, Comparison]) -> str | None:
    """The measure an exemplar would help most with.

    With medians: the largest relative shortfall against its median (lower-is-better measures inverted).
    Without any: the lowest shown share, leaving out fa_monthly_reach (a subset of fa_reach, so always lower).
    None when nothing is shown.
    """
    shortfalls: list[tuple[float, str]] = []
    for key, comp in measures.items():
        info = MEASURES[key]
        cur, med = comp.current, comp.median
        if cur.shown and med is not None and med.shown and med.value:
            assert cur.value is not None
            gap = (med.value - cur.value) / med.value
            shortfalls.append((gap if info.higher_is_better else -gap, key))
    if shortfalls:
        gap, key = max(shortfalls, key=lambda t: (t[0], t[1]))
        if gap > 0:
            return key
    shares = [
        (comp.current.value, key)
        for key, comp in measures.items()
        if MEASURES[key].unit == "share" and key != "fa_monthly_reach" and comp.current.shown
    ]
    return min(shares)[1] if shares else None


def headline_measures(view) -> dict:
    """The five comparisons both the class summary and the digest lead with, in reading order."""
    return {
        "fa_reach": view.fa_reach,
        "fa_monthly_reach": view.fa_monthly_reach,
        "feedback_turnaround": view.feedback_turnaround,
        "participation": view.participation,
        "peer_reach": view.peer_reach,
    }
