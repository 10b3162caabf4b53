from __future__ import annotations

import pytest

from cards.demo_data import form_view
from cards.exemplar_form import build_exemplar_form_card, validate_exemplar_submission
from cards.views import ExemplarFormView

GOOD = {
    "title": "  Fraction   talks ",
    "url": "https://learn.example.org/fraction-talks",
    "description": "Students compare two fraction strategies in pairs.",
    "why_it_works": "Explaining to a peer surfaces misconceptions early.",
    "subject": "math",
    "grade_band": "6_8",
    "practice": "peer_collaboration",
    "communities": "community-g7-math,community-g8-ela",
    "verb": "submitExemplar",
}
ALLOWED = {"community-g7-math", "community-g8-ela"}


def _inputs(card):
    return [b for b in card["body"] if b["type"].startswith("Input.")]


def test_a_good_submission_becomes_a_normalised_draft():
    draft, errors = validate_exemplar_submission(GOOD, ALLOWED)
    assert errors == {}
    assert draft.title == "Fraction talks"
    assert draft.community_ids == ("community-g7-math", "community-g8-ela")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("url", "http://learn.example.org/x", "https://"),
        ("url", "javascript:alert(1)//https://x", "https://"),
        ("url", "https://user:pw@evil.example/x", "https://"),
        ("title", "x" * 121, "3 to 120 characters"),
        ("title", "", "3 to 120 characters"),
        ("description", "short", "10 to 500"),
        ("subject", "astrology", "choose one of the options"),
        ("practice", "", "choose one of the options"),
        ("communities", "community-elsewhere", "only communities you coach"),
        ("communities", "", "at least one community"),
        ("grade_band", 7, "expected text"),
    ],
)
def test_each_bad_field_gets_its_own_message_and_no_draft(field, value, message):
    draft, errors = validate_exemplar_submission({**GOOD, field: value}, ALLOWED)
    assert draft is None
    assert list(errors) == [field]
    assert message in errors[field]


def test_every_input_is_labelled_required_and_has_an_error_message():
    inputs = _inputs(build_exemplar_form_card(form_view()))
    assert {i["id"] for i in inputs} == {
        "title",
        "url",
        "description",
        "why_it_works",
        "subject",
        "grade_band",
        "practice",
        "communities",
    }
    for i in inputs:
        assert i["label"] and i["isRequired"] is True and i["errorMessage"]
    choice_sets = {i["id"]: i for i in inputs if i["type"] == "Input.ChoiceSet"}
    assert {c["value"] for c in choice_sets["practice"]["choices"]} >= {"peer_collaboration", "timely_feedback"}


def test_errors_come_back_inline_next_to_their_inputs_with_the_typed_values_kept():
    card = build_exemplar_form_card(form_view(with_errors=True))
    body = card["body"]
    for field in ("url", "description", "practice"):
        i = next(n for n, b in enumerate(body) if b.get("id") == field)
        error = body[i + 1]
        assert error["id"] == f"{field}-error" and error["color"] == "Attention"
        assert error["text"].startswith("⚠ ")
    by_id = {b["id"]: b for b in body if "id" in b}
    assert by_id["url"]["value"] == "http://example.org/fraction-talks"  # echoed literally, not escaped
    assert "value" not in by_id["practice"]  # an invalid choice is not re-selected
    assert by_id["subject"]["value"] == "math"
    assert any(b.get("text") == "⚠ Please fix 3 fields below." for b in body)


def test_the_submit_action_is_execute_with_associated_inputs_and_a_submit_fallback():
    action = build_exemplar_form_card(form_view())["actions"][0]
    assert action["verb"] == "submitExemplar" and action["associatedInputs"] == "auto"
    assert action["fallback"]["type"] == "Action.Submit"


def test_a_form_without_communities_asks_for_none_and_the_validator_does_not_require_them():
    card = build_exemplar_form_card(ExemplarFormView())
    assert "communities" not in {i["id"] for i in _inputs(card)}
    draft, errors = validate_exemplar_submission({k: v for k, v in GOOD.items() if k != "communities"})
    assert errors == {} and draft.community_ids == ()
