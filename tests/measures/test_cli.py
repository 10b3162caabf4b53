"""The functions behind `pli-pulse measures` and `pli-pulse export`."""

from __future__ import annotations

from datetime import date

import orjson
import pytest

from measures.cli import cli_export, cli_measures
from tests.measures.test_materialise import _settings
from tests.measures.world import World, at, store_world


@pytest.fixture
def settings(store_engine, tmp_path):
    w = World()
    s = w.klass("A", 3)
    w.event("A", "forms", "form_response", s[0], at(date(2026, 11, 3)))
    w.klass("B", 2, school="school-2", community="community-2")
    store_world(store_engine, w)
    st = _settings(store_engine)
    return st.model_copy(update={"privacy_pseudonym_key_file": tmp_path / "key"})


def test_cli_measures_computes_a_missing_period_and_shows_it_as_a_table(settings):
    text = cli_measures(settings, "2026-W45")
    assert "2026-W45" in text and "A" in text and "33%" in text


def test_cli_measures_filters_to_a_class_in_json(settings):
    doc = orjson.loads(cli_measures(settings, "2026-W45", class_id="A", fmt="json"))
    assert set(doc["periods"]["2026-W45"]) == {"class"}
    assert doc["periods"]["2026-W45"]["class"]["A"]["fa_reach"]["value"] == pytest.approx(1 / 3)


def test_cli_measures_filters_to_a_school_in_csv(settings):
    text = cli_measures(settings, "2026-W45", school_id="school-2", fmt="csv")
    assert "school-2" in text and ",A," not in text


def test_cli_export_reports_what_it_wrote(settings, tmp_path):
    text = cli_export(settings, tmp_path / "out", "csv")
    assert text.startswith("Wrote 1 pseudonymised events") and (tmp_path / "out" / "events.csv").exists()
