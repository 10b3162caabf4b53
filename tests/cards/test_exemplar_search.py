from __future__ import annotations

from dataclasses import replace

from cards.demo_data import search_view
from cards.exemplar_search import build_exemplar_search_card

from .helpers import texts


def _by_title(card):
    return {a["title"]: a for a in card["actions"]}


def test_a_middle_page_says_which_results_it_shows_and_pages_both_ways():
    card = build_exemplar_search_card(search_view(page=2))
    assert "Showing 11–20 of 43" in texts(card)
    actions = _by_title(card)
    assert actions["Previous"]["verb"] == "searchExemplars"
    assert actions["Previous"]["data"] == {"verb": "searchExemplars", "query": "peer feedback", "page": 1}
    assert actions["Next"]["data"]["page"] == 3


def test_the_first_page_has_no_previous_and_the_last_page_no_next():
    first = build_exemplar_search_card(search_view(page=1))
    assert "Previous" not in _by_title(first) and "Showing 1–10 of 43" in texts(first)
    last = build_exemplar_search_card(replace(search_view(page=5), results=search_view().results[:3]))
    assert "Next" not in _by_title(last) and "Showing 41–43 of 43" in texts(last)


def test_each_result_opens_its_activity_when_tapped():
    card = build_exemplar_search_card(search_view())
    containers = [b for b in card["body"] if b["type"] == "Container"]
    assert len(containers) == 10
    assert all(c["selectAction"]["type"] == "Action.OpenUrl" for c in containers)


def test_no_results_says_what_to_try():
    card = build_exemplar_search_card(replace(search_view(), results=(), total=0, page=1))
    assert any("No exemplars match" in t for t in texts(card))
    assert list(_by_title(card)) == ["Share an exemplar"]
