from __future__ import annotations

from dataclasses import replace

from cards.demo_data import exemplar_view
from cards.exemplar import build_exemplar_card
from cards.validate import validate_card

from .helpers import texts


def test_the_exemplar_card_shows_every_field_the_coach_gave():
    card = build_exemplar_card(exemplar_view())
    blob = "\n".join(texts(card))
    for expected in (
        "Exit-ticket quiz with instant feedback",
        "Mathematics",
        "Grades 6–8",
        "Peer collaboration",
        "What it is",
        "Why it works",
        "Shared by Coach Dana Whitfield",
        "14 found it helpful",
    ):
        assert expected in blob


def test_the_link_opens_with_open_url_and_helpful_votes_with_execute_carrying_the_exemplar_id():
    card = build_exemplar_card(exemplar_view())
    link, vote = card["actions"]
    assert link == {
        "type": "Action.OpenUrl",
        "title": "Open the activity",
        "url": "https://learn.example.org/exemplars/exit-ticket-quiz",
    }
    assert vote["type"] == "Action.Execute" and vote["verb"] == "voteHelpful"
    assert vote["data"] == {"verb": "voteHelpful", "exemplarId": "ex-0042"}


def test_a_stored_link_that_is_not_https_is_not_offered():
    for bad in ("http://example.org/x", "javascript:alert(1)", "https://user:pw@example.org/", ""):
        card = build_exemplar_card(replace(exemplar_view(), url=bad))
        assert [a["type"] for a in card["actions"]] == ["Action.Execute"]
        assert any("not a safe https address" in t for t in texts(card))
        assert validate_card(card) == []


def test_an_unknown_stored_choice_is_shown_escaped_rather_than_failing():
    card = build_exemplar_card(replace(exemplar_view(), subject="*robotics*"))
    assert ("Subject", "\\*robotics\\*") in [(f["title"], f["value"]) for f in card["body"][3]["facts"]]
