from __future__ import annotations

from cards.views import WelcomeView
from cards.welcome import build_welcome_card

from .helpers import texts


def test_the_welcome_card_lists_example_commands():
    card = build_welcome_card(WelcomeView(user_name="Grace"))
    facts = [(f["title"], f["value"]) for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]]
    assert ("summary", "this week's summary of your classes") in facts
    assert ("help", "show this card again") in facts
    assert texts(card)[0] == "Hi Grace! I'm PLI Pulse."


def test_an_unknown_command_is_quoted_back_escaped():
    card = build_welcome_card(WelcomeView(unknown_command="**sumary** <at>x</at>"))
    assert texts(card)[0] == "I didn't understand “\\*\\*sumary\\*\\* \\<at\\>x\\</at\\>”. Here is what I can do."
