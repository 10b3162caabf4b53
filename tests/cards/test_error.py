from __future__ import annotations

from cards.error import GENERIC_WHAT_HAPPENED, build_error_card
from cards.views import ErrorView

from .helpers import texts


def test_the_error_card_says_what_happened_what_to_do_and_the_reference():
    card = build_error_card(ErrorView("Graph timed out.", "Try again in a minute.", reference="PP-7Q2M"))
    assert texts(card) == [
        "⚠ Something went wrong",
        "Graph timed out.",
        "**What to do:** Try again in a minute.",
        "Reference: PP-7Q2M",
    ]


def test_a_stack_trace_passed_by_mistake_is_not_shown():
    trace = 'Traceback (most recent call last):\n  File "/app/bot.py", line 3, in <module>\nKeyError: secret'
    card = build_error_card(ErrorView(trace, "Try again.", reference="not a code: KeyError('secret')"))
    blob = "\n".join(texts(card)) + card["fallbackText"]
    assert "Traceback" not in blob and "secret" not in blob and "bot.py" not in blob
    assert GENERIC_WHAT_HAPPENED in blob
    assert "Reference: unavailable" in blob
