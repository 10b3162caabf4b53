from __future__ import annotations

import asyncio

import pytest

from cards.catalog import demo_cards
from cards.demo_data import demo_views
from cards.render.browser import RenderError, render_cards

from ..helpers import INJECTION

PLAIN = demo_cards()
HOSTILE = demo_cards(INJECTION)


@pytest.mark.parametrize("name", list(demo_views()))
def test_every_demo_card_renders_in_light_and_dark_with_no_renderer_warnings(renderer, name):
    for theme in ("light", "dark"):
        rendered = renderer.render(PLAIN[name], theme)
        assert rendered.events == ()
        assert rendered.broken_images == ()
        assert rendered.png[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", ["digest", "exemplar", "exemplar-search", "welcome-unknown-command", "error"])
def test_injected_text_renders_literally_with_no_link_markup_or_mention(renderer, name):
    rendered = renderer.render(HOSTILE[name], "light")
    assert rendered.events == ()
    html = rendered.html
    assert "**Boss**" in html and "[click](https://evil.example)" in html
    assert 'href="https://evil.example' not in html
    assert "<strong>Boss</strong>" not in html and "<b>bold</b>" not in html
    assert "&lt;at&gt;Grace Okafor&lt;/at&gt;" in html
    # The hostile "<at>Grace Okafor</at>" is never drawn as a mention: at most the card's own entities are.
    assert html.count('class="pli-mention"') <= len(HOSTILE[name].get("msteams", {}).get("entities", []))


def test_only_the_digests_own_mentions_are_drawn_as_mentions(renderer):
    card = PLAIN["digest"]
    rendered = renderer.render(card, "light")
    shown = rendered.html.count('class="pli-mention"')
    assert shown == len(card["msteams"]["entities"]) > 0
    assert renderer.render(HOSTILE["digest"], "light").html.count('class="pli-mention"') == 1  # one hostile name


def test_the_renderer_reports_a_card_it_cannot_use_so_zero_events_means_something(renderer):
    broken = {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [
            {"type": "TextBlock", "text": "x", "size": "Huge"},
            {"type": "Input.Text", "id": "a", "isRequired": True},
            {"type": "TextBlock", "text": "y", "id": "a"},
        ],
    }
    events = renderer.render(broken, "light").events
    assert any(e.startswith("InvalidPropertyValue") for e in events)
    assert any(e.startswith("RequiredInputsShouldHaveLabel") for e in events)
    assert any(e.startswith("DuplicateId") for e in events)


def test_remote_requests_are_blocked(renderer):
    card = {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [{"type": "Image", "url": "https://evil.example/track.png", "altText": "x"}],
    }
    assert renderer.render(card, "light").broken_images == ("https://evil.example/track.png",)


def test_render_cards_refuses_a_card_with_renderer_warnings_after_writing_its_png(render_ready, tmp_path):
    bad = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "ProgressBar"}]}
    with pytest.raises(RenderError, match="UnknownElementType"):
        render_cards({"bad": bad}, tmp_path, themes=("light",))
    assert (tmp_path / "bad-light.png").exists()


def test_an_open_renderer_leaves_asyncio_usable_on_the_calling_thread(renderer):
    async def answer():
        return 42

    assert asyncio.run(answer()) == 42
    assert renderer.render(PLAIN["error"], "light").events == ()


async def test_render_cards_can_be_called_from_async_code(render_ready, tmp_path):
    paths = render_cards({"error": PLAIN["error"]}, tmp_path, themes=("dark",))
    assert [p.name for p in paths] == ["error-dark.png"]
