"""The teacher's class summary card (1:1 chat): formative assessment, tools, collaboration, trend, community place."""

from __future__ import annotations

from cards import elements as el
from cards.bars import bar_row
from cards.figure_words import (
    figure_words,
    format_value,
    headline_measures,
    network_shape,
    trend,
    versus_median,
    weakest_measure,
)
from cards.text_safety import escape_markdown, plain_text
from cards.views import ClassSummaryView, Comparison, ToolUse
from cards.vocabulary import MEASURES, PLI_PRACTICES, TOOLS, suppression_words
from measures.figures import Figure

REFRESH_VERB = "refreshSummary"
EXEMPLARS_VERB = "exemplarsFor"


def _measures(view: ClassSummaryView) -> dict[str, Comparison]:
    return headline_measures(view)


def measure_block(key: str, comp: Comparison, min_n: int, median_name: str = "community median") -> list[el.Element]:
    """A measure as a bar (shares) or a fact line, then its trend and its place against the median, in words."""
    info = MEASURES[key]
    words = figure_words(comp.current, info.unit, min_n)
    if info.unit == "share":
        share = comp.current.value if comp.current.shown else None
        head = bar_row(info.label, share, words, label_width="110px")
    else:
        head = el.text(f"**{info.label}:** {words}", spacing="Small")
    if not comp.current.shown:
        # No trend for a hidden figure: its direction would say something about it.
        return [head, el.subtle(versus_median(comp, info, median_name), spacing="None")]
    t = trend(comp, info)
    # Only the trend is coloured (and it always has an arrow and words); the median comparison stays neutral.
    line = {
        "type": "RichTextBlock",
        "spacing": "None",
        "inlines": [
            {"type": "TextRun", "text": t.text, "size": "Small", "color": t.color},
            {"type": "TextRun", "text": f" · {versus_median(comp, info, median_name)}", "size": "Small"},
        ],
    }
    return [head, line]


def _tool_table(tools: tuple[ToolUse, ...]) -> el.Element:
    def cell(value: str, **props) -> dict:
        return {"type": "TableCell", "items": [el.text(value, size="Small", **props)]}

    header = {
        "type": "TableRow",
        "style": "emphasis",
        "cells": [cell(h, weight="Bolder") for h in ("Tool", "Students using it", "Days per user", "Days per student")],
    }
    rows = [header]
    for tool in tools:
        rows.append(
            {
                "type": "TableRow",
                "cells": [
                    cell(TOOLS.get(tool.tool, escape_markdown(tool.tool, max_chars=30))),
                    cell(format_value(tool.reach, "share")),
                    cell(format_value(tool.days, "days")),
                    cell(format_value(tool.days_per_enrolled, "days")),
                ],
            }
        )
    return {
        "type": "Table",
        "columns": [{"width": 3}, {"width": 3}, {"width": 3}, {"width": 3}],
        "rows": rows,
        "firstRowAsHeader": True,
        "showGridLines": False,
        "spacing": "Small",
    }


def _all_figures(view: ClassSummaryView) -> list[tuple[str, Figure]]:
    named: list[tuple[str, Figure]] = []
    for key, comp in _measures(view).items():
        named.append((MEASURES[key].label, comp.current))
    for tool in view.tools:
        label = TOOLS.get(tool.tool, tool.tool)
        named += [(f"{label} use", tool.reach), (f"{label} days", tool.days)]
    named += [("Conversation shape", view.teacher_share), ("Conversation shape", view.centralization)]
    return named


def suppression_notes(named: list[tuple[str, Figure]], min_n: int, who: str = "students") -> list[str]:
    """One plain sentence per reason: "Suppressed because fewer than 10 students: Peer reach, OneNote days."."""
    by_reason: dict[str, list[str]] = {}
    for label, fig in named:
        if fig.suppressed is not None:
            labels = by_reason.setdefault(suppression_words(fig.suppressed, min_n, who), [])
            if label not in labels:
                labels.append(label)
    if len(by_reason) == 1 and all(not fig.shown for _label, fig in named):
        return [f"All figures are suppressed because {next(iter(by_reason))}."]
    return [f"Suppressed because {reason}: {', '.join(labels)}." for reason, labels in by_reason.items()]


def _community_place(measures: dict[str, Comparison]) -> str:
    above = below = compared = 0
    for key, comp in measures.items():
        info = MEASURES[key]
        words = versus_median(comp, info)
        if comp.current.shown and comp.median is not None and comp.median.shown:
            compared += 1
            if words.startswith(("above", "faster")):
                above += 1
            elif words.startswith(("below", "slower")):
                below += 1
    if compared == 0:
        return "No comparison with your community this week (figures suppressed or not yet available)."
    return (
        f"Against your community's median class: better on {above}, behind on {below}, "
        f"level on {compared - above - below} of {compared} measures."
    )


def build_class_summary_card(view: ClassSummaryView) -> dict:
    """The class summary card for the class's teacher (a 1:1 chat, never a channel)."""
    name = escape_markdown(view.class_name, max_chars=80)
    measures = _measures(view)
    weakest = weakest_measure(measures)
    body: list[el.Element] = [
        el.heading(name),
        el.subtle(f"Your class summary · {escape_markdown(view.period_label, max_chars=60)}", spacing="None"),
    ]
    actions: list[el.Element] = [
        el.execute("Refresh", REFRESH_VERB, {"classId": view.class_id}),
        el.open_url(
            "Open dashboard",
            el.tab_deep_link(view.dashboard.app_id, view.dashboard.entity_id, view.dashboard.sub_entity_id),
        ),
    ]
    if view.enrolled <= 0:
        body.append(
            el.text(
                "No students are enrolled in this class yet, so there is nothing to measure. "
                "Figures appear once students join the class team.",
                spacing="Medium",
            )
        )
        return el.card(body, actions, fallback_text=f"Class summary for {name}: no students enrolled yet.")

    if view.sparkline is not None:
        body.append(
            el.image(
                view.sparkline.url,
                plain_text(view.sparkline.alt_text, max_chars=200),
                height="48px",
                spacing="Small",
            )
        )
    body.append(el.subheading("Formative assessment"))
    for key in ("fa_reach", "fa_monthly_reach", "feedback_turnaround"):
        body += measure_block(key, measures[key], view.min_n)
    body.append(el.subheading("Tools students used"))
    body.append(_tool_table(view.tools))
    body.append(el.subheading("Collaboration"))
    for key in ("participation", "peer_reach"):
        body += measure_block(key, measures[key], view.min_n)
    body.append(
        el.text(f"**Conversation shape:** {network_shape(view.teacher_share, view.centralization, view.min_n)}")
    )
    body.append(el.text(_community_place(measures), spacing="Medium"))
    notes = suppression_notes(_all_figures(view), view.min_n)
    if notes:
        body.append(el.container([el.subtle(n) for n in notes], spacing="Medium", separator=True))

    data = {"classId": view.class_id}
    tooltip = "Exemplars shared by coaches"
    if weakest is not None:
        data |= {"measure": weakest, "practice": MEASURES[weakest].practice}
        tooltip = f"Exemplars on {PLI_PRACTICES[MEASURES[weakest].practice].lower()}"
    actions.append(el.execute("Exemplars for this", EXEMPLARS_VERB, data, tooltip=tooltip))
    fallback = f"Class summary for {name}: FA reach {figure_words(view.fa_reach.current, 'share', view.min_n)}."
    return el.card(body, actions, fallback_text=fallback)
