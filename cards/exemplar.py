"""An exemplar activity as a coach posts it, and the short teaser used inside digests and search results."""

from __future__ import annotations

from cards import elements as el
from cards.text_safety import escape_markdown
from cards.views import ExemplarView
from cards.vocabulary import GRADE_BANDS, PLI_PRACTICES, SUBJECTS

VOTE_VERB = "voteHelpful"
SHOW_VERB = "showExemplar"
TITLE_CHARS = 120
FIELD_CHARS = 500


def _label(vocabulary, key: str) -> str:
    """A known choice's label, or the escaped key when the store holds a value this version does not know."""
    return vocabulary.get(key) or escape_markdown(key, max_chars=40)


def _votes(n: int) -> str:
    return "no votes yet" if n <= 0 else f"{n} found it helpful" if n != 1 else "1 found it helpful"


def exemplar_teaser(ex: ExemplarView) -> el.Element:
    """Title, tags and one line of what it is; tapping opens the activity (when its link is safe)."""
    tags = " · ".join(
        (_label(SUBJECTS, ex.subject), _label(GRADE_BANDS, ex.grade_band), _label(PLI_PRACTICES, ex.practice))
    )
    items = [
        el.text(f"**{escape_markdown(ex.title, max_chars=TITLE_CHARS)}**", color="Accent"),
        el.text(f"{tags} · {_votes(ex.helpful_votes)}", size="Small", isSubtle=True, spacing="None"),
        el.text(escape_markdown(ex.description, max_chars=160), size="Small", spacing="None", maxLines=2),
    ]
    props: dict = {"spacing": "Small"}
    if el.is_https_url(ex.url):
        props["selectAction"] = el.open_url("Open activity", ex.url, tooltip="Open the activity")
    return el.container(items, **props)


def build_exemplar_card(ex: ExemplarView) -> dict:
    title = escape_markdown(ex.title, max_chars=TITLE_CHARS)
    body: list[el.Element] = [
        el.subtle("Exemplar activity", spacing="None"),
        el.heading(title, spacing="None"),
        el.subtle(
            f"Shared by {escape_markdown(ex.shared_by, max_chars=64)} · {_votes(ex.helpful_votes)}", spacing="None"
        ),
        el.facts(
            [
                ("Subject", _label(SUBJECTS, ex.subject)),
                ("Grade band", _label(GRADE_BANDS, ex.grade_band)),
                ("PLI practice", _label(PLI_PRACTICES, ex.practice)),
            ],
            spacing="Medium",
        ),
        el.subheading("What it is"),
        el.text(escape_markdown(ex.description, single_line=False, max_chars=FIELD_CHARS), spacing="Small"),
        el.subheading("Why it works"),
        el.text(escape_markdown(ex.why_it_works, single_line=False, max_chars=FIELD_CHARS), spacing="Small"),
    ]
    actions: list[el.Element] = []
    if el.is_https_url(ex.url):
        actions.append(el.open_url("Open the activity", ex.url))
    else:
        body.append(
            el.text("The link to this activity is not a safe https address, so it is not shown.", color="Attention")
        )
    actions.append(
        el.execute("Helpful", VOTE_VERB, {"exemplarId": ex.exemplar_id}, tooltip="Tell the coach this helped you")
    )
    return el.card(body, actions, fallback_text=f"Exemplar: {title}")
