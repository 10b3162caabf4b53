"""Measures computed from the store after a real ingest equal the measures computed from the ground truth.

The store side: the simulated tenant (small), the real ingest through msgraph-sdk, then the frames read
back from the store. The truth side: ``simulate truth`` alone, turned into frames (truth_frames.py).
Two documented limits of what Graph can tell, applied to both sides alike:
- OneNote pages name no author, so part of the Collaboration Space history is unknowable: OneNote
  events are left out of both inputs here (the ingest test checks what Graph can vouch for).
- Graph gives no enrolment date; one ingest at term end sees every member as enrolled all term, so the
  truth's join dates are not used either.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pandas as pd
import pytest

from measures.frames import frames_from_store
from measures.periods import all_periods
from measures.results import compute_results
from pli_pulse.pseudonym import Pseudonymizer, key_from_text
from pli_pulse.school_calendar import SchoolCalendar
from simulator.truth import compute_truth
from tests.graph_ingest.test_ingest_against_simulator import KEY, scenario
from tests.measures.truth_frames import frames_from_truth


def without_onenote(frames):
    return replace(frames, events=frames.events[frames.events["tool"] != "onenote"].reset_index(drop=True))


def all_term_enrolment(frames):
    enr = frames.enrollments.copy()
    enr["joined_on"] = pd.NaT
    return replace(frames, enrollments=enr)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("measures-truth")
    done = asyncio.run(scenario(tmp, f"sqlite:///{tmp / 'store.sqlite3'}"))
    district = done["district"]
    cal = district.calendar
    calendar = SchoolCalendar(cal.term_start, cal.term_end, cal.timezone, tuple(cal.weekdays), frozenset(cal.holidays))
    store = without_onenote(frames_from_store(done["engine"]))
    truth = without_onenote(
        all_term_enrolment(frames_from_truth(compute_truth(district), Pseudonymizer(key_from_text(KEY))))
    )
    return calendar, store, truth


@pytest.mark.parametrize("min_n", [1, 10])
def test_every_figure_of_every_period_is_the_same_from_the_store_and_from_the_truth(both, min_n):
    calendar, store, truth = both
    periods = all_periods(calendar, calendar.term_end)
    ours = compute_results(store, calendar, periods, as_of=calendar.term_end, min_n=min_n)
    theirs = compute_results(truth, calendar, periods, as_of=calendar.term_end, min_n=min_n)
    keys = ["scope", "scope_id", "period", "measure"]
    merged = ours.merge(theirs, on=keys, how="outer", suffixes=("_store", "_truth"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    assert len(merged) > 1000
    same_n = merged["n_store"] == merged["n_truth"]
    same_reason = merged["suppressed_store"].fillna("") == merged["suppressed_truth"].fillna("")
    close = (merged["value_store"] - merged["value_truth"]).abs().fillna(0) < 1e-9
    both_nan = merged["value_store"].isna() == merged["value_truth"].isna()
    bad = merged[~(same_n & same_reason & close & both_nan)]
    assert bad.empty, bad[[*keys, "value_store", "value_truth", "n_store", "n_truth"]].head(10).to_string()
