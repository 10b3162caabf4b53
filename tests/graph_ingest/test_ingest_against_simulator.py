"""Against the simulated tenant (small), the store ends up holding exactly the simulator's ground truth.

The product talks to the simulator the way it talks to Graph: the real msgraph-sdk client, the real
azure-identity credentials (client secret for app-only, on-behalf-of for OneNote), over loopback.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from graph_ingest.pacing import PacingConfig
from graph_ingest.run import IngestOptions
from graph_ingest.service import DelegatedGrant, run_ingest
from pli_pulse.config import Settings
from pli_pulse.pseudonym import Pseudonymizer, key_from_text
from simulator.district_files import write_pli_roster_csv
from simulator.generate import class_activity, generate_district
from simulator.serve import start_tenant
from simulator.throttle import ThrottleConfig
from simulator.truth import compute_truth
from store import schema as s
from store.db import make_engine, upgrade
from tests.graph_ingest.truth_facts import attributable_onenote, differences, store_facts, truth_facts

KEY = "5f" * 32
SEED = 11


def settings_for(handle, tmp_path, db_url) -> Settings:
    return Settings(
        tenant_id=handle.tenant_id,
        graph_client_id=handle.client_id,
        graph_client_secret=handle.client_secret,
        graph_base_url=handle.graph_base_url.removesuffix("/v1.0"),
        graph_authority=handle.authority,
        database_url=db_url,
        privacy_pseudonym_key=KEY,
        roster_file=tmp_path / "pli-roster.csv",
    )


def teacher_of_first_class(district) -> str:
    return next(iter(district.classes.values())).teacher_ids[0]


async def scenario(tmp_path, db_url):
    """First a full ingest with OneNote refused (app-only), then one with a teacher's grant, then a rerun."""
    district = generate_district(SEED, "small")
    handle = await start_tenant(district, throttling=ThrottleConfig(enabled=False))
    try:
        write_pli_roster_csv(district, tmp_path / "pli-roster.csv")
        settings = settings_for(handle, tmp_path, db_url)
        engine = make_engine(db_url)
        upgrade(engine)
        opts = IngestOptions(term_start=district.calendar.term_start, now=handle.tenant.clock.now)
        app_only = await run_ingest(
            settings, engine, options=opts, pacing=PacingConfig.unlimited(), ca_bundle=handle.ca_file
        )
        grant = DelegatedGrant(handle.identity.mint_user_assertion(teacher_of_first_class(district)))
        full = await run_ingest(
            settings, engine, options=opts, pacing=PacingConfig.unlimited(), ca_bundle=handle.ca_file, grant=grant
        )
        with engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(s.activity_events)).scalar_one()
        again = await run_ingest(
            settings, engine, options=opts, pacing=PacingConfig.unlimited(), ca_bundle=handle.ca_file, grant=grant
        )
        with engine.connect() as conn:
            after = conn.execute(select(func.count()).select_from(s.activity_events)).scalar_one()
        return {
            "district": district,
            "engine": engine,
            "app_only": app_only,
            "full": full,
            "again": again,
            "counts": (before, after),
        }
    finally:
        await handle.stop()


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ingest")
    return asyncio.run(scenario(tmp, f"sqlite:///{tmp / 'store.sqlite3'}"))


def test_onenote_with_an_app_only_token_is_skipped_with_a_clear_message_while_the_rest_succeeds(ingested):
    summary = ingested["app_only"].as_dict()
    onenote = summary["sources"]["onenote"]
    assert onenote["status"] == "skipped"
    assert "delegated sign-in" in onenote["message"] and "sign in" in onenote["message"]
    assert all(summary["sources"][x]["status"] == "ok" for x in ("roster", "teams", "assignments", "forms"))


def test_after_ingest_the_store_matches_the_ground_truth_exactly(ingested):
    district, engine = ingested["district"], ingested["engine"]
    truth = compute_truth(district)
    pseudo = Pseudonymizer(key_from_text(KEY))
    teachers = {t.lower() for c in district.classes.values() for t in c.teacher_ids}
    ours = store_facts(engine, district.calendar.timezone)
    expected = truth_facts(truth, pseudo, teachers)
    # OneNote: Graph names no author for a page, so only what it can vouch for is expected (see the helper).
    expected["tool_dates"] = {k: v for k, v in expected["tool_dates"].items() if k[2] != "onenote"}
    expected["tool_dates"].update(attributable_onenote(district, class_activity, pseudo, district.calendar.timezone))
    assert differences(ours, expected) == {}


