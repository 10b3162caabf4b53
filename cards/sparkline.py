"""A small trend sparkline PNG (matplotlib, Agg) for a measure's recent weeks.

Suppressed weeks are gaps, never plotted points: the image must not disclose what the card hides. The card always
says the trend in words as well, so the image is an extra, with alt text.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure as MplFigure

from measures.figures import Figure

THEMES = {
    "light": {"line": "#6264a7", "last": "#6264a7", "base": "#c8c6c4"},
    "dark": {"line": "#a6a7dc", "last": "#a6a7dc", "base": "#605e5c"},
    # One image URL serves both Teams themes: mid-tone colours that read on white and on near-black.
    "neutral": {"line": "#7f81cc", "last": "#7f81cc", "base": "#8a8886"},
}


def sparkline_png(
    points: Sequence[Figure], *, width_px: int = 240, height_px: int = 48, theme: str = "neutral", y_max: float = 1.0
) -> bytes:
    """PNG bytes (transparent background) of ``points`` in order, oldest first, on a 0..``y_max`` scale (1 = shares)."""
    if width_px > 1024 or height_px > 1024:
        raise ValueError("Teams shows card images of at most 1024x1024")
    colours = THEMES[theme]
    dpi = 100
    fig = MplFigure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    fig.patch.set_alpha(0)
    ax = fig.add_axes((0.02, 0.1, 0.96, 0.8))
    ax.set_axis_off()
    ax.patch.set_alpha(0)
    xs = list(range(len(points)))
    ys = [p.value if p.shown else float("nan") for p in points]
    ax.set_xlim(-0.5, max(len(points) - 0.5, 0.5))
    ax.set_ylim(0, y_max * 1.05)
    ax.axhline(0, color=colours["base"], linewidth=1)
    ax.plot(xs, ys, color=colours["line"], linewidth=2, solid_capstyle="round")
    shown = [(x, y) for x, y in zip(xs, ys, strict=True) if y == y]  # NaN != NaN
    if shown:
        ax.plot(*shown[-1], marker="o", markersize=5, color=colours["last"])
    buf = io.BytesIO()
    # No metadata: identical points give identical bytes (stable snapshots, cacheable by ETag).
    fig.savefig(buf, format="png", dpi=dpi, transparent=True, metadata={"Software": None})
    return buf.getvalue()
