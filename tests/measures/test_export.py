"""Exports are pseudonymised a second time, so they cannot be joined back to the store, and use OEA column names."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from measures.export import EVENT_COLUMNS, OEA_COLUMNS, export_events
from measures.materialise import recompute
from pli_pulse.pseudonym import Pseudonymizer, Purpose
from tests.measures.test_materialise import _settings
from tests.measures.world import World, at, store_world

#: Copied by hand from OpenEducationAnalytics/OpenEducationAnalytics@2930b7fe5f0ae09adf7017c07c4dcb72d4c24be8,
#: schemas/schema_catalog/Digital_Engagement_Schema/notebook/Schema_DigitalActivity_py.ipynb,
#: ``self.schemas['ActivityEvents']`` (the README's 11-column table, plus the ``year``/``month`` partitions).
OEA_DIGITAL_ENGAGEMENT = [
    "event_id",
    "event_type",
    "event_actor",
    "event_object",
    "event_eventTime",
    "entity_type",
    "softwareApplication_version",
    "generated_aggregateMeasure_metric_timeOnTaskSec",
    "generated_aggregateMeasure_metric_numAccess",
    "generated_aggregateMeasure_metric_used",
    "generated_aggregateMeasure_metric_activityReportPeriod",
    "year",
    "month",
]
OEA_UNMAPPED = [
    "softwareApplication_version",
    "generated_aggregateMeasure_metric_timeOnTaskSec",
    "generated_aggregateMeasure_metric_numAccess",
    "generated_aggregateMeasure_metric_used",
    "generated_aggregateMeasure_metric_activityReportPeriod",
]
FORM_ID = "DQSIkWdsW0yxEjajBLZtrQAAAAAAAAAAAAN__teacher-aad-guid"  # Forms ids embed the owner's ids


def _export(store_engine, tmp_path, fmt):
    w = World()
    s = w.klass("A", 3, teacher="teacher-aad-guid")
    w.act("A", "reply", s[0], s[1], at(date(2026, 11, 3)))
    w.event("A", "forms", "form_response", s[2], at(date(2026, 12, 4)), object_id=FORM_ID)
    store_world(store_engine, w)
    recompute(store_engine, _settings(store_engine), periods=["2026-W45"], as_of=date(2026, 11, 20))
    p = Pseudonymizer(b"k" * 32)
    report = export_events(store_engine, tmp_path, p, fmt)
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    return s, p, report, read(report.events_path), read(report.measures_path)


def test_event_columns_are_the_oea_digital_engagement_columns_in_order_then_pli_pulse_extras():
    assert list(OEA_COLUMNS) == OEA_DIGITAL_ENGAGEMENT
    assert list(EVENT_COLUMNS) == [*OEA_DIGITAL_ENGAGEMENT, "event_target", "object_id", "class_id", "community_id"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_events_with_export_pseudonyms_and_the_measures(store_engine, tmp_path, fmt):
    s, p, report, events, measures = _export(store_engine, tmp_path, fmt)
    assert list(events.columns) == list(EVENT_COLUMNS) and len(events) == report.events == 2
    store_keys = {*s, "teacher-aad-guid"}
    exported = set(events["event_actor"]) | set(events["event_target"].dropna())
    assert not exported & store_keys
    assert p.pseudonym(Purpose.EXPORT, s[0]) in exported
    assert len(measures) == report.measures > 0
    assert "teacher-aad-guid" not in set(measures["scope_id"])
    assert p.pseudonym(Purpose.EXPORT, "teacher-aad-guid") in set(measures["scope_id"])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_events_map_the_app_to_entity_type_the_act_to_event_type_and_name_pli_pulse_as_the_source(
    store_engine, tmp_path, fmt
):
    _, _, _, events, _ = _export(store_engine, tmp_path, fmt)
    reply, form = events.iloc[0], events.iloc[1]
    assert (reply["entity_type"], reply["event_type"]) == ("teams", "reply")
    assert (form["entity_type"], form["event_type"]) == ("forms", "form_response")
    assert set(events["event_object"]) == {"PLI_Pulse"}
    assert reply["event_eventTime"] == "2026-11-03T18:00:00.000000Z"  # 10:00 PST, in UTC
    assert (reply["year"], reply["month"], form["year"], form["month"]) == (2026, 11, 2026, 12)
    assert set(events["class_id"]) == {"A"}
    assert events[OEA_UNMAPPED].isna().all().all()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_event_and_object_ids_leave_only_as_export_hashes(store_engine, tmp_path, fmt):
    _, p, _, events, _ = _export(store_engine, tmp_path, fmt)
    form = events.iloc[1]
    assert form["object_id"] == p.pseudonym(Purpose.EXPORT, "object:" + FORM_ID)
    cells = {str(v) for v in events.to_numpy().ravel()}
    assert FORM_ID not in cells and not any("teacher-aad-guid" in c for c in cells)
    assert events["event_id"].str.fullmatch(r"[0-9a-f]{64}").all() and events["event_id"].is_unique


def test_parquet_events_are_typed_as_the_oea_schema_says_even_when_a_column_is_empty(store_engine, tmp_path):
    _export(store_engine, tmp_path, "parquet")
    arrow = pq.read_schema(tmp_path / "events.parquet")
    assert arrow.names == list(EVENT_COLUMNS)
    assert {arrow.field(c).type for c in EVENT_COLUMNS if c not in ("year", "month")} == {pa.string()}
    assert arrow.field("year").type == arrow.field("month").type == pa.int32()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_empty_store_still_exports_the_oea_header(store_engine, tmp_path, fmt):
    report = export_events(store_engine, tmp_path, Pseudonymizer(b"k" * 32), fmt)
    events = (pd.read_csv if fmt == "csv" else pd.read_parquet)(report.events_path)
    assert report.events == 0 and events.empty and list(events.columns) == list(EVENT_COLUMNS)


def test_an_unknown_format_is_refused(store_engine, tmp_path):
    with pytest.raises(ValueError, match="choose parquet or csv"):
        export_events(store_engine, tmp_path, Pseudonymizer(b"k" * 32), "xlsx")
