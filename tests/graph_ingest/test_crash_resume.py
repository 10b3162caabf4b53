"""An ingest killed with SIGKILL at random points and simply started again ends with exactly the ground truth.

The simulated tenant runs in the test process; each ingest runs in a child process (the real msgraph-sdk client,
the real SQLite store file) that is killed without warning when the simulator has answered a seeded-random number
of requests of one route: mid-Teams, mid-Assignments, mid-OneNote and at a random request of any route. The next
run starts from whatever the killed one committed. After the last, uninterrupted run the store must hold the truth
and exactly the rows of a clean run into another store: no event lost, none doubled, every cursor where it belongs.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import signal
import sys
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from graph_ingest.pacing import PacingConfig
from graph_ingest.run import IngestOptions
from graph_ingest.service import DelegatedGrant, run_ingest
from pli_pulse.config import Settings
from pli_pulse.pseudonym import Pseudonymizer, key_from_text
from simulator import graph_server
from simulator.district_files import write_pli_roster_csv
from simulator.generate import class_activity, generate_district
from simulator.serve import start_tenant
from simulator.throttle import TEAMS_MESSAGES, Faults, ThrottleConfig
from simulator.truth import compute_truth
from store import schema as s
from store.db import make_engine, upgrade
from tests.graph_ingest.test_ingest_against_simulator import KEY, SEED, settings_for, teacher_of_first_class
from tests.graph_ingest.truth_facts import attributable_onenote, differences, store_facts, truth_facts

KILL_SEED = 20261124
#: Columns that record when or in which run a row was written, not what Graph said: they differ between stores.
WRITE_TIME_COLUMNS = {"run_id", "created_at", "updated_at"}
DATA_TABLES = (
    s.schools,
    s.classes,
    s.people,
    s.memberships,
    s.activity_events,
    s.assignments,
    s.submissions,
    s.form_classes,
    s.communities,
    s.community_classes,
    s.community_members,
    s.ingest_cursors,
)


def kill_points(rng: random.Random) -> list[tuple[str, int]]:
    """(route, n): kill the run once the simulator has seen n requests of that route since the run started.

    The ranges stay below what one run sends on that route (about 60 channel delta pages, 252 submission lists,
    50 OneNote page lists, ~500 requests in all for this district), so every kill lands inside a run.
    """
    return [
        ("messages.delta", rng.randint(3, 30)),
        ("submissions", rng.randint(10, 200)),
        ("onenote.pages", rng.randint(5, 40)),
        ("*", rng.randint(60, 400)),
    ]


def ingest_in_child(config: dict) -> None:
    """The child process: one ordinary ingest run, configured from plain data."""
    settings = Settings(**config["settings"])
    options = IngestOptions(
        term_start=date.fromisoformat(config["term_start"]),
        now=datetime.fromisoformat(config["now"]),
        audit_poll_s=0.05,
    )
    summary = asyncio.run(
        run_ingest(
            settings,
            make_engine(settings.database_url),
            options=options,
            pacing=PacingConfig.unlimited(),
            ca_bundle=Path(config["ca_file"]),
            grant=DelegatedGrant(config["assertion"]),
        )
    )
    sys.exit(0 if summary.status == "succeeded" else 1)


def requests_since(tenant, start: Counter, route: str) -> int:
    now = tenant.throttler.requests
    if route == "*":
        return sum(now.values()) - sum(start.values())
    return now[route] - start[route]


async def run_child(tenant, config: dict, kill_at: tuple[str, int] | None, timeout_s: float = 60.0) -> int:
    """Run one ingest in a child process; SIGKILL it at ``kill_at``. Returns the child's exit code."""
    proc = multiprocessing.get_context("spawn").Process(target=ingest_in_child, args=(config,), daemon=True)
    start = Counter(tenant.throttler.requests)
    proc.start()
    deadline = time.monotonic() + timeout_s
    try:
        while proc.exitcode is None:  # polls waitpid without blocking the simulator's event loop
            if kill_at is not None and requests_since(tenant, start, kill_at[0]) >= kill_at[1]:
                proc.kill()
            if time.monotonic() > deadline:
                raise AssertionError(f"the ingest child did not finish within {timeout_s}s")
            await asyncio.sleep(0.002)
    finally:
        if proc.exitcode is None:
            proc.kill()
            proc.join(5)
    return proc.exitcode


