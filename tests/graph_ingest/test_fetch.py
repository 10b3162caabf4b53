"""Pages come through the real msgraph-sdk adapter; throttling and faults are retried as Graph asks."""

import logging
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from aiohttp import web
from azure.core.credentials import AccessToken

from graph_ingest.client import make_graph_client
from graph_ingest.errors import DelegatedTokenRequired, Fatal, Retriable
from graph_ingest.fetch import GraphFetcher, NotFound, RetryPolicy
from graph_ingest.pacing import Pacer, PacingConfig
from pli_pulse.config import Settings

PAGE = b'{"value": [{"id": "1"}], "@odata.deltaLink": "http://x/delta?$deltatoken=1"}'


class StaticCredential:
    """Stands in for azure-identity here; the real credential is exercised against the simulated tenant."""

    def __init__(self):
        self.scopes = []

    async def get_token(self, *scopes, **kwargs):
        self.scopes.append(scopes)
        return AccessToken("test-token", int(time.time()) + 3600)

    async def close(self):
        pass


@pytest.fixture
async def graph(aiohttp_server):
    """A loopback endpoint that plays a scripted list of responses and records what it received."""
    state = {"script": [], "seen": []}

    async def handler(request: web.Request):
        state["seen"].append((time.monotonic(), request.headers.get("Authorization"), str(request.rel_url)))
        step = state["script"].pop(0) if state["script"] else ("ok",)
        kind = step[0]
        if kind == "ok":
            return web.Response(body=PAGE, content_type="application/json")
        if kind == "status":
            status, headers = step[1], step[2]
            body = b'{"error": {"code": "X", "message": "%s"}}' % (step[3] if len(step) > 3 else b"no")
            return web.Response(status=status, headers=headers, body=body, content_type="application/json")
        if kind == "reset":
            request.transport.close()
            return web.Response()
        if kind == "truncated":
            resp = web.StreamResponse(headers={"Content-Type": "application/json", "Content-Length": "500"})
            await resp.prepare(request)
            await resp.write(PAGE[:20])
            request.transport.close()
            return resp
        raise AssertionError(kind)

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handler)
    server = await aiohttp_server(app)
    settings = Settings(
        tenant_id="t", graph_client_id="c", graph_client_secret="s", graph_base_url=str(server.make_url("")).rstrip("/")
    )
    conn = make_graph_client(settings, credential=StaticCredential())
    fetcher = GraphFetcher(
        conn.adapter, Pacer(PacingConfig.unlimited()), policy=RetryPolicy(max_attempts=5, backoff_base=0.05)
    )
    yield state, conn, fetcher
    await conn.aclose()


def delta_request(conn):
    return conn.client.teams.by_team_id("t1").channels.by_channel_id("c1").messages.delta.to_get_request_information()


async def test_a_page_built_by_the_sdk_request_builders_arrives_as_plain_json_with_the_token(graph):
    state, conn, fetcher = graph
    doc = await fetcher.get_json(delta_request(conn), source="teams", service="teams_messages", scope="t1")
    assert doc["value"][0]["id"] == "1"
    _, auth, path = state["seen"][0]
    assert auth == "Bearer test-token"
    assert path.startswith("/v1.0/teams/t1/channels/c1/messages/delta")
    assert fetcher.stats["teams"].pages == 1


@pytest.mark.parametrize(
    ("header", "expected_wait"),
    [({"Retry-After": "1"}, 1.0), ({"Retry-After": "0.4"}, 0.4), ({}, None)],
    ids=["integer", "decimal", "absent"],
)
async def test_429_waits_as_long_as_graph_says_in_every_form(graph, caplog, header, expected_wait):
    state, conn, fetcher = graph
    state["script"] = [("status", 429, header)]
    caplog.set_level(logging.INFO, "pli_pulse.ingest.fetch")
    await fetcher.get_json(delta_request(conn), source="teams", service="teams_messages")
    (t0, *_), (t1, *_) = state["seen"]
    retry = next(r for r in caplog.records if r.msg == "retrying Graph request")
    if expected_wait is None:
        # backoff with full jitter, first step: anywhere in [0, 0.05] s (the log rounds to the millisecond, so a
        # draw under half a millisecond shows as 0.0: about one run in a hundred)
        assert retry.retry_after is None and 0 <= retry.wait_s <= 0.05
    else:
        assert retry.retry_after == expected_wait and retry.wait_s == expected_wait
        assert t1 - t0 >= expected_wait * 0.95
    stats = fetcher.stats["teams"]
    assert (stats.throttled, stats.retries, stats.pages) == (1, 1, 1)


async def test_an_http_date_retry_after_is_honoured(graph, caplog):
    state, conn, fetcher = graph
    when = datetime.now(UTC) + timedelta(seconds=2)
    state["script"] = [("status", 429, {"Retry-After": format_datetime(when, usegmt=True)})]
    caplog.set_level(logging.INFO, "pli_pulse.ingest.fetch")
    await fetcher.get_json(delta_request(conn), source="teams", service="teams_messages")
    retry = next(r for r in caplog.records if r.msg == "retrying Graph request")
    assert 0.5 <= retry.wait_s <= 2.0


async def test_503_bursts_resets_and_truncated_bodies_are_retried_until_a_page_arrives(graph):
    state, conn, fetcher = graph
    state["script"] = [("status", 503, {}), ("status", 504, {}), ("reset",), ("truncated",)]
    doc = await fetcher.get_json(delta_request(conn), source="teams", service="teams_messages")
    assert doc["value"][0]["id"] == "1"
    assert fetcher.stats["teams"].retries == 4


async def test_a_storm_longer_than_the_retry_budget_fails_with_a_retriable_error(graph):
    state, conn, fetcher = graph
    state["script"] = [("status", 503, {})] * 6
    with pytest.raises(Retriable):
        await fetcher.get_json(delta_request(conn), source="teams", service="teams_messages")


async def test_a_rejected_token_is_fatal_and_tells_the_admin_what_to_check(graph):
    state, conn, fetcher = graph
    state["script"] = [("status", 401, {})]
    with pytest.raises(Fatal) as err:
        await fetcher.get_json(delta_request(conn), source="teams", service="teams_messages")
    assert "PLI_GRAPH_CLIENT_ID" in err.value.user_message
    assert len(state["seen"]) == 1  # not retried


async def test_onenote_refusing_an_app_only_token_says_a_teacher_must_sign_in(graph):
    state, conn, fetcher = graph
    state["script"] = [("status", 403, {}, b"App-only authentication is not supported for OneNote")]
    with pytest.raises(DelegatedTokenRequired) as err:
        await fetcher.get_json(
            conn.client.groups.by_group_id("g").onenote.notebooks.to_get_request_information(),
            source="onenote",
            service="onenote",
        )
    assert "sign in" in err.value.user_message


async def test_a_deleted_team_is_skippable_not_fatal(graph):
    state, conn, fetcher = graph
    state["script"] = [("status", 404, {})]
    with pytest.raises(NotFound):
        await fetcher.get_json(delta_request(conn), source="teams", service="teams_messages")


async def test_a_next_link_is_followed_exactly_as_given(graph):
    state, conn, fetcher = graph
    base = conn.adapter.base_url
    link = f"{base}/teams/t1/channels/c1/messages/delta?$skiptoken=abc%3D%3D"
    await fetcher.get_json(link, source="teams", service="teams_messages")
    assert state["seen"][0][2] == "/v1.0/teams/t1/channels/c1/messages/delta?$skiptoken=abc%3D%3D"
