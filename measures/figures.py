"""The only shape in which a number leaves the measures layer.

A ``Figure`` is either a value together with the n it was computed over, or suppressed with a reason.
There is no way to read a suppressed figure's value: it is not kept. Cards, the bot, the tab and the
exports all take Figures, so small-n suppression cannot be forgotten at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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
