"""The only shape in which a number leaves the measures layer.

A ``Figure`` is either a value together with the n it was computed over, or suppressed with a reason.
There is no way to read a suppressed figure's value: it is not kept. Cards, the bot, the tab and the
exports all take Figures, so small-n suppression cannot be forgotten at the edge.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

import orjson

DEFAULT_MIN_N = 10


class Suppression(StrEnum):
    SMALL_N = "small_n"  # fewer than min_n students behind the figure
    COMPLEMENTARY = "complementary"  # would let a suppressed figure be worked out by subtraction
    NO_DATA = "no_data"  # nothing to compute over (e.g. no feedback returned this period)
    FEW_CLASSES = "few_classes"  # a median over fewer than 3 classes would show another teacher's class


@dataclass(frozen=True, slots=True)
class Figure:
    value: float | None
    n: int
    suppressed: Suppression | None = None

    def __post_init__(self):
        if (self.value is None) == (self.suppressed is None):
            raise ValueError("a Figure has either a value or a suppression reason, never both or neither")

    @property
    def shown(self) -> bool:
        return self.suppressed is None

    @classmethod
    def of(cls, value: float | None, n: int, min_n: int = DEFAULT_MIN_N) -> Figure:
        """Apply the small-n rule: the one place a raw number becomes a Figure."""
        if n < min_n:
            return cls(None, n, Suppression.SMALL_N)
        if value is None:
            return cls(None, n, Suppression.NO_DATA)
        return cls(float(value), n, None)

    def suppress(self, reason: Suppression) -> Figure:
        return Figure(None, self.n, reason)

    def to_json(self) -> dict:
        if self.suppressed is None:
            return {"value": self.value, "n": self.n}
        # n of a small group is itself disclosive only with the value; the reason is what readers need.
        return {"suppressed": self.suppressed.value, "n": self.n}


def pack(figures: dict[str, tuple[float | None, int, str | None]]) -> str:
    """One scope's figures for one period as stored (``measure_results.figures``): {measure: [value, n, reason]}.

    One row per scope and period instead of one per figure: a district's nightly recompute writes about 20,000
    rows instead of 750,000, and a card reads one row (migration 0007).
    """
    return orjson.dumps(figures).decode()


def unpacked(text: str) -> Iterator[tuple[str, float | None, int, str | None]]:
    """(measure, value, n, reason) of each figure in a stored row; a suppressed figure has no value."""
    for measure, (value, n, reason) in orjson.loads(text).items():
        yield measure, (None if reason is not None else value), int(n), reason


def unpack(text: str) -> dict[str, Figure]:
    return {
        m: Figure(None, n, Suppression(r)) if r is not None else Figure(float(v), n) for m, v, n, r in unpacked(text)
    }
