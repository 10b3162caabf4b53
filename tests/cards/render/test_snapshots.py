from __future__ import annotations

import copy

import pytest

from cards.render.snapshots import DOCS_DIR, SNAPSHOT_NAMES, compare_png, snapshot_cards

CARDS = snapshot_cards()


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("name", SNAPSHOT_NAMES)
def test_a_fresh_render_matches_the_committed_snapshot(renderer, name, theme):
    golden = DOCS_DIR / f"{name}-{theme}.png"
    assert golden.exists(), f"missing snapshot {golden}: run .venv/bin/python -m cards.render.snapshots"
    diff = compare_png(renderer.render(CARDS[name], theme).png, golden.read_bytes())
    assert diff.same, f"{name} ({theme}) differs from docs/cards: {diff}"


def test_a_one_word_change_is_a_visual_regression(renderer):
    card = copy.deepcopy(CARDS["exemplar"])
    card["body"][5]["text"] = card["body"][5]["text"].replace("Students", "Learners", 1)
    diff = compare_png(renderer.render(card, "light").png, (DOCS_DIR / "exemplar-light.png").read_bytes())
    assert not diff.same, str(diff)


def test_a_colour_change_is_a_visual_regression(renderer):
    card = copy.deepcopy(CARDS["error"])
    card["body"][0]["color"] = "Good"
    diff = compare_png(renderer.render(card, "dark").png, (DOCS_DIR / "error-dark.png").read_bytes())
    assert not diff.same, str(diff)
