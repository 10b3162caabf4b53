"""The simulated Bot Connector speaks the real REST protocol: shapes, throttling, size limit, auth, and a full log."""

from __future__ import annotations

from pathlib import Path

import pytest
from botbuilder.schema import Activity, ChannelAccount, ConversationParameters
from botbuilder.schema.teams import ChannelInfo, TeamsChannelData
from botframework.connector.aio import ConnectorClient
from botframework.connector.auth import MicrosoftAppCredentials

from simulator.bot_identity import BotIdentity
from simulator.connector import (
    STATE_KEY,
    ConnectorConfig,
    Member,
    RateLimits,
    Roster,
    Window,
    create_app,
    estimate_message_bytes,
    personal_conversation_id,
    start_connector,
    teams_user_id,
)
from simulator.connector_log import posted_activities, read_log

TENANT = "b28fdbfd-2b78-4f93-b0f8-8881793f0f8f"
TEAM = "19:community-team@thread.tacv2"
CHANNEL = "19:community-channel@thread.tacv2"
APP_ID = "6a3c1f2e-7d4b-4c5a-9e8f-0b1c2d3e4f50"


def member(n: int) -> Member:
    aad = f"00000000-0000-4000-8000-{n:012d}"
    return Member(
        id=teams_user_id(aad),
        aad_object_id=aad,
        name=f"Teacher {n}",
        user_principal_name=f"teacher{n}@district.example.edu",
        tenant_id=TENANT,
    )


MEMBERS = tuple(member(n) for n in range(5))


