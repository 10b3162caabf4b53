"""Write every demo card as JSON and as PNG (light and dark): ``pli-pulse cards --out DIR`` and ``make demo``."""

from __future__ import annotations

import json
from pathlib import Path

from cards.catalog import demo_cards
from cards.demo_data import demo_views, sparkline_points
from cards.sparkline import sparkline_png
from cards.validate import assert_valid_card
from cards.views import ClassSummaryView


def demo_images() -> dict[str, bytes]:
    """The images the demo cards reference (by their signed URL), drawn as the app would serve them."""
    images: dict[str, bytes] = {}
    for _name, (_kind, view, *_rest) in demo_views().items():
        if isinstance(view, ClassSummaryView) and view.sparkline is not None:
            images[view.sparkline.url] = sparkline_png(sparkline_points())
    return images


def write_demo_cards(out_dir: Path | str, *, render: bool = True) -> list[Path]:
    """Validate and write ``<name>.json`` for every demo card, then ``<name>-light.png`` and ``<name>-dark.png``.

    JSON is written first, so a machine without Chromium still gets the cards; rendering then raises RenderError
    naming what to install.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cards = demo_cards()
    written: list[Path] = []
    for name, card in cards.items():
        assert_valid_card(card)
        path = out / f"{name}.json"
        path.write_text(json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    if render:
        from cards.render.browser import render_cards

        written += render_cards(cards, out, images=demo_images())
    return written
