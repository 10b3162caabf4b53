"""Folding activity in batches gives exactly what preparing everything at once gives."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from measures.periods import parse_period
from measures.prepare import add_activity, prepare
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
