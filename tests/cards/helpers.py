"""Shared checks for card tests: hostile texts, walking a card's text, collecting suppressed figures."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator

from cards.validate import display_texts
from measures.figures import Figure

INJECTION = (
    "**Boss** [click](https://evil.example) <at>Grace Okafor</at> <b>bold</b> # 1. {{DATE(2026-11-16T06:08:39Z)}}"
)
LONG_TITLE = ("Differentiated exit tickets with peer explanation " * 5)[:200]
USER_TEXTS = {
    "plain": None,
    "long-200": LONG_TITLE,
    "unicode-rtl-emoji": "درس الكسور مع الأقران 👩🏽\u200d🏫 שיעור שברים 🎉 Ñandú — 数学",
    "injection": INJECTION,
}


def texts(card: dict) -> list[str]:
    return list(display_texts(card))


def suppressed_ns(view: object) -> set[int]:
    """The n of every suppressed Figure anywhere inside a view model."""
    found: set[int] = set()

    def walk(obj: object) -> Iterator[None]:
        if isinstance(obj, Figure):
            if not obj.shown:
                found.add(obj.n)
        elif dataclasses.is_dataclass(obj):
            for f in dataclasses.fields(obj):
                yield from walk(getattr(obj, f.name))
        elif isinstance(obj, (tuple, list)):
            for item in obj:
                yield from walk(item)
        return
        yield

    list(walk(view))
    return found


def standalone_number(card: dict, n: int) -> list[str]:
    """Places where ``n`` appears as a number of its own (not part of 2026, 19%, an id or a URL)."""
    blob = json.dumps(card, ensure_ascii=False)
    return re.findall(rf"(?<![\w.\-]){n}(?![\w.%\-])", blob)


def actions(card: dict) -> list[dict]:
    """Every action in the card: top level, in ActionSets, select actions and fallbacks."""
    out: list[dict] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Action."):
                out.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return out
