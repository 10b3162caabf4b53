"""Disclosure control: the one module that decides what may be shown (PRODUCT.md §4, last paragraph).

Two rules, applied to every figure that leaves the measures layer:

1. **Primary (small-n) suppression.** A figure computed over fewer than ``min_n`` people is suppressed
   (``Suppression.SMALL_N``). For a count in a frequency table (the teacher-activity distribution) the
   figure is "computed over" the whole table's N, and a cell is also suppressed when it counts between 1
   and min_n − 1 people: a small cell singles people out even when N is large.
2. **Complementary suppression.** Wherever a total and its parts are shown (a community and its class rows,
   a school and its PLI / non-PLI parts, the district and its schools, a distribution and its categories),
   a suppressed part must not be recoverable as ``total − Σ shown parts``, nor a suppressed total as
   ``Σ parts``. Each table is one equation, so a value is recoverable exactly when the table has ONE
   unknown. Whenever that happens the next-smallest shown part (smallest n, then smallest value) is
   suppressed too (``Suppression.COMPLEMENTARY``); if no part is left to suppress, the total is. Tables
   are linked (a school total is a part of the district), so the rule is applied to all tables together
   until nothing changes. Parts that are not displayed for another reason (a class whose
   teacher did not opt in) count as unknown too: subtraction must not reveal them either.

Group figures pool class enrolments (see measures/results.py), so a total's numerator and denominator are
exactly the sums of its parts'. That exactness is what makes this rule both necessary and sufficient
against single-table subtraction. Attacks that combine several tables by linear algebra beyond one
unknown per table are out of scope, as in the usual cell-suppression practice.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from measures.figures import DEFAULT_MIN_N, Figure, Suppression

K = TypeVar("K", bound=Hashable)

SHOWN = np.int8(0)
SMALL_N = np.int8(1)
COMPLEMENTARY = np.int8(2)
NO_DATA = np.int8(3)
_REASON = {1: Suppression.SMALL_N, 2: Suppression.COMPLEMENTARY, 3: Suppression.NO_DATA}
_CODE = {Suppression.SMALL_N: SMALL_N, Suppression.COMPLEMENTARY: COMPLEMENTARY, Suppression.NO_DATA: NO_DATA}


def min_n_from(settings) -> int:
    return int(getattr(settings, "privacy_min_n", DEFAULT_MIN_N))


@dataclass(frozen=True, slots=True)
class Cell:
    """A raw number before disclosure control; never leaves the measures package."""

    value: float | None
    n: int
    small_cell: bool = False  # a frequency-table count of 1..min_n-1 people


def count_cell(count: int, total: int, min_n: int) -> Cell:
    """A frequency-table count: computed over the table's N, suppressed as a small cell when 0 < count < min_n."""
    return Cell(float(count), int(total), 0 < count < min_n)


def primary_codes(values: np.ndarray, n: np.ndarray, min_n: int, small_cell: np.ndarray | None = None) -> np.ndarray:
    """Reason codes after rule 1: small n (or a small cell) first, then no data (NaN value)."""
    values = np.asarray(values, dtype=float)
    n = np.asarray(n)
    codes = np.zeros(values.shape, dtype=np.int8)
    codes[np.isnan(values)] = NO_DATA
    small = n < min_n
    if small_cell is not None:
        small |= np.asarray(small_cell, dtype=bool)
    codes[small] = SMALL_N
    return codes


@dataclass(frozen=True)
class Relations:
    """Total/parts tables over entity row indices: relation r has total ``totals[r]`` and parts
    ``parts[ptr[r]:ptr[r+1]]``."""

    totals: np.ndarray
    ptr: np.ndarray
    parts: np.ndarray

    @classmethod
    def from_lists(cls, tables: Sequence[tuple[int, Sequence[int]]]) -> Relations:
        tables = [(t, list(p)) for t, p in tables if len(p) > 0]
        totals = np.array([t for t, _ in tables], dtype=np.int64)
        sizes = np.array([len(p) for _, p in tables], dtype=np.int64)
        ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        parts = np.array([i for _, p in tables for i in p], dtype=np.int64)
        return cls(totals, ptr, parts)

    def __len__(self) -> int:
        return len(self.totals)


