"""The frames loader reads the store on both backends and gives the same measures as the frames built by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from measures.frames import FramesError, frames_from_store
from measures.periods import parse_period
from measures.results import compute_results
from tests.measures.world import AS_OF, CALENDAR, World, at, store_world


def _world() -> World:
    w = World()
    s = w.klass("A", 3, teacher="T1")
    late = w.enroll("A", "A-late", joined_on=date(2026, 11, 18), left_on=date(2026, 12, 4))
    w.klass("B", 2, pli=False, community=None, teacher="T2")
    w.event("A", "forms", "form_response", s[0], at(date(2026, 11, 2), 23, 30))  # 07:30 UTC next day
    w.act("A", "reply", s[1], s[0], at(date(2026, 11, 3)))
    w.event("A", "teams", "post", late, at(date(2026, 11, 19)))
    w.assignment("A", "quiz", forms=True)
    w.submission("A", "quiz", s[2], at(date(2026, 11, 4)), at(date(2026, 11, 5)))
    w.member("community-1", "T1")
    w.talk("community-1", "T1", at(date(2026, 11, 4)))
    return w


def test_frames_from_store_round_trips_the_frames(store_engine):
    w = _world()
    store_world(store_engine, w)
    f = frames_from_store(store_engine)
    assert len(f.events) == 4 and len(f.submissions) == 1
    assert str(f.events["occurred_at"].dt.tz) == "UTC"
    assert f.events["occurred_at"].min() == pd.Timestamp("2026-11-03 07:30", tz="UTC")
    late = f.enrollments[f.enrollments["person_key"] == "A-late"].iloc[0]
    assert late["joined_on"] == pd.Timestamp("2026-11-18") and late["left_on"] == pd.Timestamp("2026-12-04")
    classes = f.classes.set_index("class_id")
    assert classes.loc["A", "community_id"] == "community-1" and classes.loc["B", "community_id"] is None
    assert bool(classes.loc["A", "is_pli"]) and not bool(classes.loc["B", "is_pli"])
    periods = [parse_period(p, CALENDAR, AS_OF) for p in ("2026-W45", "2026-W47", "term")]

    def table(frames):
        t = compute_results(frames, CALENDAR, periods, as_of=AS_OF, min_n=1)
        return t.sort_values(["scope", "scope_id", "period", "measure"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(table(f), table(w.frames().normalised()))


def test_naive_timestamps_are_refused_with_a_clear_message():
    w = _world()
    f = w.frames()
    f.events["occurred_at"] = f.events["occurred_at"].dt.tz_localize(None)
    with pytest.raises(FramesError, match="naive timestamps"):
        f.normalised()


def test_a_missing_column_is_named():
    f = _world().frames()
    broken = replace(f, events=f.events.drop(columns=["tool"]))
    with pytest.raises(FramesError, match=r"events frame lacks columns \['tool'\]"):
        broken.normalised()
