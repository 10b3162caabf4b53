from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import parse_qs, unquote, urlsplit

from cards.class_summary import build_class_summary_card
from cards.demo_data import DEMO_APP_ID, DEMO_TAB_ENTITY, class_summary_view
from cards.validate import validate_card

from .helpers import texts


def _actions(card):
    return {a["title"]: a for a in card["actions"]}


def test_refresh_is_an_execute_action_with_a_submit_fallback_carrying_the_same_verb():
    refresh = _actions(build_class_summary_card(class_summary_view()))["Refresh"]
    assert refresh["type"] == "Action.Execute" and refresh["verb"] == "refreshSummary"
    assert refresh["fallback"]["type"] == "Action.Submit"
    assert refresh["fallback"]["data"] == refresh["data"] == {"verb": "refreshSummary", "classId": "alg1-p3"}


def test_open_dashboard_is_a_teams_deep_link_to_the_tab_with_url_encoded_context():
    url = _actions(build_class_summary_card(class_summary_view()))["Open dashboard"]["url"]
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("https", "teams.microsoft.com")
    assert parts.path == f"/l/entity/{DEMO_APP_ID}/{DEMO_TAB_ENTITY}"
    assert "%7B" in parts.query  # the JSON is url-encoded, not raw
    assert json.loads(parse_qs(parts.query)["context"][0]) == {"subEntityId": "class:alg1-p3"}
    assert unquote(parts.query).startswith("context={")


def test_exemplars_action_asks_for_the_weakest_measure_and_its_practice():
    action = _actions(build_class_summary_card(class_summary_view()))["Exemplars for this"]
    assert action["verb"] == "exemplarsFor"
    assert action["data"]["measure"] == "peer_reach"  # 31% against a 45% median: the largest shortfall
    assert action["data"]["practice"] == "peer_collaboration"


def test_trends_carry_an_arrow_and_words_so_colour_is_never_the_only_signal():
    card = build_class_summary_card(class_summary_view())

    def coloured(node):
        if isinstance(node, dict):
            if node.get("type") in ("TextBlock", "TextRun") and node.get("color") in ("Good", "Attention"):
                yield node["text"]
            for v in node.values():
                yield from coloured(v)
        elif isinstance(node, list):
            for v in node:
                yield from coloured(v)

    lines = list(coloured(card))
    assert lines
    for line in lines:
        assert line[0] in "↑↓⚠" and any(w in line for w in ("up", "down", "faster", "slower"))
    assert "↑ up 7 points from last week" in lines
    assert " · above the community median (64%)" in texts(card)


def test_the_card_shows_tools_network_shape_community_place_and_suppression_notes():
    blob = "\n".join(texts(build_class_summary_card(class_summary_view())))
    for expected in ("Teams", "Assignments", "Forms", "OneNote", "Days per user", "85%", "3.4 days"):
        assert expected in blob
    assert "**Conversation shape:** mostly teacher-centred" in blob
    assert "better on 3, behind on 2, level on 0 of 5 measures" in blob
    assert "Suppressed because fewer than 10 students: OneNote days." in blob


def test_the_sparkline_image_has_alt_text_and_the_card_reads_the_same_without_it():
    with_image = build_class_summary_card(class_summary_view())
    images = [b for b in with_image["body"] if b["type"] == "Image"]
    assert len(images) == 1 and images[0]["url"].startswith("https://") and "sig=" in images[0]["url"]
    assert "73%" in images[0]["altText"]
    without = build_class_summary_card(replace(class_summary_view(), sparkline=None))
    assert texts(without) == texts(with_image)
    assert validate_card(without) == []


def test_an_empty_class_says_there_is_nothing_to_measure_yet_and_offers_no_exemplars():
    card = build_class_summary_card(class_summary_view("empty", class_name="New class"))
    assert any("No students are enrolled" in t for t in texts(card))
    assert [a["title"] for a in card["actions"]] == ["Refresh", "Open dashboard"]


def test_a_configured_min_n_is_the_number_the_notes_give():
    view = replace(class_summary_view("suppressed"), min_n=12)
    assert "All figures are suppressed because fewer than 12 students." in texts(build_class_summary_card(view))
