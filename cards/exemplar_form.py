"""The coach's exemplar submission form, and the server-side check of what comes back from it.

Teams validates ``isRequired``/``regex`` in the client, but a card can be answered by any client or replayed, so the
bot re-checks everything with :func:`validate_exemplar_submission`. When it fails the bot sends the form again with the
typed values and one message next to each field to fix.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from cards import elements as el
from cards.text_safety import escape_markdown, plain_text
from cards.views import ExemplarDraft, ExemplarFormView
from cards.vocabulary import GRADE_BANDS, PLI_PRACTICES, SUBJECTS

SUBMIT_VERB = "submitExemplar"

#: (min, max) visible characters per text field.
LIMITS: dict[str, tuple[int, int]] = {
    "title": (3, 120),
    "url": (12, 2000),
    "description": (10, 500),
    "why_it_works": (10, 500),
}
LABELS = {
    "title": "Title",
    "url": "Link to the activity (https)",
    "description": "What it is",
    "why_it_works": "Why it works",
    "subject": "Subject",
    "grade_band": "Grade band",
    "practice": "PLI practice",
    "communities": "Share with",
}
CHOICES = {"subject": SUBJECTS, "grade_band": GRADE_BANDS, "practice": PLI_PRACTICES}


def _length_message(field: str) -> str:
    low, high = LIMITS[field]
    return f"{LABELS[field]}: use {low} to {high} characters."


def validate_exemplar_submission(
    data: Mapping[str, Any], allowed_communities: Collection[str] | None = None
) -> tuple[ExemplarDraft | None, dict[str, str]]:
    """Check a submitted form; returns the draft, or None and one message per field (keyed by input id)."""
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    for field in ("title", "url", "description", "why_it_works", "subject", "grade_band", "practice"):
        raw = data.get(field, "")
        if not isinstance(raw, str):
            errors[field] = f"{LABELS[field]}: expected text."
            continue
        values[field] = " ".join(raw.split()) if field in ("title", "url") else raw.strip()
    for field, (low, high) in LIMITS.items():
        if field in values and not low <= len(values[field]) <= high:
            errors[field] = _length_message(field)
    if "url" in values and "url" not in errors and not el.is_https_url(values["url"]):
        errors["url"] = "Link: use a full https:// address, e.g. https://example.org/lesson."
    for field, allowed in CHOICES.items():
        if field in values and field not in errors and values[field] not in allowed:
            errors[field] = f"{LABELS[field]}: choose one of the options."
    communities: tuple[str, ...] = ()
    if allowed_communities is not None:
        raw = data.get("communities", "")
        picked = tuple(dict.fromkeys(c.strip() for c in raw.split(",") if c.strip())) if isinstance(raw, str) else ()
        if not picked:
            errors["communities"] = "Share with: choose at least one community."
        elif any(c not in allowed_communities for c in picked):
            errors["communities"] = "Share with: choose only communities you coach."
        communities = picked
    if errors:
        return None, errors
    return (
        ExemplarDraft(
            title=values["title"],
            url=values["url"],
            description=values["description"],
            why_it_works=values["why_it_works"],
            subject=values["subject"],
            grade_band=values["grade_band"],
            practice=values["practice"],
            community_ids=communities,
        ),
        {},
    )


def _error_line(field: str, errors: Mapping[str, str]) -> list[el.Element]:
    if field not in errors:
        return []
    msg = escape_markdown(errors[field], max_chars=200)
    return [el.text(f"⚠ {msg}", color="Attention", size="Small", spacing="None", id=f"{field}-error")]


def _text_input(field: str, view: ExemplarFormView, **props: Any) -> list[el.Element]:
    high = LIMITS[field][1]
    element: el.Element = {
        "type": "Input.Text",
        "id": field,
        "label": LABELS[field],
        "isRequired": True,
        "errorMessage": _length_message(field),
        "maxLength": high,
        **props,
    }
    if field in view.previous:
        element["value"] = plain_text(view.previous[field], max_chars=high)
    return [element, *_error_line(field, view.errors)]


def _choice_input(field: str, options: Mapping[str, str], view: ExemplarFormView, **props: Any) -> list[el.Element]:
    element: el.Element = {
        "type": "Input.ChoiceSet",
        "id": field,
        "label": LABELS[field],
        "isRequired": True,
        "errorMessage": f"{LABELS[field]}: choose one of the options.",
        "style": "compact",
        "placeholder": "Choose…",
        "choices": [{"title": title, "value": value} for value, title in options.items()],
        **props,
    }
    previous = view.previous.get(field)
    if isinstance(previous, str):
        keep = [v for v in previous.split(",") if v in options]
        if keep:
            element["value"] = ",".join(keep)
    return [element, *_error_line(field, view.errors)]


def build_exemplar_form_card(view: ExemplarFormView) -> dict:
    body: list[el.Element] = [
        el.heading("Share an exemplar activity"),
        el.text("Teachers in the communities you choose will see it in their digest and in search.", spacing="None"),
    ]
    if view.errors:
        n = len(view.errors)
        body.append(
            el.text(f"⚠ Please fix {n} {'field' if n == 1 else 'fields'} below.", color="Attention", weight="Bolder")
        )
    body += _text_input("title", view, placeholder="e.g. Exit-ticket quiz with instant feedback")
    body += _text_input("url", view, style="Url", regex=r"^https://\S+$", placeholder="https://")
    body += _text_input("description", view, isMultiline=True)
    body += _text_input("why_it_works", view, isMultiline=True)
    body += _choice_input("subject", SUBJECTS, view)
    body += _choice_input("grade_band", GRADE_BANDS, view)
    body += _choice_input("practice", PLI_PRACTICES, view)
    if view.communities:
        options = {c.community_id: escape_markdown(c.name, max_chars=60) for c in view.communities}
        body += _choice_input("communities", options, view, isMultiSelect=True, style="expanded")
    # Errors for fields this card does not show (e.g. a stale community) still need saying.
    shown = {"title", "url", "description", "why_it_works", "subject", "grade_band", "practice"}
    if view.communities:
        shown.add("communities")
    for field in sorted(set(view.errors) - shown):
        body += _error_line(field, view.errors)
    actions = [el.execute("Share exemplar", SUBMIT_VERB, associatedInputs="auto")]
    return el.card(body, actions, fallback_text="Share an exemplar activity (form).")