class FakeClock:
    """Monotonic seconds that only move when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="module")
def identity() -> BotIdentity:
    return BotIdentity.generate()


def make_config(tmp_path: Path, identity: BotIdentity, clock: FakeClock, **overrides) -> ConnectorConfig:
    values = {
        "log_path": tmp_path / "connector-log.jsonl",
        "identity": identity,
        "roster": Roster.for_team(TEAM, [TEAM, CHANNEL], MEMBERS),
        "clock": clock,
    }
    return ConnectorConfig(**{**values, **overrides})


@pytest.fixture
async def connector(aiohttp_client, tmp_path, identity, clock):
    return await aiohttp_client(create_app(make_config(tmp_path, identity, clock)))


def card_message(text: str = "Weekly pulse") -> dict:
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": text}]},
            }
        ],
    }


def new_thread(activity: dict) -> dict:
    return {"isGroup": True, "channelData": {"channel": {"id": CHANNEL}}, "activity": activity}


async def test_channel_thread_creation_returns_the_thread_id_and_its_root_activity_id(connector):
    response = await connector.post("/v3/conversations", json=new_thread(card_message()))
    assert response.status == 201
    body = await response.json()
    assert body["id"] == f"{CHANNEL};messageid={body['activityId']}"
    assert body["activityId"].isdigit()


@pytest.mark.parametrize(
    "params",
    [
        {"isGroup": True, "channelData": {"channel": {"id": CHANNEL}}},  # no activity: no empty threads
        {"isGroup": True, "activity": {"type": "message", "text": "x"}},  # no channel: a group chat
        {"isGroup": True, "members": [{"id": MEMBERS[0].id}], "tenantId": TENANT, "activity": {"type": "message"}},
    ],
    ids=["without-activity", "group-chat", "group-chat-with-members"],
)
async def test_conversation_creation_outside_the_supported_shapes_is_bad_syntax(connector, params):
    response = await connector.post("/v3/conversations", json=params)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "BadSyntax"


async def test_one_to_one_creation_returns_a_personal_conversation_id(connector):
    params = {"isGroup": False, "members": [{"id": MEMBERS[1].id}], "tenantId": TENANT}
    response = await connector.post("/v3/conversations", json=params)
    assert response.status == 201
    conversation_id = (await response.json())["id"]
    assert conversation_id.startswith("a:")
    assert conversation_id == personal_conversation_id(MEMBERS[1].id)
    members = await (await connector.get(f"/v3/conversations/{conversation_id}/members")).json()
    assert [m["aadObjectId"] for m in members] == [MEMBERS[1].aad_object_id]


async def test_one_to_one_creation_without_tenant_or_with_two_members_is_bad_syntax(connector):
    no_tenant = {"isGroup": False, "members": [{"id": MEMBERS[1].id}]}
    two = {"isGroup": False, "members": [{"id": MEMBERS[1].id}, {"id": MEMBERS[2].id}], "tenantId": TENANT}
    for params in (no_tenant, two):
        response = await connector.post("/v3/conversations", json=params)
        assert response.status == 400


async def test_reply_to_an_activity_is_recorded_in_that_thread(connector, tmp_path):
    thread = await (await connector.post("/v3/conversations", json=new_thread(card_message()))).json()
    reply = {"type": "message", "text": "Thanks!", "replyToId": thread["activityId"]}
    response = await connector.post(f"/v3/conversations/{thread['id']}/activities/{thread['activityId']}", json=reply)
    assert response.status == 201
    reply_id = (await response.json())["id"]
    assert reply_id != thread["activityId"]
    last = read_log(tmp_path / "connector-log.jsonl")[-1]
    assert (last.conversation_id, last.reply_to_id, last.activity_id) == (thread["id"], thread["activityId"], reply_id)


async def test_put_replaces_a_posted_card(connector):
    thread = await (await connector.post("/v3/conversations", json=new_thread(card_message("v1")))).json()
    path = f"/v3/conversations/{thread['id']}/activities/{thread['activityId']}"
    response = await connector.put(path, json=card_message("v2"))
    assert response.status == 200
    assert await response.json() == {"id": thread["activityId"]}
    card = connector.app[STATE_KEY].activity(thread["id"], thread["activityId"])
    assert card["attachments"][0]["content"]["body"][0]["text"] == "v2"


async def test_put_to_an_unknown_activity_is_404(connector):
    response = await connector.put(f"/v3/conversations/{CHANNEL}/activities/12345", json=card_message())
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "ActivityNotFound"


async def test_paged_members_walk_the_roster_with_continuation_tokens(connector):
    seen, token, pages = [], None, 0
    while True:
        query = {"pageSize": "2", **({"continuationToken": token} if token else {})}
        body = await (await connector.get(f"/v3/conversations/{CHANNEL}/pagedmembers", params=query)).json()
        seen += [m["id"] for m in body["members"]]
        pages += 1
        token = body.get("continuationToken")
        if token is None:
            break
    assert seen == [m.id for m in MEMBERS]
    assert pages == 3


async def test_paged_members_reject_a_forged_continuation_token(connector):
    query = {"continuationToken": "not-ours"}
    response = await connector.get(f"/v3/conversations/{CHANNEL}/pagedmembers", params=query)
    assert response.status == 400


async def test_one_member_is_found_by_teams_id_or_aad_object_id_in_a_thread(connector):
    thread = f"{CHANNEL};messageid=1700000000000"
    for key in (MEMBERS[3].id, MEMBERS[3].aad_object_id):
        response = await connector.get(f"/v3/conversations/{thread}/members/{key}")
        assert response.status == 200
        body = await response.json()
        assert (body["userPrincipalName"], body["tenantId"]) == (MEMBERS[3].user_principal_name, TENANT)
    missing = await connector.get(f"/v3/conversations/{CHANNEL}/members/29:nobody")
    assert missing.status == 404


async def test_members_of_an_unknown_conversation_answer_conversation_not_found(connector):
    response = await connector.get("/v3/conversations/19:unknown@thread.tacv2/members")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "ConversationNotFound"


async def test_eighth_send_within_a_second_to_one_thread_is_throttled_with_retry_after(connector, clock):
    path = f"/v3/conversations/{CHANNEL}/activities"
    statuses = [(await connector.post(path, json={"type": "message", "text": f"m{i}"})).status for i in range(7)]
    assert statuses == [201] * 7
    throttled = await connector.post(path, json={"type": "message", "text": "m7"})
    assert throttled.status == 429
    assert throttled.headers["Retry-After"] == "1"
    other_thread = await connector.post(f"/v3/conversations/{TEAM}/activities", json={"type": "message"})
    assert other_thread.status == 201
    clock.now += 1.0
    assert (await connector.post(path, json={"type": "message", "text": "m8"})).status == 201


async def test_the_two_second_window_allows_eight_sends(connector, clock):
    path = f"/v3/conversations/{CHANNEL}/activities"
    for _ in range(7):
        assert (await connector.post(path, json={"type": "message"})).status == 201
    clock.now += 1.5
    assert (await connector.post(path, json={"type": "message"})).status == 201
    throttled = await connector.post(path, json={"type": "message"})
    assert throttled.status == 429  # 8 in the last 2 s
    assert throttled.headers["Retry-After"] == "1"


async def test_member_reads_have_their_own_higher_limit(connector):
    statuses = [(await connector.get(f"/v3/conversations/{CHANNEL}/members")).status for _ in range(15)]
    assert statuses == [200] * 14 + [429]


async def test_the_per_tenant_limit_throttles_across_threads(aiohttp_client, tmp_path, identity, clock):
    limits = RateLimits(per_app_per_tenant_rps=3)
    client = await aiohttp_client(create_app(make_config(tmp_path, identity, clock, limits=limits)))
    statuses = []
    for n in range(4):
        activity = {"type": "message", "conversation": {"tenantId": TENANT}}
        statuses.append(
            (await client.post(f"/v3/conversations/19:thread{n}@thread.tacv2/activities", json=activity)).status
        )
    assert statuses == [201, 201, 201, 429]


async def test_limits_can_be_switched_off(aiohttp_client, tmp_path, identity, clock):
    client = await aiohttp_client(create_app(make_config(tmp_path, identity, clock, limits=RateLimits.off())))
    path = f"/v3/conversations/{CHANNEL}/activities"
    statuses = {(await client.post(path, json={"type": "message"})).status for _ in range(20)}
    assert statuses == {201}


async def test_a_single_scenario_limit_is_a_knob(aiohttp_client, tmp_path, identity, clock):
    limits = RateLimits(send=(Window(2, 1),))
    client = await aiohttp_client(create_app(make_config(tmp_path, identity, clock, limits=limits)))
    path = f"/v3/conversations/{CHANNEL}/activities"
    statuses = [(await client.post(path, json={"type": "message"})).status for _ in range(3)]
    assert statuses == [201, 201, 429]


def padded_card(target_bytes: int) -> dict:
    base = card_message("")
    filler = "x" * ((target_bytes - estimate_message_bytes(base)) // 2)
    activity = card_message(filler)
    assert abs(estimate_message_bytes(activity) - target_bytes) <= 2
    return activity


async def test_a_message_over_100_kb_is_413_message_size_too_big(connector):
    path = f"/v3/conversations/{CHANNEL}/activities"
    response = await connector.post(path, json=padded_card(100 * 1024 + 2))
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "MessageSizeTooBig"
    assert (await connector.post(path, json=padded_card(100 * 1024 - 2))).status == 201


def test_size_estimate_counts_utf16_so_non_latin_text_weighs_double_per_character():
    ascii_text = {"text": "a" * 1000}
    accented = {"text": "é" * 1000}
    emoji = {"text": "😀" * 1000}  # a surrogate pair in UTF-16
    assert estimate_message_bytes(ascii_text) == estimate_message_bytes(accented)
    assert estimate_message_bytes(emoji) == estimate_message_bytes(ascii_text) + 2000
    assert estimate_message_bytes({**ascii_text, "from": {"id": "x" * 5000}}) == estimate_message_bytes(ascii_text)


async def test_the_log_records_every_request_in_order_with_its_status(connector, tmp_path):
    thread = await (await connector.post("/v3/conversations", json=new_thread(card_message("root")))).json()
    await connector.post(f"/v3/conversations/{thread['id']}/activities", json={"type": "message", "text": "one"})
    await connector.post(f"/v3/conversations/{CHANNEL}/activities", json=padded_card(120 * 1024))
    await connector.put(f"/v3/conversations/{thread['id']}/activities/{thread['activityId']}", json=card_message("v2"))
    await connector.get(f"/v3/conversations/{CHANNEL}/members")
    entries = read_log(tmp_path / "connector-log.jsonl")
    assert [(e.method, e.status) for e in entries] == [
        ("POST", 201),
        ("POST", 201),
        ("POST", 413),
        ("PUT", 200),
        ("GET", 200),
    ]
    assert entries[0].conversation_id == thread["id"]
    assert entries[0].activity["attachments"][0]["content"]["body"][0]["text"] == "root"
    assert all(e.timestamp.tzinfo is not None for e in entries)
    assert [a.get("text") for a in posted_activities(entries)] == [None, "one", None]


async def test_auth_on_refuses_calls_without_a_bearer_token(aiohttp_client, tmp_path, identity, clock):
    client = await aiohttp_client(create_app(make_config(tmp_path, identity, clock, bot_app_id=APP_ID)))
    response = await client.post(f"/v3/conversations/{CHANNEL}/activities", json={"type": "message"})
    assert response.status == 401
    assert read_log(tmp_path / "connector-log.jsonl")[-1].status == 401


async def test_auth_on_accepts_the_bots_token_and_refuses_another_apps_or_another_keys(
    aiohttp_client, tmp_path, identity, clock
):
    client = await aiohttp_client(create_app(make_config(tmp_path, identity, clock, bot_app_id=APP_ID)))
    path = f"/v3/conversations/{CHANNEL}/activities"

    async def status(token: str) -> int:
        return (await client.post(path, json={"type": "message"}, headers={"Authorization": f"Bearer {token}"})).status

    assert await status(identity.mint_connector_token(app_id=APP_ID)) == 201
    assert await status(identity.mint_connector_token(app_id="someone-else")) == 401
    assert await status(BotIdentity.generate(kid=identity.kid).mint_connector_token(app_id=APP_ID)) == 401
    assert await status("not-a-jwt") == 401


async def test_auth_off_accepts_calls_without_authorization_like_the_sdk_sends(connector):
    response = await connector.post(f"/v3/conversations/{CHANNEL}/activities", json={"type": "message"})
    assert response.status == 201


async def test_botbuilders_connector_client_round_trips_against_the_connector(tmp_path):
    """The SDK's own client parses our responses: create a thread, reply, read paged members."""
    handle = await start_connector(roster=Roster.for_team(TEAM, [CHANNEL], MEMBERS), log_path=tmp_path / "log.jsonl")
    try:
        client = ConnectorClient(MicrosoftAppCredentials.empty(), base_url=handle.url)
        created = await client.conversations.create_conversation(
            ConversationParameters(
                is_group=True,
                channel_data=TeamsChannelData(channel=ChannelInfo(id=CHANNEL)).serialize(),
                activity=Activity(type="message", text="digest"),
            )
        )
        assert created.id == f"{CHANNEL};messageid={created.activity_id}"
        reply = await client.conversations.reply_to_activity(
            created.id,
            created.activity_id,
            Activity(type="message", text="more", from_property=ChannelAccount(id="28:x")),
        )
        assert reply.id.isdigit()
        page = await client.conversations.get_conversation_paged_members(created.id, page_size=3)
        assert [m.id for m in page.members] == [m.id for m in MEMBERS[:3]]
        rest = await client.conversations.get_conversation_paged_members(
            created.id, page_size=3, continuation_token=page.continuation_token
        )
        assert [m.id for m in rest.members] == [m.id for m in MEMBERS[3:]]
        assert rest.continuation_token is None
    finally:
        await handle.stop()
    assert [e.path.split("/")[-1] for e in read_log(handle.log_path)] == [
        "conversations",
        created.activity_id,
        "pagedmembers",
        "pagedmembers",
    ]


