"""Service limits and injected faults: the 429 forms seen in the wild, 5xx bursts, slow, reset and short bodies."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import httpx
import pytest
from kiota_abstractions.api_error import APIError
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_http.middleware.options import RetryHandlerOption

from simulator import throttle as fam
from simulator.throttle import Faults, Limit, ThrottleConfig, Throttler, format_retry_after
from tests.simulator.conftest import K1, K1_GENERAL, K1_PROJECTS, app_token, get_json, graph_client

MESSAGES = f"/teams/{K1}/channels/{K1_GENERAL}/messages"


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_teams_allows_four_requests_per_second_on_one_channel_then_says_when_to_retry():
    clock = FakeMonotonic()
    throttler = Throttler(ThrottleConfig(), monotonic=clock)
    verdicts = [throttler.decide(fam.TEAMS_MESSAGES, "messages", app_id="app", scope=("t", "c")) for _ in range(5)]
    assert [v.kind for v in verdicts] == ["none"] * 4 + ["throttle"]
    assert verdicts[-1].retry_after == "1"
    other_channel = throttler.decide(fam.TEAMS_MESSAGES, "messages", app_id="app", scope=("t", "c2"))
    assert other_channel.kind == "none"
    clock.now += 1.0
    assert throttler.decide(fam.TEAMS_MESSAGES, "messages", app_id="app", scope=("t", "c")).kind == "none"
    assert throttler.throttled == {"messages": 1} and throttler.requests == {"messages": 7}


def test_teams_app_wide_limit_of_twenty_per_second_spans_channels():
    throttler = Throttler(ThrottleConfig(), monotonic=FakeMonotonic())
    kinds = [throttler.decide(fam.TEAMS_MESSAGES, "m", app_id="app", scope=("t", f"c{i}")).kind for i in range(21)]
    assert kinds.count("throttle") == 1 and kinds[-1] == "throttle"


def test_onenote_429_has_no_retry_after_and_assignments_use_a_decimal_one():
    clock = FakeMonotonic()
    config = ThrottleConfig(onenote=Limit(1, 60.0, "absent"), assignments=Limit(1, 10.0, "decimal"))
    throttler = Throttler(config, monotonic=clock)
    throttler.decide(fam.ONENOTE, "pages", app_id="app", user_id="u1")
    onenote = throttler.decide(fam.ONENOTE, "pages", app_id="app", user_id="u1")
    assert onenote.kind == "throttle" and onenote.retry_after is None
    assert throttler.decide(fam.ONENOTE, "pages", app_id="app", user_id="u2").kind == "none"  # per user
    throttler.decide(fam.ASSIGNMENTS, "a", app_id="app")
    clock.now += 7.872
    assert throttler.decide(fam.ASSIGNMENTS, "a", app_id="app").retry_after == "2.128"


def test_switching_throttling_off_never_throttles():
    throttler = Throttler(ThrottleConfig.off(), monotonic=FakeMonotonic())
    assert all(
        throttler.decide(fam.TEAMS_MESSAGES, "m", app_id="a", scope=("t", "c")).kind == "none" for _ in range(500)
    )


def test_forced_429s_cycle_through_integer_decimal_and_absent_retry_after():
    throttler = Throttler(ThrottleConfig.off(), Faults(throttle_every=1))
    forms = [throttler.decide(fam.EDUCATION, "classes", app_id="a").retry_after for _ in range(4)]
    assert forms == ["1", "2.128", None, "1"]


def test_error_bursts_alternate_503_and_504_and_faults_can_target_one_family():
    throttler = Throttler(
        ThrottleConfig.off(), Faults(error_every=4, error_burst=2, families=frozenset({fam.ASSIGNMENTS}))
    )
    statuses = [throttler.decide(fam.ASSIGNMENTS, "a", app_id="a").status for _ in range(8)]
    assert statuses == [200, 200, 503, 504, 200, 200, 503, 504]
    assert throttler.decide(fam.EDUCATION, "c", app_id="a").kind == "none"
    assert throttler.failed == {"a": 4}


def test_retry_after_formats():
    assert format_retry_after(0.2, "integer") == "1"
    assert format_retry_after(2.1283, "decimal") == "2.128"
    assert format_retry_after(5, "absent") is None


async def test_the_three_retry_after_forms_reach_the_client_over_http(make_tenant):
    tenant = await make_tenant(faults=Faults(throttle_every=2))
    token = await app_token(tenant)
    seen = []
    for _ in range(6):
        status, body, headers = await get_json(tenant, MESSAGES, token)
        if status == 429:
            assert body["error"]["code"] == "TooManyRequests"
            assert body["error"]["innerError"]["code"] == "429"
            seen.append(headers.get("Retry-After"))
        else:
            assert status == 200
    assert seen == ["1", "2.128", None]
    status, stats, _ = await get_json(tenant, tenant.admin_url + "/stats", None)
    assert stats["throttled"] == {"messages": 3} and stats["requests"] == {"messages": 6}


async def test_a_real_per_channel_limit_throttles_the_sdk_which_raises_after_its_retries(make_tenant):
    tenant = await make_tenant(throttling=ThrottleConfig(teams_per_channel=Limit(2, 60.0)))
    token = await app_token(tenant)
    assert (await get_json(tenant, MESSAGES, token))[0] == 200
    assert (await get_json(tenant, MESSAGES, token))[0] == 200
    status, _, headers = await get_json(tenant, MESSAGES, token)
    assert status == 429 and 50 <= int(headers["Retry-After"]) <= 60
    other = f"/teams/{K1}/channels/{K1_PROJECTS}/messages"
    assert (await get_json(tenant, other, token))[0] == 200  # another channel has its own budget
    client = graph_client(tenant, token)
    config = RequestConfiguration(options=[RetryHandlerOption(max_retries=0)])
    with pytest.raises(APIError) as err:
        await client.teams.by_team_id(K1).channels.by_channel_id(K1_GENERAL).messages.get(request_configuration=config)
    assert err.value.response_status_code == 429


async def test_5xx_bursts_are_served_with_graph_error_bodies(make_tenant):
    tenant = await make_tenant(faults=Faults(error_every=3, error_burst=2))
    token = await app_token(tenant)
    statuses = [(await get_json(tenant, "/education/classes", token))[0] for _ in range(3)]
    assert statuses == [200, 504, 503]


async def test_a_connection_reset_drops_the_request_without_an_answer(make_tenant):
    tenant = await make_tenant(faults=Faults(reset_every=2))
    token = await app_token(tenant)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient() as http:  # the SDK's transport; aiohttp's client would silently retry once
        assert (await http.get(tenant.graph_base_url + "/education/classes", headers=headers)).status_code == 200
        with pytest.raises(httpx.TransportError):
            await http.get(tenant.graph_base_url + "/education/classes", headers=headers)
        assert (await http.get(tenant.graph_base_url + "/education/classes", headers=headers)).status_code == 200
    assert tenant.tenant.throttler.failed == {"classes": 1}


async def test_a_truncated_body_promises_more_bytes_than_it_sends(make_tenant):
    tenant = await make_tenant(faults=Faults(truncate_every=1))
    token = await app_token(tenant)
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http, http.get(tenant.graph_base_url + MESSAGES, headers=headers) as r:
        assert r.status == 200 and r.content_length > 0
        with pytest.raises(aiohttp.ClientPayloadError):
            await r.read()


async def test_a_slow_response_arrives_late_but_whole(make_tenant):
    tenant = await make_tenant(faults=Faults(slow_every=1, slow_seconds=0.3))
    token = await app_token(tenant)
    started = time.perf_counter()
    status, body, _ = await get_json(tenant, "/education/classes", token)
    assert status == 200 and len(body["value"]) == 2
    assert time.perf_counter() - started >= 0.3


async def test_concurrent_requests_are_counted_per_route(make_tenant):
    tenant = await make_tenant()
    token = await app_token(tenant)
    await asyncio.gather(
        *(get_json(tenant, "/education/classes", token) for _ in range(5)), get_json(tenant, MESSAGES, token)
    )
    assert tenant.tenant.throttler.requests == {"classes": 5, "messages": 1}
