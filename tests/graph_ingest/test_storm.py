"""Through a storm of 429s, 503/504 bursts, dropped connections, cut-off bodies and empty pages, the ingest
still ends with exactly the ground truth, and every retry waits as long as Graph said (or backs off when it
said nothing).

The simulated tenant injects each fault deterministically (``simulator.throttle.Faults``); the 429s cycle through
every Retry-After form Graph sends: an integer, a decimal and none at all. Waits are kept short (1 s, 0.128 s).
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from graph_ingest.fetch import RetryPolicy
from graph_ingest.pacing import PacingConfig
from graph_ingest.run import IngestOptions
from graph_ingest.service import DelegatedGrant, run_ingest
from simulator.district_files import write_pli_roster_csv
from simulator.generate import generate_district
from simulator.serve import start_tenant
from simulator.throttle import Faults, ThrottleConfig
from store.db import make_engine, upgrade
from tests.graph_ingest.test_crash_resume import expected_facts
from tests.graph_ingest.test_ingest_against_simulator import SEED, settings_for, teacher_of_first_class
from tests.graph_ingest.truth_facts import differences, store_facts

RETRY_AFTER_FORMS = ("1", "0.128", None)
STORM = Faults(
    throttle_every=17,
    retry_after_forms=RETRY_AFTER_FORMS,
    error_every=41,
    error_burst=2,
    error_statuses=(503, 504),
    reset_every=37,
    truncate_every=43,
    empty_page_every=7,
)
#: Retries of whole requests are logged by the fetcher; retries of items inside a $batch by the batch module.
LOGGERS = ("pli_pulse.ingest.fetch", "pli_pulse.ingest.batch")


async def scenario(tmp_path):
    district = generate_district(SEED, "small")
    handle = await start_tenant(district, throttling=ThrottleConfig(enabled=False), faults=STORM)
    try:
        write_pli_roster_csv(district, tmp_path / "pli-roster.csv")
        url = f"sqlite:///{tmp_path / 'store.sqlite3'}"
        engine = make_engine(url)
        upgrade(engine)
        summary = await run_ingest(
            settings_for(handle, tmp_path, url),
            engine,
            options=IngestOptions(
                term_start=district.calendar.term_start, now=handle.tenant.clock.now, audit_poll_s=0.05
            ),
            pacing=PacingConfig.unlimited(),
            ca_bundle=handle.ca_file,
            grant=DelegatedGrant(handle.identity.mint_user_assertion(teacher_of_first_class(district))),
        )
        stats = handle.tenant.throttler.stats()
        return {"district": district, "engine": engine, "summary": summary, "sim": stats}
    finally:
        await handle.stop()


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def stormed(tmp_path_factory):
    capture, loggers = Capture(), [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(capture)
        logger.setLevel(logging.INFO)
    try:
        result = asyncio.run(scenario(tmp_path_factory.mktemp("storm")))
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(capture)
            logger.setLevel(level)
    result["retries"] = [r for r in capture.records if r.getMessage() == "retrying Graph request"]
    result["batch_retries"] = [r for r in capture.records if r.getMessage() == "retrying batch items"]
    return result


def test_the_run_succeeds_through_the_storm_with_every_source_ok(stormed):
    summary = stormed["summary"].as_dict()
    assert summary["status"] == "succeeded"
    assert {name: src["status"] for name, src in summary["sources"].items()} == dict.fromkeys(summary["sources"], "ok")
    assert sum(src["throttled_429"] for src in summary["sources"].values()) > 0


def test_after_the_storm_the_store_matches_the_ground_truth_exactly(stormed):
    district = stormed["district"]
    ours = store_facts(stormed["engine"], district.calendar.timezone)
    assert differences(ours, expected_facts(district)) == {}


def test_every_injected_fault_was_retried_exactly_once(stormed):
    injected = sum(stormed["sim"]["throttled"].values()) + sum(stormed["sim"]["failed"].values())
    assert injected > 40
    retried = len(stormed["retries"]) + sum(r.items for r in stormed["batch_retries"])
    assert retried == injected
    reasons = {r.reason.split(" from ")[0] for r in stormed["retries"]}
    # 429s, both 5xx statuses, dropped connections and bodies cut short each reached the retry loop.
    assert {"HTTP 429", "HTTP 503", "HTTP 504"} <= reasons
    assert any("talking to Graph" in r or "incomplete" in r for r in reasons), reasons


def test_a_429_waits_exactly_as_long_as_retry_after_says_in_every_form(stormed):
    throttled = [r for r in stormed["retries"] if r.reason.startswith("HTTP 429")]
    assert {r.retry_after for r in throttled} == {1.0, 0.128, None}
    for r in throttled + stormed["batch_retries"]:  # a batch round waits for the longest Retry-After of its items
        if r.retry_after is not None:
            assert r.wait_s == pytest.approx(r.retry_after, abs=1e-3), r.__dict__


def test_without_retry_after_the_wait_is_a_jittered_exponential_backoff(stormed):
    policy = RetryPolicy()
    backoffs = [r for r in stormed["retries"] if r.retry_after is None]
    assert len(backoffs) > 10
    for r in backoffs:
        cap = min(policy.backoff_max, policy.backoff_base * 2 ** (r.attempt - 1))
        assert 0 <= r.wait_s <= cap + 1e-3, r.__dict__
    # Full jitter: the waits spread out instead of all taking the same value.
    assert len({r.wait_s for r in backoffs}) > len(backoffs) // 2
