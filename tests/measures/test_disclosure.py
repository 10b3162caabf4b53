"""Disclosure control: small-n suppression and complementary suppression, by example and by property."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from measures import disclosure as dc
from measures.figures import Figure, Suppression


def test_a_part_under_min_n_is_suppressed_and_so_is_the_next_smallest_part():
    total, parts = dc.suppress_table(
        dc.Cell(0.5, 40), {"a": dc.Cell(0.2, 4), "b": dc.Cell(0.6, 12), "c": dc.Cell(0.55, 24)}, min_n=10
    )
    assert total == Figure(0.5, 40)
    assert parts["a"].suppressed is Suppression.SMALL_N
    assert parts["b"].suppressed is Suppression.COMPLEMENTARY  # smallest shown n
    assert parts["c"] == Figure(0.55, 24)


def test_with_a_single_part_the_total_is_suppressed_instead():
    total, _ = dc.suppress_table(dc.Cell(0.5, 12), {"a": dc.Cell(0.5, 5), "b": dc.Cell(None, 7)}, min_n=10)
    # b is no-data-and-small; a is small: two unknowns, the total can stay
    assert total.shown
    total, parts = dc.suppress_table(dc.Cell(0.5, 12), {"a": dc.Cell(0.5, 5), "b": dc.Cell(0.4, 11)}, min_n=10)
    assert parts["b"].suppressed is Suppression.COMPLEMENTARY and total.shown
    total, parts = dc.suppress_table(dc.Cell(0.5, 5), {"a": dc.Cell(0.5, 5)}, min_n=10)
    assert total.suppressed is Suppression.SMALL_N


def test_a_hidden_part_counts_as_unknown_so_one_suppressed_part_is_then_enough():
    _, parts = dc.suppress_table(
        dc.Cell(0.5, 50), {"a": dc.Cell(0.4, 20), "b": dc.Cell(0.6, 30)}, min_n=10, hidden={"b"}
    )
    # b is not displayed (teacher did not opt in): total - a would reveal it, so a goes too
    assert parts["a"].suppressed is Suppression.COMPLEMENTARY
    assert "b" in parts


def test_suppress_figures_hides_rows_and_protects_them_from_subtraction():
    total, rows = dc.suppress_figures(
        Figure(0.5, 50), {"a": Figure(0.4, 20), "b": Figure(0.6, 30), "c": Figure(0.5, 25)}, hidden={"c"}
    )
    assert set(rows) == {"a", "b"}
    assert rows["a"].suppressed is Suppression.COMPLEMENTARY and rows["b"].shown and total.shown


def test_linked_tables_suppress_until_nothing_can_be_derived():
    # entities: 0 district = 1 + 2 (schools); 1 = 3 + 4 (classes); 2 = 5 + 6
    values = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    n = np.array([100, 40, 60, 5, 35, 30, 30])
    rel = dc.Relations.from_lists([(0, [1, 2]), (1, [3, 4]), (2, [5, 6])])
    codes = dc.complementary(dc.primary_codes(values, n, 10), values, n, rel)
    assert codes.tolist() == [0, 0, 0, 1, 2, 0, 0]  # class 3 small, class 4 its complement; schools fine


def test_cascading_when_a_school_total_is_suppressed():
    values = np.full(7, 0.5)
    n = np.array([100, 8, 92, 4, 4, 50, 42])  # school 1 is small itself
    rel = dc.Relations.from_lists([(0, [1, 2]), (1, [3, 4]), (2, [5, 6])])
    codes = dc.complementary(dc.primary_codes(values, n, 10), values, n, rel)
    assert codes[1] == dc.SMALL_N and codes[2] == dc.COMPLEMENTARY  # district − school 2 would give school 1
    # ... and school 2 = class 5 + class 6 would give school 2 back: the smaller class (6, n 42) goes too
    assert codes[6] == dc.COMPLEMENTARY and codes[5] == dc.SHOWN


def _unknown(codes):
    return (codes == dc.SMALL_N) | (codes == dc.COMPLEMENTARY)


tables = st.lists(
    st.tuples(st.integers(0, 40), st.floats(0, 1, allow_nan=False), st.booleans()), min_size=1, max_size=8
)


@settings(max_examples=300, deadline=None)
@given(parts=tables, min_n=st.integers(1, 12))
def test_no_figure_under_min_n_is_shown_and_no_suppressed_part_can_be_derived(parts, min_n):
    cells = {i: dc.count_cell(n, sum(p[0] for p in parts), min_n) if cnt else dc.Cell(v, n)
             for i, (n, v, cnt) in enumerate(parts)}  # fmt: skip
    total = dc.Cell(0.5, sum(p[0] for p in parts))
    t, figs = dc.suppress_table(total, cells, min_n)
    shown = [f for f in (t, *figs.values()) if f.shown]
    assert all(f.n >= min_n for f in shown)
    assert all(not f.shown for k, f in figs.items() if cells[k].small_cell)
    unknown = [k for k, f in figs.items() if f.suppressed in (Suppression.SMALL_N, Suppression.COMPLEMENTARY)]
    assert len(unknown) + (not t.shown) != 1, "one unknown in a table can be solved from the others"


@settings(max_examples=150, deadline=None)
@given(
    n=st.lists(st.integers(0, 30), min_size=7, max_size=7),
    hidden=st.lists(st.booleans(), min_size=7, max_size=7),
)
def test_linked_tables_never_leave_exactly_one_unknown_under_a_shown_total(n, hidden):
    values = np.linspace(0.1, 0.7, 7)
    n = np.array(n)
    hidden = np.array(hidden) & (np.arange(7) >= 3)  # only leaves can be hidden
    tables_ = [(0, [1, 2]), (1, [3, 4]), (2, [5, 6]), (0, [3, 4, 5, 6])]
    rel = dc.Relations.from_lists(tables_)
    codes = dc.complementary(dc.primary_codes(values, n, 10), values, n, rel, hidden)
    assert not np.any((codes == dc.SHOWN) & (n < 10))
    unknown = _unknown(codes) | hidden
    for total, parts in tables_:
        assert unknown[parts].sum() + unknown[total] != 1, (total, parts, codes.tolist())
