from __future__ import annotations

import io

import numpy as np
from PIL import Image

from cards.sparkline import sparkline_png
from measures.figures import Figure, Suppression

HIDDEN = Figure(None, 4, Suppression.SMALL_N)


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_the_sparkline_is_a_png_of_the_requested_size_and_identical_for_identical_input():
    points = [Figure.of(v, 20) for v in (0.2, 0.4, 0.3, 0.7)]
    png = sparkline_png(points, width_px=240, height_px=48)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert Image.open(io.BytesIO(png)).size == (240, 48)
    assert sparkline_png(points, width_px=240, height_px=48) == png


def test_suppressed_weeks_are_gaps_so_an_all_suppressed_series_draws_only_the_baseline():
    baseline_only = _pixels(sparkline_png([HIDDEN] * 6))
    drawn_rows = np.nonzero(baseline_only[:, :, 3].any(axis=1))[0]
    assert drawn_rows.max() - drawn_rows.min() <= 2  # one thin horizontal line
    shown = _pixels(sparkline_png([Figure.of(v, 20) for v in (0.2, 0.9, 0.5, 0.8, 0.3, 0.6)]))
    assert np.count_nonzero(shown[:, :, 3]) > 3 * np.count_nonzero(baseline_only[:, :, 3])
