"""Figures computed into measure_results and read back, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import update

from measures.figures import Figure, Suppression
from measures.materialise import (
    read_class_figures,
    read_community_table,
    read_figures,
    recompute,
)
from measures.report import results_from_store
from pli_pulse.config import Settings
from store import schema
from tests.measures.world import CALENDAR, World, at, store_world

AS_OF = date(2026, 11, 20)


def _settings(engine, min_n=2) -> Settings:
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        calendar_term_start=CALENDAR.term_start,
        calendar_term_end=CALENDAR.term_end,
        calendar_holidays=sorted(CALENDAR.holidays),
        privacy_min_n=min_n,
    )


def _world() -> World:
    """Community-1: A (4 students, 2 reach), B (4, 3), C (4, 1) in W46; W45: A reached 1."""
    w = World()
    for cid, reached in (("A", 2), ("B", 3), ("C", 1)):
        s = w.klass(cid, 4, teacher=f"T-{cid}")
        for student in s[:reached]:
            w.event(cid, "forms", "form_response", student, at(date(2026, 11, 10)))
    w.event("A", "forms", "form_response", "A-s3", at(date(2026, 11, 3)))
    w.klass("X", 4, pli=False, community=None, teacher="T-X")
    return w


@pytest.fixture
def stored(store_engine):
    store_world(store_engine, _world(), optins={"T-A": True, "T-B": True})
    report = recompute(store_engine, _settings(store_engine), incremental=False, as_of=AS_OF)
    return store_engine, report


def test_a_full_recompute_writes_every_period_of_the_term_to_date(stored):
    engine, report = stored
    assert report.periods == ("2026-10", "2026-11", "2026-W43", "2026-W44", "2026-W45", "2026-W46", "2026-W47", "term")
    assert len(results_from_store(engine)) == report.rows > 0


def test_read_class_figures_gives_the_figure_and_its_comparisons(stored):
    engine, _ = stored
    figs = read_class_figures(engine, "A", "2026-W46")
    assert figs["fa_reach"] == Figure(0.5, 4)
    assert figs["fa_reach.previous"] == Figure(0.25, 4)  # W45: A-s3 only
    assert figs["fa_reach.community_median"] == Figure(0.5, 12)  # median of 0.5, 0.75, 0.25
    assert figs["fa_reach.district_pli_median"] == Figure(0.5, 12)
    assert figs["fa_reach.district_non_pli_median"].suppressed is Suppression.FEW_CLASSES  # X alone


def test_recompute_is_idempotent(stored):
    engine, report = stored
    again = recompute(engine, _settings(engine), incremental=False, as_of=AS_OF)
    assert len(results_from_store(engine)) == report.rows == again.rows
    assert read_class_figures(engine, "A", "2026-W46")["fa_reach"] == Figure(0.5, 4)


def _run(engine, run_id: int, status: str = "succeeded", **events: datetime) -> None:
    """An ingest run that stored a Forms response of C-s3 at each given time, keyed by source id."""
    with engine.begin() as conn:
        conn.execute(schema.ingest_runs.insert().values(run_id=run_id, started_at=datetime(2026, 12, 2, tzinfo=UTC),
                                                        status=status))  # fmt: skip
        for source_id, when in events.items():
            conn.execute(
                schema.activity_events.insert().values(
                    source_id=source_id, class_id="C", tool="forms", kind="form_response", actor_key="C-s3",
                    occurred_at=when, run_id=run_id,
                )
            )  # fmt: skip


def test_an_incremental_run_recomputes_only_periods_touched_by_new_data_and_the_current_ones(stored):
    engine, _ = stored
    settings = _settings(engine)
    _run(engine, 7, late=datetime(2026, 12, 2, tzinfo=UTC))
    # the late event (2 Dec UTC = 1 Dec in Fresno) is after as-of and so only the current periods remain
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.periods == ("2026-11", "2026-W47", "term")
    _run(engine, 8, later=at(date(2026, 10, 28)))
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.periods == ("2026-10", "2026-11", "2026-W44", "2026-W47", "term")  # late arrival for 28 Oct
    assert read_figures(engine, "class", "C", "2026-W44")["fa_reach"] == Figure(0.25, 4)


def test_the_community_table_hides_classes_whose_teacher_did_not_opt_in_and_protects_them(stored):
    engine, _ = stored
    total, rows = read_community_table(engine, "community-1", "2026-W46")
    assert set(rows) == {"A", "B"}  # C's teacher did not opt in
    assert total["fa_reach"] == Figure(0.5, 12)  # 6 of 12
    # total − A − B would give C: the smaller-valued of the two shown rows (A, 0.5 < 0.75) is suppressed
    assert rows["A"]["fa_reach"].suppressed is Suppression.COMPLEMENTARY
    assert rows["B"]["fa_reach"] == Figure(0.75, 4)


def test_at_min_n_ten_the_stored_class_figures_are_suppressed(store_engine):
    store_world(store_engine, _world())
    recompute(store_engine, _settings(store_engine, min_n=10), periods=["2026-W46"], as_of=AS_OF)
    figs = read_class_figures(store_engine, "A", "2026-W46")
    assert figs["fa_reach"].suppressed is Suppression.SMALL_N
    assert read_figures(store_engine, "community", "community-1", "2026-W46")["fa_reach"] == Figure(0.5, 12)


def test_measures_json_from_store_lists_every_stored_period(stored):
    from measures.report import measures_json_from_store

    engine, report = stored
    doc = measures_json_from_store(engine, _settings(engine))
    assert set(doc["periods"]) == set(report.periods) and doc["min_n"] == 2
    assert doc["periods"]["2026-W46"]["class"]["A"]["fa_reach"] == {"value": 0.5, "n": 4}


def test_the_planner_finds_late_events_by_the_run_that_wrote_them_not_by_when_it_started(stored):
    engine, _ = stored
    settings = _settings(engine)
    # Run 8 ended before the next recompute; run 9 started before it and ended after (another replica).
    _run(engine, 8, old=at(date(2026, 10, 21)))
    _run(engine, 9, "running", late=at(date(2026, 10, 28)))
    assert recompute(engine, settings, incremental=True, as_of=AS_OF).state.runs_pending == (9,)
    with engine.begin() as conn:
        conn.execute(update(schema.ingest_runs).where(schema.ingest_runs.c.run_id == 9).values(status="succeeded"))
    labels = recompute(engine, settings, incremental=True, as_of=AS_OF).periods
    assert "2026-W44" in labels  # 28 Oct, written by run 9, which ended after the last computation
    assert "2026-W43" not in labels  # 21 Oct, written by run 8, already computed
