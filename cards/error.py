"""The error card: what happened and what to do, never a stack trace; an optional reference code for support."""

from __future__ import annotations

import re

from cards import elements as el
from cards.text_safety import escape_markdown
from cards.views import ErrorView

_REFERENCE = re.compile(r"^[A-Za-z0-9-]{1,40}$")
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s*File \".*\", line \d+", re.MULTILINE)
GENERIC_WHAT_HAPPENED = "PLI Pulse could not finish your request."


def _no_traceback(text: str) -> str:
    """A stack trace passed here by mistake is replaced: it helps no teacher and may leak internals."""
    return GENERIC_WHAT_HAPPENED if _TRACEBACK.search(text) else text


def build_error_card(view: ErrorView) -> dict:
    body: list[el.Element] = [
        el.text("⚠ Something went wrong", size="Medium", weight="Bolder", color="Attention", style="heading"),
        el.text(escape_markdown(_no_traceback(view.what_happened), single_line=False, max_chars=300), spacing="Small"),
        el.text(f"**What to do:** {escape_markdown(_no_traceback(view.what_to_do), single_line=False, max_chars=300)}"),
    ]
    if view.reference:
        # A reference is a code we minted; anything else (e.g. an exception text passed by mistake) is not shown.
        ref = view.reference if _REFERENCE.match(view.reference) else "unavailable"
        body.append(el.subtle(f"Reference: {escape_markdown(ref)}", spacing="Medium"))
    what_to_do = escape_markdown(_no_traceback(view.what_to_do), max_chars=200)
    return el.card(body, fallback_text=f"PLI Pulse: something went wrong. {what_to_do}")