def test_a_second_run_with_no_new_activity_adds_no_events(ingested):
    before, after = ingested["counts"]
    assert before == after > 0
    again = ingested["again"].as_dict()["sources"]
    assert {name: src["events"] for name, src in again.items()} == dict.fromkeys(again, 0)
    assert all(src["status"] == "ok" for src in again.values())


def test_the_run_record_holds_requests_pages_and_events_per_source(ingested):
    with ingested["engine"].connect() as conn:
        runs = conn.execute(select(s.ingest_runs).order_by(s.ingest_runs.c.run_id)).all()
    assert [r.status for r in runs] == ["succeeded"] * 3
    first, with_onenote = runs[0].stats["sources"], runs[1].stats["sources"]
    assert first["teams"]["requests"] >= first["teams"]["pages"] > 0
    assert first["assignments"]["events"] > 0 and first["teams"]["events"] > 0
    assert with_onenote["onenote"]["events"] > 0 and with_onenote["teams"]["events"] == 0
    assert all(r.finished_at >= r.started_at for r in runs)


async def two_phase(tmp_path, db_url):
    """A first ingest four weeks into the term, then the term moves on and an incremental one follows."""
    from simulator.cli import end_of
    from simulator.generate import school_days

    district = generate_district(SEED, "small")
    cal = district.calendar
    first = end_of(school_days(cal)[19], cal.timezone)
    handle = await start_tenant(district, throttling=ThrottleConfig(enabled=False), until=first)
    try:
        write_pli_roster_csv(district, tmp_path / "pli-roster.csv")
        settings = settings_for(handle, tmp_path, db_url)
        engine = make_engine(db_url)
        upgrade(engine)
        grant = DelegatedGrant(handle.identity.mint_user_assertion(teacher_of_first_class(district)))
        runs = []
        for when in (first, end_of(cal.term_end, cal.timezone)):
            handle.tenant.clock.advance_to(when)
            opts = IngestOptions(term_start=cal.term_start, now=handle.tenant.clock.now)
            runs.append(
                await run_ingest(
                    settings, engine, options=opts, pacing=PacingConfig.unlimited(), ca_bundle=handle.ca_file,
                    grant=grant,
                )
            )  # fmt: skip
        return {"district": district, "engine": engine, "runs": runs, "stats": handle.tenant.throttler.stats()}
    finally:
        await handle.stop()


@pytest.fixture(scope="module")
def incremental(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("incremental")
    return asyncio.run(two_phase(tmp, f"sqlite:///{tmp / 'store.sqlite3'}"))


def test_an_incremental_run_after_the_term_moves_on_ends_at_the_same_truth_as_one_full_read(incremental):
    district, engine = incremental["district"], incremental["engine"]
    pseudo = Pseudonymizer(key_from_text(KEY))
    teachers = {t.lower() for c in district.classes.values() for t in c.teacher_ids}
    expected = truth_facts(compute_truth(district), pseudo, teachers)
    expected["tool_dates"] = {k: v for k, v in expected["tool_dates"].items() if k[2] != "onenote"}
    ours = store_facts(engine, district.calendar.timezone)
    ours["tool_dates"] = {k: v for k, v in ours["tool_dates"].items() if k[2] != "onenote"}
    # OneNote history between two runs is partly unknowable (pages name no author): compared elsewhere.
    assert differences(ours, expected) == {}


def test_the_incremental_run_reads_teams_by_delta_link_and_assignments_by_delta(incremental):
    first, second = (r.as_dict()["sources"] for r in incremental["runs"])
    assert second["teams"]["requests"] <= first["teams"]["requests"]
    assert second["assignments"]["events"] > 0  # the rest of the term's submissions arrived
    assert all(r.status == "succeeded" for r in incremental["runs"])


def test_each_runs_event_counts_per_source_equal_the_rows_it_stored(ingested):
    # Sources write many classes at once; a count kept as `total += await write(...)` loses concurrent pages.
    ev = s.activity_events.c
    with ingested["engine"].connect() as conn:
        runs = conn.execute(select(s.ingest_runs.c.run_id, s.ingest_runs.c.stats)).all()
        stored = conn.execute(select(ev.run_id, ev.tool, func.count()).group_by(ev.run_id, ev.tool)).all()
    rows = {(run_id, tool): n for run_id, tool, n in stored}
    for run_id, stats in runs:
        reported = {name: src["events"] for name, src in stats["sources"].items() if name != "roster"}
        assert reported == {tool: rows.get((run_id, tool), 0) for tool in reported}, run_id