async def test_a_roster_given_as_plain_json_is_served_per_conversation(tmp_path):
    people = [
        {"id": m.id, "aadObjectId": m.aad_object_id, "name": m.name, "userPrincipalName": m.user_principal_name,
         "tenantId": TENANT}
        for m in MEMBERS[:2]
    ]  # fmt: skip
    handle = await start_connector(roster={CHANNEL: people}, log_path=tmp_path / "log.jsonl", limits=RateLimits.off())
    try:
        client = ConnectorClient(MicrosoftAppCredentials.empty(), base_url=handle.url)
        members = await client.conversations.get_conversation_members(CHANNEL)
        assert [(m.id, m.name) for m in members] == [(m.id, m.name) for m in MEMBERS[:2]]
    finally:
        await handle.stop()


def test_community_roster_lists_teachers_and_coach_under_team_and_channel_ids():
    from datetime import date

    from simulator.connector import community_roster
    from simulator.model import Calendar, Channel, Community, District, Person

    def person(n: int, role: str) -> Person:
        return Person(id=f"aad-{n}", display_name=f"Pat Doe{n}", upn=f"pat{n}@d.example.edu", role=role, school_id="s1")

    people = {p.id: p for p in (person(1, "teacher"), person(2, "teacher"), person(3, "teacher"))}
    community = Community(
        id="team-guid", display_name="Math PLI", channel=Channel(id="19:c@thread.tacv2", display_name="Pulse"),
        teacher_ids=("aad-1", "aad-2"), coach_id="aad-3", class_ids=(), partner_school_id=None,
    )  # fmt: skip
    district = District(
        seed=1, scale="small", tenant_id=TENANT, domain="d.example.edu",
        calendar=Calendar(date(2026, 8, 17), date(2026, 12, 18), "America/Los_Angeles", ()),
        schools={}, people=people, classes={}, enrollments={}, communities={community.id: community},
    )  # fmt: skip
    roster = community_roster(district)
    in_channel = roster.members_of("19:c@thread.tacv2;messageid=1")
    assert [m.aad_object_id for m in in_channel] == ["aad-1", "aad-2", "aad-3"]
    assert roster.members_of("team-guid") == in_channel
    assert {m.tenant_id for m in in_channel} == {TENANT}
    assert in_channel[0].id == teams_user_id("aad-1") and in_channel[0].id.startswith("29:")


async def test_auth_on_trusts_the_keys_of_a_plugged_in_verifier_instead(aiohttp_client, tmp_path, identity, clock):
    from simulator.connector import JwksTokenVerifier

    token_endpoint = BotIdentity.generate()  # stands in for the simulated Entra token endpoint's signing key
    config = make_config(
        tmp_path, identity, clock, bot_app_id=APP_ID, token_verifier=JwksTokenVerifier(token_endpoint.jwks())
    )
    client = await aiohttp_client(create_app(config))
    path = f"/v3/conversations/{CHANNEL}/activities"

    async def status(token: str) -> int:
        return (await client.post(path, json={"type": "message"}, headers={"Authorization": f"Bearer {token}"})).status

    assert await status(token_endpoint.mint_connector_token(app_id=APP_ID)) == 201
    assert await status(identity.mint_connector_token(app_id=APP_ID)) == 401
