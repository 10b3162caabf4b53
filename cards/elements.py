"""Small constructors for Adaptive Card 1.5 elements and actions, so builders read as layout, not as JSON.

Text given to :func:`text` is already-safe markdown: builders escape user text with ``text_safety.escape_markdown``
before it gets here.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

CARD_VERSION = "1.5"
SCHEMA_URL = "http://adaptivecards.io/schemas/adaptive-card.json"

Element = dict[str, Any]


def card(body: list[Element], actions: list[Element] | None = None, *, fallback_text: str, **extra: Any) -> Element:
    out: Element = {"type": "AdaptiveCard", "$schema": SCHEMA_URL, "version": CARD_VERSION}
    out.update(extra)
    out["body"] = body
    if actions:
        out["actions"] = actions
    out["fallbackText"] = fallback_text
    return out


def text(value: str, **props: Any) -> Element:
    """A wrapping TextBlock (cards are read on phones: nothing may be clipped)."""
    return {"type": "TextBlock", "text": value, "wrap": True, **props}


def heading(value: str, **props: Any) -> Element:
    return text(value, size="Large", weight="Bolder", style="heading", **props)


def subheading(value: str, **props: Any) -> Element:
    return text(value, size="Medium", weight="Bolder", spacing="Medium", **props)


def subtle(value: str, **props: Any) -> Element:
    return text(value, isSubtle=True, size="Small", **props)


def facts(pairs: list[tuple[str, str]], **props: Any) -> Element:
    return {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in pairs], **props}


def container(items: list[Element], **props: Any) -> Element:
    return {"type": "Container", "items": items, **props}


def column(items: list[Element], width: str | int, **props: Any) -> Element:
    return {"type": "Column", "width": width, "items": items, **props}


def columns(cols: list[Element], **props: Any) -> Element:
    return {"type": "ColumnSet", "columns": cols, **props}


def action_set(actions: list[Element], **props: Any) -> Element:
    return {"type": "ActionSet", "actions": actions, **props}


def execute(title: str, verb: str, data: dict[str, Any] | None = None, **props: Any) -> Element:
    """Action.Execute (Universal Actions) with an Action.Submit fallback for clients below 1.4.

    Both carry ``verb`` inside ``data`` too, so the bot routes a Submit message and an Execute invoke the same way.
    """
    payload = {"verb": verb, **(data or {})}
    return {
        "type": "Action.Execute",
        "title": title,
        "verb": verb,
        "data": payload,
        **props,
        "fallback": {"type": "Action.Submit", "title": title, "data": payload},
    }


def submit(title: str, verb: str, data: dict[str, Any] | None = None, **props: Any) -> Element:
    return {"type": "Action.Submit", "title": title, "data": {"verb": verb, **(data or {})}, **props}


def open_url(title: str, url: str, **props: Any) -> Element:
    return {"type": "Action.OpenUrl", "title": title, "url": url, **props}


def is_https_url(url: str) -> bool:
    """An absolute https URL with a host and no credentials or whitespace (what Teams will open or fetch)."""
    if not url or any(ch.isspace() for ch in url) or any(ord(ch) < 32 for ch in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and "@" not in parts.netloc


def image(url: str, alt_text: str, **props: Any) -> Element:
    if not is_https_url(url):
        raise ValueError(f"card images must be HTTPS URLs served by the app, not {url[:40]!r}")
    return {"type": "Image", "url": url, "altText": alt_text, **props}


def tab_deep_link(app_id: str, entity_id: str, sub_entity_id: str | None = None) -> str:
    """https://teams.microsoft.com/l/entity/<appId>/<entityId>?context=<url-encoded JSON>.

    The context names the sub-entity (a class) the tab should open at, so the link lands on that class.
    """
    context = json.dumps({"subEntityId": sub_entity_id} if sub_entity_id else {}, separators=(",", ":"))
    return (
        f"https://teams.microsoft.com/l/entity/{quote(app_id, safe='')}/{quote(entity_id, safe='')}"
        f"?context={quote(context, safe='')}"
    )
