"""Acceptance matrix: every card kind and scenario, with normal, long, unicode/RTL/emoji and hostile user text."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest
from markdown_it import MarkdownIt

from cards.catalog import BUILDERS, VERBS, demo_cards
from cards.demo_data import demo_views
from cards.text_safety import escape_markdown
from cards.validate import MAX_CARD_BYTES, card_size, validate_card
from simulator.names import FIRST_NAMES, LAST_NAMES

from .helpers import INJECTION, USER_TEXTS, actions, standalone_number, suppressed_ns, texts

SCENARIOS = list(demo_views())
CARDS = {label: demo_cards(text) for label, text in USER_TEXTS.items()}
VIEWS = {label: demo_views(text) for label, text in USER_TEXTS.items()}
MD = MarkdownIt("commonmark")


def test_demo_covers_every_card_kind():
    assert {kind for kind, *_ in demo_views().values()} == set(BUILDERS)


@pytest.mark.parametrize("label", list(USER_TEXTS))
@pytest.mark.parametrize("name", SCENARIOS)
def test_card_validates_against_the_1_5_schema_with_msteams_allow_listed_and_fits_40_kb(name, label):
    card = CARDS[label][name]
    assert card["version"] == "1.5"
    assert validate_card(card) == []
    assert card_size(card) <= MAX_CARD_BYTES


@pytest.mark.parametrize("label", list(USER_TEXTS))
@pytest.mark.parametrize("name", SCENARIOS)
def test_no_suppressed_figure_number_appears_anywhere_in_the_card(name, label):
    _kind, *args = VIEWS[label][name]
    card = CARDS[label][name]
    for n in set().union(*(suppressed_ns(a) for a in args)) - {0}:
        assert standalone_number(card, n) == [], f"n={n} of a suppressed figure appears in {name}"


def test_the_all_suppressed_class_card_says_suppressed_and_shows_no_percentage():
    card = CARDS["plain"]["class-summary-suppressed"]
    blob = "\n".join(texts(card))
    body_without_medians = [t for t in texts(card) if "median" not in t]
    assert not any("%" in t for t in body_without_medians)
    assert blob.count("suppressed") >= 5
    assert "All figures are suppressed because fewer than 10 students." in blob


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_name_a_student_could_have_appears_in_any_card(name):
    students = {(f, last) for f in FIRST_NAMES for last in LAST_NAMES}
    words = json.dumps(CARDS["plain"][name], ensure_ascii=False).replace('"', " ").split()
    assert not [p for p in pairwise(words) if p in students]


@pytest.mark.parametrize("name", SCENARIOS)
def test_injected_markup_is_escaped_and_creates_no_link_style_or_mention(name):
    card = CARDS["injection"][name]
    card_texts = texts(card)
    for t in card_texts:
        html = MD.render(t)
        assert "evil.example" not in html or "<a " not in html
        assert "<strong>Boss</strong>" not in html
        assert "<b>" not in html and "<h1>" not in html and "<ol" not in html
        assert "<at>Grace Okafor</at>" not in t
    escaped_start = escape_markdown(INJECTION)[:30]
    blob = json.dumps(card, ensure_ascii=False)
    kind = VIEWS["injection"][name][0]
    if kind not in ("exemplar_form",):  # the form echoes values literally in inputs, not as markdown
        assert json.dumps(escaped_start, ensure_ascii=False)[1:-1] in blob, f"escaped text missing in {name}"
    # Only the digest mentions anyone, and only teachers from its own list.
    entities = card.get("msteams", {}).get("entities", [])
    if kind != "digest":
        assert entities == []
    teacher_ids = {t.id for t in getattr(VIEWS["injection"][name][1], "teachers", ())}
    assert all(e["mentioned"]["id"] in teacher_ids for e in entities)
    assert all("<" not in e["text"][4:-5] and ">" not in e["text"][4:-5] for e in entities)


def test_long_titles_are_cut_with_an_ellipsis_not_dropped():
    card = CARDS["long-200"]["exemplar"]
    title = card["body"][1]["text"]
    assert title.endswith("…") and len(title) <= 121


def test_rtl_and_emoji_text_survives_intact():
    card = CARDS["unicode-rtl-emoji"]["exemplar"]
    assert "درس الكسور مع الأقران 👩🏽\u200d🏫 שיעור שברים 🎉" in card["body"][1]["text"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_action_verb_is_a_known_verb_and_its_submit_fallback_carries_it(name):
    for action in actions(CARDS["plain"][name]):
        if action["type"] == "Action.Execute":
            assert action["verb"] in VERBS
            assert action["data"]["verb"] == action["verb"]
            assert set(action["data"]) - {"verb"} <= set(VERBS[action["verb"]])
        if action["type"] == "Action.Submit":
            assert action["data"]["verb"] in VERBS
