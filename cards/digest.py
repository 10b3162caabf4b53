"""The weekly community digest (channel card) and its per-teacher private view.

A channel card shows community aggregates, the teacher activity distribution, rows only for opted-in classes,
highlights and one or two exemplars for the community's weakest measure. Each teacher's own classes appear only in
their user-specific view: the card's ``refresh`` runs ``digestPrivate`` automatically for up to 60 teachers (the Teams
limit); in bigger communities a "Show my classes" button asks for the same view.
"""

from __future__ import annotations

from cards import elements as el
from cards.bars import bar_row
from cards.class_summary import measure_block, suppression_notes
from cards.exemplar import exemplar_teaser
from cards.figure_words import figure_words, format_value, headline_measures, trend, weakest_measure
from cards.mentions import MentionBook
from cards.text_safety import escape_markdown
from cards.validate import MAX_REFRESH_USER_IDS
from cards.views import ActivityBand, CommunityDigestView, Comparison, ExemplarView, PrivateDigestSection
from cards.vocabulary import ACTIVITY_BANDS, MEASURES, PLI_PRACTICES
from measures.disclosure import suppress_figures
from measures.figures import Figure

PRIVATE_VERB = "digestPrivate"
#: Class rows beyond this are summarised as "and N more" (size limit; a channel card is read, not scrolled).
MAX_CLASS_ROWS = 12
MAX_HIGHLIGHTS = 4
MAX_EXEMPLARS = 2
MEDIAN_NAME = "district PLI median"


def _measures(view: CommunityDigestView) -> dict[str, Comparison]:
    return headline_measures(view)


def pick_exemplars(
    candidates: tuple[ExemplarView, ...], practice: str | None, k: int = MAX_EXEMPLARS
) -> tuple[ExemplarView, ...]:
    """The ``k`` most helpful exemplars for ``practice``; other practices only if none match."""
    ranked = sorted(candidates, key=lambda e: (-e.helpful_votes, e.exemplar_id))
    matching = [e for e in ranked if e.practice == practice]
    return tuple((matching or ranked)[:k])


def complementary(bands: tuple[ActivityBand, ...]) -> tuple[ActivityBand, ...]:
    """Re-apply complementary suppression to the bands the card shows, with the measures layer's own rule.

    The bands are parts of a known whole (channel members can count the teachers, and bar widths are shares of it),
    so one hidden band would be the total minus the others. The measures layer should already have done this; the
    card does not rely on it, and uses the one implementation in ``measures.disclosure``.
    """
    if not bands:
        return bands
    teachers = max(b.teachers.n for b in bands)  # every band's n is the community's teacher count
    _, parts = suppress_figures(Figure(float(teachers), teachers), {b.band: b.teachers for b in bands})
    return tuple(ActivityBand(b.band, parts[b.band]) for b in bands)


def _activity_section(view: CommunityDigestView) -> list[el.Element]:
    # Bars are shares of every teacher in the community, not of the shown bands, so a suppressed band is a gap and
    # does not stretch the others.
    total = len(view.teachers) or sum(b.teachers.value or 0 for b in view.activity if b.teachers.shown)
    rows: list[el.Element] = [el.subheading("How often teachers talk in this community")]
    for band in complementary(view.activity):
        label = ACTIVITY_BANDS.get(band.band, escape_markdown(band.band, max_chars=20))
        fig = band.teachers
        if fig.shown and total:
            assert fig.value is not None
            count = round(fig.value)
            words = f"{count} {'teacher' if count == 1 else 'teachers'}"
            rows.append(bar_row(label, fig.value / total, words, label_width="90px", value_width="90px"))
        else:
            rows.append(
                bar_row(label, None, figure_words(fig, "count", view.min_n, who="teachers"), label_width="90px")
            )
    return rows


def _class_rows(view: CommunityDigestView, book: MentionBook) -> list[el.Element]:
    opted = [c for c in view.classes if c.opted_in]
    hidden = len(view.classes) - len(opted)
    out: list[el.Element] = [el.subheading("Classes shared by their teachers")]
    if not opted:
        out.append(el.text("No teacher has shared class rows yet. Send **opt in** to the bot to share yours."))
    for row in opted[:MAX_CLASS_ROWS]:
        out.append(
            el.container(
                [
                    el.text(f"**{escape_markdown(row.class_name, max_chars=60)}** · {book.mention(row.teacher)}"),
                    el.text(
                        compact_line(
                            (
                                ("fa_reach", row.fa_reach),
                                ("participation", row.participation),
                                ("peer_reach", row.peer_reach),
                            ),
                            view.min_n,
                        ),
                        size="Small",
                        spacing="None",
                    ),
                ],
                spacing="Small",
            )
        )
    more = len(opted) - MAX_CLASS_ROWS
    if more > 0:
        out.append(el.subtle(f"and {more} more {'class' if more == 1 else 'classes'}: open the dashboard for all"))
    if hidden:
        out.append(el.subtle(f"{hidden} {'class is' if hidden == 1 else 'classes are'} not shown: not opted in."))
    return out


