"""Folding activity in batches gives exactly what preparing everything at once gives."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from measures import prepare as prepare_module
from measures.periods import parse_period
from measures.prepare import add_activity, ids_in, prepare
from measures.results import compute_results
from tests.measures.test_properties import FAST, districts
from tests.measures.world import AS_OF, CALENDAR, World, at


def _table(p) -> pd.DataFrame:
    periods = [parse_period(x, CALENDAR, AS_OF) for x in ("2026-W45", "2026-11", "term")]
    t = compute_results(p, CALENDAR, periods, as_of=AS_OF, min_n=1)
    return t.sort_values(["scope", "scope_id", "period", "measure"]).reset_index(drop=True)


@FAST
@given(w=districts(), cut=st.floats(0, 1))
def test_two_batches_give_the_same_figures_as_one(w, cut):
    f = w.frames()
    k = int(len(f.events) * cut)
    first = replace(f, events=f.events.iloc[:k], submissions=f.submissions.iloc[: len(f.submissions) // 2])
    second = replace(f, events=f.events.iloc[k:], submissions=f.submissions.iloc[len(f.submissions) // 2 :])
    p = prepare(first, CALENDAR, AS_OF)
    add_activity(p, second)
    pd.testing.assert_frame_equal(_table(p), _table(prepare(f, CALENDAR, AS_OF)))


def _tie_table(p) -> dict[tuple[int, int], tuple]:
    """Each tie (u, v) with its reverse tie and its undirected pair, by enrolment rows rather than codes."""
    out = {}
    for t, (u, v) in enumerate(zip(p.tie_u.tolist(), p.tie_v.tolist(), strict=True)):
        r, q = p.tie_rev[t], p.tie_pair[t]
        out[(u, v)] = ((p.tie_u[r], p.tie_v[r]) if r >= 0 else None, (p.pair_x[q], p.pair_y[q]))
    return out


@FAST
@given(w=districts(), cuts=st.lists(st.floats(0, 1), max_size=3), seed=st.integers(0, 2**32 - 1))
def test_acts_folded_in_any_order_stay_sorted_by_day_and_each_tie_knows_its_reverse_and_pair(w, cuts, seed):
    f = w.frames()
    events = f.events.sample(frac=1, random_state=seed)  # late events arrive in a later batch
    parts = np.split(np.arange(len(events)), sorted(int(len(events) * c) for c in cuts))
    p = prepare(replace(f, events=events.iloc[parts[0]]), CALENDAR, AS_OF)
    for part in parts[1:]:
        add_activity(p, replace(f, events=events.iloc[part]))
    whole = prepare(f, CALENDAR, AS_OF)
    assert (np.diff(p.e_day) >= 0).all()
    assert sorted(zip(p.e_day.tolist(), p.e_src.tolist(), p.e_dst.tolist(), strict=True)) == sorted(
        zip(whole.e_day.tolist(), whole.e_src.tolist(), whole.e_dst.tolist(), strict=True)
    )
    assert _tie_table(p) == _tie_table(whole)
    assert all(u < v for u, v in zip(p.pair_x.tolist(), p.pair_y.tolist(), strict=True))
    pd.testing.assert_frame_equal(_table(p), _table(whole))


def test_a_submission_returned_later_replaces_its_first_row():
    w = World()
    s = w.klass("A", 2)
    w.assignment("A", "essay")
    w.submission("A", "essay", s[0], at(date(2026, 11, 2)))  # not returned yet: not FA
    p = prepare(w.frames(), CALENDAR, AS_OF)
    before = _table(p)
    row = (before["scope_id"] == "A") & (before["period"] == "2026-W45") & (before["measure"] == "fa_reach")
    assert before.loc[row, "value"].item() == 0.0
    later = World()
    later.submissions = [dict(w.submissions[0], returned_at=at(date(2026, 11, 4)))]
    add_activity(p, replace(later.frames(), assignments=w.frames().assignments))
    after = _table(p)
    assert after.loc[row, "value"].item() == 0.5  # the same submission, now with feedback: FA
    ta = (after["scope_id"] == "A") & (after["period"] == "2026-W45") & (after["measure"] == "feedback_turnaround")
    assert after.loc[ta, "value"].item() == 48.0


def test_submission_lookups_stay_exact_when_every_id_hashes_alike(monkeypatch):
    monkeypatch.setattr(prepare_module, "_id_hashes", lambda ids: np.zeros(len(ids), dtype=np.uint64))
    w = World()
    s = w.klass("A", 3)
    w.assignment("A", "essay")
    for i, student in enumerate(s):
        w.submission("A", "essay", student, at(date(2026, 11, 2 + i)))
    p = prepare(w.frames(), CALENDAR, AS_OF)
    later = World()
    later.submissions = [dict(w.submissions[1], returned_at=at(date(2026, 11, 6)))]
    add_activity(p, replace(later.frames(), assignments=w.frames().assignments))
    assert list(p.sub_ids) == [x["submission_id"] for x in w.submissions]  # replaced, not appended
    whole = World()
    whole.submissions = [w.submissions[0], later.submissions[0], w.submissions[2]]
    expected = prepare(replace(w.frames(), submissions=whole.frames().submissions), CALENDAR, AS_OF)
    pd.testing.assert_frame_equal(_table(p), _table(expected))


def test_a_codebook_numbers_keys_in_the_order_first_seen_and_finds_them_in_any_order():
    book = prepare_module.Codebook()
    codes, new = book.extend(np.array([50, 7, 50, 900], dtype=np.int64))
    assert codes.tolist() == [0, 1, 0, 2] and new.tolist() == [50, 7, 900]
    codes, new = book.extend(np.array([3, 900, 7], dtype=np.int64))
    assert codes.tolist() == [3, 2, 1] and new.tolist() == [3]
    assert book.find(np.array([900, 4, 3, 50, 10**12], dtype=np.int64)).tolist() == [2, -1, 3, 0, -1]
    assert prepare_module.Codebook().find(np.array([1], dtype=np.int64)).tolist() == [-1]


def test_ids_in_answers_exactly_as_isin_on_string_and_object_indexes():
    ids = pd.Index(["a-1", "b-2", "c-3", "", "a-1"], dtype="str")
    among = pd.Index(["a-1", "", "z-9"], dtype="str")
    want = [True, False, False, True, True]
    assert ids_in(ids, among).tolist() == want == ids.isin(among).tolist()
    assert ids_in(ids.astype(object), among.astype(object)).tolist() == want
    assert not ids_in(ids, pd.Index([], dtype="str")).any()


def test_acts_are_counted_per_day_and_class_and_one_outside_the_term_or_a_class_is_refused():
    from types import SimpleNamespace

    p = SimpleNamespace(n_days=3, n_classes=2, day_acts=np.zeros((3, 2), np.int32))
    p.day_teacher_acts = np.zeros((3, 2), np.int32)
    prepare_module._count_acts(p, np.array([0, 2, 2]), np.array([1, 0, 0]), np.array([False, True, False]))
    assert p.day_acts.tolist() == [[0, 1], [0, 0], [2, 0]]
    assert p.day_teacher_acts.tolist() == [[0, 0], [0, 0], [1, 0]]
    for day, cls in (([3], [0]), ([-1], [0]), ([0], [-1]), ([0], [2])):
        with pytest.raises(ValueError, match="outside the term or without a class"):
            prepare_module._count_acts(p, np.array(day), np.array(cls), np.array([True]))
    assert p.day_acts.sum() == 3  # nothing was added by the refused batches
