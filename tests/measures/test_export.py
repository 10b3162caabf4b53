"""Exports are pseudonymised a second time, so they cannot be joined back to the store."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from measures.export import EVENT_COLUMNS, export_events
from measures.materialise import recompute
from pli_pulse.pseudonym import Pseudonymizer, Purpose
from tests.measures.test_materialise import _settings
from tests.measures.world import World, at, store_world


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_events_with_export_pseudonyms_and_the_measures(store_engine, tmp_path, fmt):
    w = World()
    s = w.klass("A", 3, teacher="teacher-aad-guid")
    w.act("A", "reply", s[0], s[1], at(date(2026, 11, 3)))
    w.event("A", "forms", "form_response", s[2], at(date(2026, 11, 4)))
    store_world(store_engine, w)
    recompute(store_engine, _settings(store_engine), periods=["2026-W45"], as_of=date(2026, 11, 20))
    p = Pseudonymizer(b"k" * 32)
    report = export_events(store_engine, tmp_path, p, fmt)
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    events = read(report.events_path)
    assert list(events.columns) == list(EVENT_COLUMNS) and len(events) == report.events == 2
    store_keys = {*s, "teacher-aad-guid"}
    exported = set(events["event_actor"]) | set(events["event_target"].dropna())
    assert not exported & store_keys
    assert p.pseudonym(Purpose.EXPORT, s[0]) in exported
    assert set(events["event_type"]) == {"teams.reply", "forms.form_response"}
    assert events["event_eventTime"].iloc[0] == "2026-11-03T18:00:00.000000Z"  # 10:00 PST
    measures = read(report.measures_path)
    assert len(measures) == report.measures > 0
    assert "teacher-aad-guid" not in set(measures["scope_id"])
    assert p.pseudonym(Purpose.EXPORT, "teacher-aad-guid") in set(measures["scope_id"])


def test_an_unknown_format_is_refused(store_engine, tmp_path):
    with pytest.raises(ValueError, match="choose parquet or csv"):
        export_events(store_engine, tmp_path, Pseudonymizer(b"k" * 32), "xlsx")