def record_requests(mp: pytest.MonkeyPatch) -> list[tuple[str, str, frozenset[str]]]:
    """Wrap the simulator's dispatcher: every Graph request it serves (also inside $batch) is noted as
    (route name, route family, query parameter names)."""
    seen: list[tuple[str, str, frozenset[str]]] = []
    real = graph_server.dispatch

    async def dispatch(tenant, req, *, transport_faults):
        route, _ = graph_server.match_route(req.method, req.version, req.path)
        seen.append((route.name, route.family, frozenset(req.query)))
        return await real(tenant, req, transport_faults=transport_faults)

    mp.setattr(graph_server, "dispatch", dispatch)
    return seen


def rows_of(engine) -> dict[str, Counter]:
    """Every data table as a multiset of rows, without the write-time columns."""
    out = {}
    with engine.connect() as conn:
        for table in DATA_TABLES:
            cols = [c for c in table.columns if c.name not in WRITE_TIME_COLUMNS]
            out[table.name] = Counter(tuple(r) for r in conn.execute(select(*cols)))
    return out


def expected_facts(district) -> dict:
    pseudo = Pseudonymizer(key_from_text(KEY))
    teachers = {t.lower() for c in district.classes.values() for t in c.teacher_ids}
    expected = truth_facts(compute_truth(district), pseudo, teachers)
    # OneNote: Graph names no author for a page, so only what it can vouch for is expected (see the helper).
    expected["tool_dates"] = {k: v for k, v in expected["tool_dates"].items() if k[2] != "onenote"}
    expected["tool_dates"].update(attributable_onenote(district, class_activity, pseudo, district.calendar.timezone))
    return expected


async def scenario(tmp_path: Path) -> dict:
    district = generate_district(SEED, "small")
    # Every third channel page comes back empty with a nextLink, as Teams sometimes does: more of the kills land
    # between two pages of one channel, where the saved cursor is a nextLink rather than a deltaLink.
    faults = Faults(empty_page_every=3, families=frozenset({TEAMS_MESSAGES}))
    handle = await start_tenant(district, throttling=ThrottleConfig(enabled=False), faults=faults)
    try:
        write_pli_roster_csv(district, tmp_path / "pli-roster.csv")
        crash_url = f"sqlite:///{tmp_path / 'crashed.sqlite3'}"
        settings = settings_for(handle, tmp_path, crash_url)
        crashed = make_engine(crash_url)
        upgrade(crashed)
        config = {
            "settings": {
                **settings.model_dump(include={"tenant_id", "graph_client_id", "graph_base_url", "graph_authority"}),
                "graph_client_secret": handle.client_secret,
                "database_url": crash_url,
                "privacy_pseudonym_key": KEY,
                "roster_file": str(tmp_path / "pli-roster.csv"),
            },
            "term_start": district.calendar.term_start.isoformat(),
            "now": handle.tenant.clock.now.isoformat(),
            "ca_file": str(handle.ca_file),
            "assertion": handle.identity.mint_user_assertion(teacher_of_first_class(district)),
        }
        points = kill_points(random.Random(KILL_SEED))
        killed = []
        for point in points:
            code = await run_child(handle.tenant, config, point)
            with crashed.connect() as conn:
                events = conn.execute(select(func.count()).select_from(s.activity_events)).scalar_one()
            killed.append((point, code, events))
        final = await run_child(handle.tenant, config, None)

        clean_url = f"sqlite:///{tmp_path / 'clean.sqlite3'}"
        clean = make_engine(clean_url)
        upgrade(clean)
        options = IngestOptions(term_start=district.calendar.term_start, now=handle.tenant.clock.now, audit_poll_s=0.05)
        clean_summary = await run_ingest(
            settings_for(handle, tmp_path, clean_url),
            clean,
            options=options,
            pacing=PacingConfig.unlimited(),
            ca_bundle=handle.ca_file,
            grant=DelegatedGrant(config["assertion"]),
        )
        with crashed.connect() as conn:
            runs = [r.status for r in conn.execute(select(s.ingest_runs).order_by(s.ingest_runs.c.run_id))]

        # One more run with nothing new in the tenant (and no injected faults), every request it makes recorded.
        handle.tenant.throttler.faults = Faults()
        before = rows_of(crashed)
        with pytest.MonkeyPatch.context() as mp:
            seen = record_requests(mp)
            rerun = await run_ingest(
                settings, crashed, options=options, pacing=PacingConfig.unlimited(), ca_bundle=handle.ca_file,
                grant=DelegatedGrant(config["assertion"]),
            )  # fmt: skip
        return {
            "district": district,
            "crashed": crashed,
            "clean": clean,
            "killed": killed,
            "final": final,
            "runs": runs,
            "clean_summary": clean_summary,
            "rerun": {"summary": rerun, "requests": seen, "before": before, "after": rows_of(crashed)},
        }
    finally:
        await handle.stop()