def compact_line(measures: tuple[tuple[str, Comparison], ...], min_n: int) -> str:
    """One line per class row: "FA reach 61% (↑ up 4 points ...) · Participation 58% · ..." and why any are hidden."""
    parts, reasons = [], []
    for key, comp in measures:
        info = MEASURES[key]
        if comp.current.shown:
            t = trend(comp, info)
            arrow = f" ({t.text})" if key == "fa_reach" and comp.last_week is not None else ""
            parts.append(f"{info.label} {format_value(comp.current, info.unit)}{arrow}")
        else:
            parts.append(f"{info.label} suppressed")
            why = figure_words(comp.current, info.unit, min_n).removeprefix("suppressed ")
            if why not in reasons:
                reasons.append(why)
    return " · ".join(parts) + (f" {' '.join(reasons)}" if reasons else "")


def _private_section(section: PrivateDigestSection, min_n: int) -> el.Element:
    items: list[el.Element] = [
        el.subheading("Your classes (only you see this)"),
    ]
    if not section.classes:
        items.append(el.text("You have no PLI classes in this community."))
    for line in section.classes:
        items.append(el.text(f"**{escape_markdown(line.class_name, max_chars=60)}**", spacing="Small"))
        for key, comp in (
            ("fa_reach", line.fa_reach),
            ("participation", line.participation),
            ("peer_reach", line.peer_reach),
        ):
            info = MEASURES[key]
            words = f"{info.label}: {figure_words(comp.current, info.unit, min_n)}"
            if comp.current.shown:  # no trend for a hidden figure: its direction would say something about it
                words += f" · {trend(comp, info).text}"
            items.append(el.text(words, size="Small", spacing="None"))
    return el.container(items, style="emphasis", spacing="Medium", bleed=True)


def build_digest_card(view: CommunityDigestView, private: PrivateDigestSection | None = None) -> dict:
    """The channel digest; with ``private`` it is the user-specific view for that one teacher."""
    book = MentionBook()
    community = escape_markdown(view.community_name, max_chars=80)
    measures = _measures(view)
    weakest = weakest_measure(measures)
    practice = MEASURES[weakest].practice if weakest else None
    body: list[el.Element] = [
        el.heading(f"{community}: weekly digest"),
        el.subtle(escape_markdown(view.period_label, max_chars=60), spacing="None"),
    ]
    if private is not None:
        body.append(_private_section(private, view.min_n))
    body.append(el.subheading("Community this week"))
    for key, comp in measures.items():
        body += measure_block(key, comp, view.min_n, median_name=MEDIAN_NAME)
    body += _activity_section(view)
    body += _class_rows(view, book)
    if view.highlights:
        body.append(el.subheading("Highlights"))
        body += [
            el.text(f"• {escape_markdown(h, max_chars=200)}", spacing="Small") for h in view.highlights[:MAX_HIGHLIGHTS]
        ]
    chosen = pick_exemplars(view.exemplars, practice)
    if chosen:
        focus = f" for {PLI_PRACTICES[practice].lower()}" if practice else ""
        body.append(el.subheading(f"Exemplars{focus}"))
        body += [exemplar_teaser(e) for e in chosen]
    named = [(MEASURES[k].label, c.current) for k, c in measures.items()]
    notes = suppression_notes(named, view.min_n)
    notes += suppression_notes(
        [(ACTIVITY_BANDS.get(b.band, "activity"), b.teachers) for b in complementary(view.activity)],
        view.min_n,
        who="teachers",
    )
    if notes:
        body.append(el.container([el.subtle(n) for n in notes], spacing="Medium", separator=True))

    # The view lists teachers in the order that matters (e.g. most active first); the first 60 refresh automatically.
    teacher_ids = list(dict.fromkeys(t.id for t in view.teachers))
    actions: list[el.Element] = []
    if len(teacher_ids) > MAX_REFRESH_USER_IDS and private is None:
        # Teams refreshes automatically only for the listed users; everyone else asks with this button.
        actions.append(el.submit("Show my classes", PRIVATE_VERB, {"communityId": view.community_id}))
    if view.dashboard is not None:
        link = el.tab_deep_link(view.dashboard.app_id, view.dashboard.entity_id, view.dashboard.sub_entity_id)
        actions.append(el.open_url("Open dashboard", link))
    extra: dict = {
        "refresh": {
            "action": {
                "type": "Action.Execute",
                "title": "Show my classes",
                "verb": PRIVATE_VERB,
                "data": {"verb": PRIVATE_VERB, "communityId": view.community_id},
            },
            "userIds": teacher_ids[:MAX_REFRESH_USER_IDS],
        },
        "msteams": book.msteams(width="Full"),
    }
    fa = format_value(view.fa_reach.current, "share")
    return el.card(body, actions, fallback_text=f"{community} weekly digest: FA reach {fa}.", **extra)
