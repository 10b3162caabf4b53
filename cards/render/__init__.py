"""Card rendering: PNGs from the official JS renderer in headless Chromium (see browser.py), and the demo set."""

from cards.render.browser import CardRenderer, RenderError, missing_prerequisites, render_cards
from cards.render.demo import write_demo_cards

__all__ = ["CardRenderer", "RenderError", "missing_prerequisites", "render_cards", "write_demo_cards"]
