"""Golden PNGs of the demo cards in docs/cards/, and the image comparison that turns a visual change into a failure.

Regenerate after an intended visual change with ``.venv/bin/python -m cards.render.snapshots`` and review the diff.
Renders are byte-identical on one machine (Chromium, the Liberation Sans font and DPR pinned); the tolerance only
absorbs anti-aliasing differences between Chromium builds, not a changed word (see the tests).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs" / "cards"
#: One or more scenarios of every card kind (the variants that look different), each in light and dark.
SNAPSHOT_NAMES = (
    "class-summary",
    "class-summary-suppressed",
    "class-summary-empty",
    "digest",
    "digest-private",
    "exemplar",
    "exemplar-form-errors",
    "exemplar-search",
    "welcome-unknown-command",
    "error",
)
#: Mean absolute difference per channel (0-255) a render may differ from its snapshot by.
MAX_MEAN_ABS_DIFF = 0.75
#: Share of pixels allowed to differ strongly (> STRONG_DIFF in some channel): a changed word is several times this.
MAX_CHANGED_SHARE = 0.0001
STRONG_DIFF = 48


@dataclass(frozen=True, slots=True)
class ImageDiff:
    size_a: tuple[int, int]
    size_b: tuple[int, int]
    mean_abs: float
    changed_share: float

    @property
    def same(self) -> bool:
        return (
            self.size_a == self.size_b
            and self.mean_abs <= MAX_MEAN_ABS_DIFF
            and self.changed_share <= MAX_CHANGED_SHARE
        )

    def __str__(self) -> str:
        if self.size_a != self.size_b:
            return f"size {self.size_a} != {self.size_b}"
        return f"mean |diff| {self.mean_abs:.3f} (max {MAX_MEAN_ABS_DIFF}), changed {self.changed_share:.5%}"


def compare_png(a: bytes, b: bytes) -> ImageDiff:
    import numpy as np
    from PIL import Image

    ia, ib = (Image.open(io.BytesIO(x)).convert("RGB") for x in (a, b))
    if ia.size != ib.size:
        return ImageDiff(ia.size, ib.size, float("inf"), 1.0)
    diff = np.abs(np.asarray(ia, dtype=np.int16) - np.asarray(ib, dtype=np.int16))
    changed = (diff.max(axis=2) > STRONG_DIFF).mean()
    return ImageDiff(ia.size, ib.size, float(diff.mean()), float(changed))


def snapshot_cards() -> dict[str, dict]:
    from cards.catalog import demo_cards

    cards = demo_cards()
    return {name: cards[name] for name in SNAPSHOT_NAMES}


def write_snapshots(out_dir: Path = DOCS_DIR) -> list[Path]:
    from cards.render.browser import render_cards
    from cards.render.demo import demo_images

    return render_cards(snapshot_cards(), out_dir, images=demo_images())


if __name__ == "__main__":
    for path in write_snapshots():
        print(path)