@pytest.fixture(scope="module")
def crashed_and_resumed(tmp_path_factory):
    return asyncio.run(scenario(tmp_path_factory.mktemp("crash")))


def test_every_kill_landed_inside_a_run_and_the_last_run_completed(crashed_and_resumed):
    killed = crashed_and_resumed["killed"]
    assert [code for _, code, _ in killed] == [-signal.SIGKILL] * len(killed)
    assert crashed_and_resumed["final"] == 0
    # The killed runs never reached their run record's end; the last one did.
    assert crashed_and_resumed["runs"][-1] == "succeeded"
    assert len(crashed_and_resumed["runs"]) == len(killed) + 1
    # Each kill left a partly filled store, so every rerun had real work to resume.
    counts = [events for _, _, events in killed]
    assert counts[0] > 0 and counts == sorted(counts)
    assert counts[-1] < sum(rows_of(crashed_and_resumed["crashed"])["activity_events"].values())


def test_after_kills_and_reruns_the_store_matches_the_ground_truth_exactly(crashed_and_resumed):
    district = crashed_and_resumed["district"]
    ours = store_facts(crashed_and_resumed["crashed"], district.calendar.timezone)
    assert differences(ours, expected_facts(district)) == {}


def test_after_kills_and_reruns_the_store_holds_the_same_rows_as_a_clean_run(crashed_and_resumed):
    assert crashed_and_resumed["clean_summary"].status == "succeeded"
    crashed, clean = rows_of(crashed_and_resumed["crashed"]), rows_of(crashed_and_resumed["clean"])
    for table in crashed:
        extra, missing = crashed[table] - clean[table], clean[table] - crashed[table]
        assert not extra and not missing, f"{table}: extra {list(extra)[:5]}, missing {list(missing)[:5]}"
    assert {t: sum(c.values()) for t, c in crashed.items()} == {t: sum(c.values()) for t, c in clean.items()}
    assert sum(crashed["activity_events"].values()) > 10_000


def test_a_rerun_with_no_new_activity_adds_and_changes_no_rows(crashed_and_resumed):
    rerun = crashed_and_resumed["rerun"]
    assert rerun["summary"].status == "succeeded"
    assert sum(rerun["before"]["activity_events"].values()) > 10_000
    for table in rerun["before"]:
        if table == "ingest_cursors":  # a cursor may be rewritten with a fresh delta link; never added or dropped
            assert {r[:2] for r in rerun["after"][table]} == {r[:2] for r in rerun["before"][table]}
            continue
        assert rerun["after"][table] == rerun["before"][table], f"{table} changed on a run with nothing new"


def test_a_rerun_with_no_new_activity_reads_each_channel_once_through_its_delta_link(crashed_and_resumed):
    rerun = crashed_and_resumed["rerun"]
    channels = sum(1 for source, *_ in rerun["before"]["ingest_cursors"] if source == "teams")
    messages = [(name, query) for name, family, query in rerun["requests"] if family == TEAMS_MESSAGES]
    assert channels > 20
    # No first reads, no paging, no reply lists: one $deltatoken call per channel, and nothing came back.
    assert messages == [("messages.delta", frozenset({"$deltatoken"}))] * channels
    assert rerun["summary"].as_dict()["sources"]["teams"]["events"] == 0


def test_a_rerun_between_sweeps_makes_only_delta_and_cursor_calls(crashed_and_resumed):
    """Graph has no delta for the roster, channel lists, submissions or OneNote: those are swept in full at most
    every ``sweep_every``; a run in between reads delta links and the Forms audit log from its cursor, nothing else."""
    rerun = crashed_and_resumed["rerun"]
    calls = {(name, query) for name, _family, query in rerun["requests"]}
    allowed_names = {"messages.delta", "assignments.delta", "audit.create", "audit.get", "audit.records"}
    assert {name for name, _ in calls} <= allowed_names, calls
    assert all("$deltatoken" in query for name, query in calls if name.endswith(".delta"))
