"""One headless Chromium for all render tests; skipped with the reason (and the fix) when it cannot start here.

CI sets ``PLI_REQUIRE_RENDER=1`` so that a missing Chromium or ``npm ci`` fails instead of skipping.
"""

from __future__ import annotations

import os

import pytest

from cards.render.browser import CardRenderer, missing_prerequisites
from cards.render.demo import demo_images


def _require_renderer() -> None:
    missing = missing_prerequisites()
    if missing:
        reason = "cannot render cards: " + "; ".join(missing)
        if os.environ.get("PLI_REQUIRE_RENDER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def renderer():
    _require_renderer()
    with CardRenderer(demo_images()) as r:
        yield r


@pytest.fixture
def render_ready():
    _require_renderer()