def complementary(
    codes: np.ndarray,
    values: np.ndarray,
    n: np.ndarray,
    relations: Relations,
    hidden: np.ndarray | None = None,
) -> np.ndarray:
    """Rule 2 on matrices of shape (entities, layers); each layer (a measure in a period) is independent.

    Returns new codes. ``hidden`` marks parts not displayed for a reason other than disclosure control.
    """
    codes = np.array(codes, dtype=np.int8, copy=True)
    if codes.ndim == 1:
        return complementary(
            codes[:, None], np.asarray(values)[:, None], np.asarray(n)[:, None], relations,
            None if hidden is None else np.asarray(hidden)[:, None],
        )[:, 0]  # fmt: skip
    if len(relations) == 0 or codes.size == 0:
        return codes
    values = np.asarray(values, dtype=float)
    n = np.asarray(n, dtype=np.int64)
    hidden = np.zeros(codes.shape, dtype=bool) if hidden is None else np.asarray(hidden, dtype=bool)
    ptr, parts, totals = relations.ptr, relations.parts, relations.totals
    layers = np.arange(codes.shape[1])  # only layers changed in the last sweep can hold new triggers
    while True:
        sub = codes[:, layers]
        unknown = (sub == SMALL_N) | (sub == COMPLEMENTARY) | hidden[:, layers]
        counts = np.add.reduceat(unknown[parts].astype(np.int32), ptr[:-1], axis=0) + unknown[totals]
        trigger = counts == 1
        if not trigger.any():
            return codes
        changed: set[int] = set()
        for r, j in np.argwhere(trigger):
            layer = layers[j]
            total = totals[r]
            members = parts[ptr[r] : ptr[r + 1]]
            col = codes[members, layer]
            part_unknown = (col == SMALL_N) | (col == COMPLEMENTARY) | hidden[members, layer]
            total_unknown = codes[total, layer] in (SMALL_N, COMPLEMENTARY) or hidden[total, layer]
            if part_unknown.sum() + total_unknown != 1:
                continue  # an earlier pick in this sweep already settled this table
            candidates = members[(col == SHOWN) & ~hidden[members, layer]]
            if candidates.size:
                order = np.lexsort((candidates, values[candidates, layer], n[candidates, layer]))
                codes[candidates[order[0]], layer] = COMPLEMENTARY
                changed.add(int(layer))
            elif codes[total, layer] == SHOWN and not hidden[total, layer]:
                codes[total, layer] = COMPLEMENTARY
                changed.add(int(layer))
            # else: the one unknown sits among no-data cells only, so there is no number to recover
        if not changed:
            return codes
        layers = np.array(sorted(changed))


def to_figure(value: float, n: int, code: int) -> Figure:
    if code == SHOWN:
        return Figure(float(value), int(n))
    return Figure(None, int(n), _REASON[int(code)])


def suppress_table(
    total: Cell,
    parts: Mapping[K, Cell],
    min_n: int = DEFAULT_MIN_N,
    hidden: frozenset[K] | set[K] = frozenset(),
) -> tuple[Figure, dict[K, Figure]]:
    """One (total, parts) table of raw cells to Figures, with both rules applied."""
    keys = list(parts)
    cells = [total, *(parts[k] for k in keys)]
    values = np.array([np.nan if c.value is None else c.value for c in cells], dtype=float)
    ns = np.array([c.n for c in cells], dtype=np.int64)
    small = np.array([c.small_cell for c in cells], dtype=bool)
    hid = np.array([False, *(k in hidden for k in keys)], dtype=bool)
    codes = primary_codes(values, ns, min_n, small)
    codes = complementary(codes, values, ns, Relations.from_lists([(0, range(1, len(cells)))]), hid)
    figs = [to_figure(values[i], ns[i], codes[i]) for i in range(len(cells))]
    return figs[0], {k: figs[i + 1] for i, k in enumerate(keys)}


def suppress_figures(
    total: Figure, parts: Mapping[K, Figure], hidden: frozenset[K] | set[K] = frozenset()
) -> tuple[Figure, dict[K, Figure]]:
    """Rule 2 again for a view that shows only some parts (a community card with its opted-in class rows).

    The stored figures already passed both rules for the full tables; hiding parts can reopen a subtraction,
    so a view re-applies rule 2 with its hidden parts before it displays anything.
    """
    keys = list(parts)
    figs = [total, *(parts[k] for k in keys)]
    values = np.array([np.nan if f.value is None else f.value for f in figs], dtype=float)
    ns = np.array([f.n for f in figs], dtype=np.int64)
    codes = np.array([SHOWN if f.shown else _CODE[f.suppressed] for f in figs], dtype=np.int8)
    hid = np.array([False, *(k in hidden for k in keys)], dtype=bool)
    codes = complementary(codes, values, ns, Relations.from_lists([(0, range(1, len(figs)))]), hid)
    out = [f if codes[i] == SHOWN or not f.shown else f.suppress(_REASON[int(codes[i])]) for i, f in enumerate(figs)]
    return out[0], {k: out[i + 1] for i, k in enumerate(keys) if k not in hidden}
