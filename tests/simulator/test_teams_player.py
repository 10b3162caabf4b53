"""The Teams player builds activities in the published shapes and drives a real botbuilder bot end to end.

Round trip with authentication ON: player (signed JWT) → CloudAdapter bot validating with botbuilder's own code
against the connector's OpenID metadata → the bot replies to the connector (its serviceUrl) with a bearer token
→ the connector verifies and logs it.

The connector runs in a background thread because botbuilder fetches OpenID metadata with blocking ``requests``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from botbuilder.core import InvokeResponse, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler, TeamsInfo
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, AdaptiveCardInvokeResponse, ChannelAccount

from simulator.bot_identity import CHANNEL_ISSUER, BotIdentity, SimulatedCredentialsFactory
from simulator.connector import ConnectorThread, Member, Roster, teams_user_id
from simulator.connector_log import posted_activities, read_log
from simulator.teams_player import (
    BotRef,
    ChannelRef,
    Place,
    TeamRef,
    TeamsPlayer,
    bot_added_to_team,
    channel_mention,
    execute_action_invoke,
    installation_update_add,
    personal_message,
    submit_action_message,
)

APP_ID = "6a3c1f2e-7d4b-4c5a-9e8f-0b1c2d3e4f50"
TENANT = "b28fdbfd-2b78-4f93-b0f8-8881793f0f8f"
BOT = BotRef(app_id=APP_ID, name="PLI Pulse")
TEAM = TeamRef(
    id="19:team-general@thread.tacv2", name="Math PLI Community", aad_group_id="da849743-4259", tenant_id=TENANT
)
CHANNEL = ChannelRef(id="19:pulse-channel@thread.tacv2", name="Pulse")
TEACHER = Member(
    id=teams_user_id("7faf8ab2-3d56-4244-b585-20c8a42ed2b8"),
    aad_object_id="7faf8ab2-3d56-4244-b585-20c8a42ed2b8",
    name="Ana Lopez",
    user_principal_name="ana.lopez@district.example.edu",
    tenant_id=TENANT,
)
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
SERVICE_URL = "http://127.0.0.1:9"


def shape(value: Any) -> Any:
    """The key structure of a payload (values dropped), to compare with the fixtures."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


def load_fixture(shared_dir: Path, name: str) -> dict:
    return json.loads((shared_dir / "fixtures" / "teams" / name).read_text())


# ---------------------------------------------------------------------------------------------- shapes


def test_installation_update_has_the_fixture_shape(shared_dir):
    built = installation_update_add(
        bot=BOT, team=TEAM, channel=CHANNEL, installer=TEACHER, service_url=SERVICE_URL, activity_id="f:1", now=NOW
    )
    assert shape(built) == shape(load_fixture(shared_dir, "installationupdate-add-channel.fixed.json"))
    assert built["conversation"]["id"] == built["channelData"]["settings"]["selectedChannel"]["id"] == CHANNEL.id
    assert built["recipient"]["id"] == f"28:{APP_ID}"


def test_bot_added_to_team_has_the_fixture_shape(shared_dir):
    built = bot_added_to_team(
        bot=BOT, team=TEAM, channel=CHANNEL, installer=TEACHER, service_url=SERVICE_URL, activity_id="f:2", now=NOW
    )
    assert shape(built) == shape(load_fixture(shared_dir, "conversationupdate-bot-added-to-team.json"))
    assert built["membersAdded"] == [{"id": BOT.id}]


def test_personal_message_has_the_fixture_shape_without_the_local_timestamp(shared_dir):
    built = personal_message(bot=BOT, user=TEACHER, text="hello", service_url=SERVICE_URL, activity_id="1", now=NOW)
    fixture = load_fixture(shared_dir, "personal-message.json")
    del fixture["localTimestamp"]
    assert built.keys() == fixture.keys()
    assert shape(built["from"]) == shape(fixture["from"])
    assert built["conversation"]["id"].startswith("a:")
    assert built["timestamp"] == "2026-11-24T09:30:00.000Z"


def test_channel_mention_carries_at_markup_and_a_mention_entity_that_botbuilder_strips():
    built = channel_mention(
        bot=BOT, team=TEAM, channel=CHANNEL, user=TEACHER, text="show pulse", service_url=SERVICE_URL,
        activity_id="1700000000001", now=NOW,
    )  # fmt: skip
    assert built["conversation"]["id"] == f"{CHANNEL.id};messageid=1700000000001"
    assert built["text"] == "<at>PLI Pulse</at> show pulse"
    mention = built["entities"][0]
    assert mention == {"type": "mention", "text": "<at>PLI Pulse</at>", "mentioned": {"id": BOT.id, "name": BOT.name}}
    assert TurnContext.remove_recipient_mention(Activity().deserialize(built)).strip() == "show pulse"


def test_execute_action_invoke_value_matches_the_real_capture():
    built = execute_action_invoke(
        bot=BOT, user=TEACHER, place=Place.channel(TEAM, CHANNEL, "1700000000002"), verb="refresh",
        data={"week": "2026-W47"}, card_activity_id="1700000000002", service_url=SERVICE_URL, activity_id="f:3",
        now=NOW,
    )  # fmt: skip
    assert (built["type"], built["name"], built["replyToId"]) == ("invoke", "adaptiveCard/action", "1700000000002")
    assert built["value"] == {
        "action": {"type": "Action.Execute", "verb": "refresh", "data": {"week": "2026-W47"}},
        "trigger": "manual",
    }


def test_submit_action_is_a_message_with_value_and_reply_to_id_like_the_messageback_fixture(shared_dir):
    built = submit_action_message(
        bot=BOT, user=TEACHER, place=Place.channel(TEAM, CHANNEL, "1700000000002"), data={"choice": "yes"},
        card_activity_id="1700000000002", service_url=SERVICE_URL, activity_id="1700000000003", now=NOW,
    )  # fmt: skip
    fixture = load_fixture(shared_dir, "message-card-action-messageback-value.fixed.json")
    assert (built["type"], built["value"], built["replyToId"]) == ("message", {"choice": "yes"}, "1700000000002")
    assert set(fixture) - {"text"} <= set(built)
    assert "text" not in built


# ---------------------------------------------------------------------------------------------- round trip


class PulseTestBot(TeamsActivityHandler):
    """A tiny bot: greets on install, echoes mentions and DMs, acknowledges submits, swaps cards on Execute."""

    async def on_installation_update_add(self, turn_context: TurnContext):
        await turn_context.send_activity("installed")

    async def on_teams_members_added(self, teams_members_added, team_info, turn_context: TurnContext):
        # The members come from the connector's roster (GET .../members/{id}), with their UPNs.
        upns = sorted(m.user_principal_name for m in teams_members_added if m.id != turn_context.activity.recipient.id)
        if upns:
            await turn_context.send_activity(f"welcome {', '.join(upns)}")

    async def on_message_activity(self, turn_context: TurnContext):
        activity = turn_context.activity
        if activity.value is not None:
            await turn_context.send_activity(f"submitted {json.dumps(activity.value, sort_keys=True)}")
            return
        text = TurnContext.remove_recipient_mention(activity).strip()
        await turn_context.send_activity(MessageFactory.text(f"echo: {text}"))
        if text == "new thread":
            channel_id = activity.channel_data["channel"]["id"]
            await TeamsInfo.send_message_to_teams_channel(
                turn_context, MessageFactory.text("a new thread"), channel_id, bot_app_id=APP_ID
            )

    async def on_invoke_activity(self, turn_context: TurnContext):
        # The working 4.17.1 pattern (teams.md §2.6): return the msrest model, not a dict.
        if turn_context.activity.name == "adaptiveCard/action":
            verb = turn_context.activity.value["action"].get("verb")
            card = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": f"did {verb}"}]}
            return InvokeResponse(
                status=200,
                body=AdaptiveCardInvokeResponse(
                    status_code=200, type="application/vnd.microsoft.card.adaptive", value=card
                ),
            )
        return await super().on_invoke_activity(turn_context)


def bot_config(metadata_url: str | None, app_id: str) -> SimpleNamespace:
    if not app_id:
        return SimpleNamespace(APP_ID="", APP_PASSWORD="")
    return SimpleNamespace(
        APP_ID=app_id,
        APP_PASSWORD="unused",
        TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL=metadata_url,
        TO_BOT_FROM_CHANNEL_TOKEN_ISSUER=CHANNEL_ISSUER,
        TO_CHANNEL_FROM_BOT_OAUTH_SCOPE="https://api.botframework.com",
        TO_CHANNEL_FROM_BOT_LOGIN_URL="https://login.microsoftonline.com/botframework.com",
    )


async def serve_bot(aiohttp_server, adapter: CloudAdapter) -> str:
    bot = PulseTestBot()

    async def messages(request: web.Request) -> web.StreamResponse:
        return await adapter.process(request, bot)

    app = web.Application()
    app.router.add_post("/api/messages", messages)
    server = await aiohttp_server(app)
    return str(server.make_url("/api/messages"))


@pytest.fixture(scope="module")
def identity() -> BotIdentity:
    return BotIdentity.generate()


@pytest.fixture
def connector_on(identity, tmp_path):
    roster = Roster.for_team(TEAM.id, [TEAM.id, CHANNEL.id], [TEACHER])
    with ConnectorThread(identity=identity, bot_app_id=APP_ID, roster=roster, log_path=tmp_path / "log.jsonl") as h:
        yield h


@pytest.fixture
async def bot_on(aiohttp_server, connector_on, identity):
    auth = ConfigurationBotFrameworkAuthentication(
        bot_config(connector_on.openid_metadata_url, APP_ID),
        credentials_factory=SimulatedCredentialsFactory(identity, APP_ID),
    )
    return await serve_bot(aiohttp_server, CloudAdapter(auth))


@pytest.fixture
async def player_on(connector_on, identity):
    async with TeamsPlayer(service_url=connector_on.url, bot=BOT, identity=identity) as player:
        yield player


async def test_mention_round_trip_with_auth_on_is_answered_and_logged(bot_on, player_on, connector_on):
    response = await player_on.mention_in_channel(bot_on, TEAM, CHANNEL, TEACHER, "hello there")
    assert response.status == 201
    entries = read_log(connector_on.log_path)
    assert [(e.method, e.status) for e in entries] == [("POST", 201)]
    reply = entries[0]
    assert reply.activity["text"] == "echo: hello there"
    assert reply.conversation_id.startswith(f"{CHANNEL.id};messageid=")
    assert reply.reply_to_id == reply.conversation_id.split("=")[-1]


async def test_bot_can_open_a_channel_thread_on_the_connector_with_auth_on(bot_on, player_on, connector_on):
    response = await player_on.mention_in_channel(bot_on, TEAM, CHANNEL, TEACHER, "new thread")
    assert response.status == 201
    created = [e for e in read_log(connector_on.log_path) if e.path == "/v3/conversations"]
    assert len(created) == 1
    assert created[0].status == 201
    assert created[0].conversation_id == f"{CHANNEL.id};messageid={created[0].activity_id}"
    assert created[0].activity["text"] == "a new thread"


async def test_install_personal_message_submit_and_execute_all_reach_the_bot(bot_on, player_on, connector_on):
    install, added = await player_on.install_in_channel(bot_on, TEAM, CHANNEL, TEACHER)
    assert (install.status, added.status) == (201, 201)
    assert (await player_on.personal_message(bot_on, TEACHER, "hi bot")).status == 201
    thread = Place.channel(TEAM, CHANNEL, "1700000000002")
    submitted = await player_on.submit_action(
        bot_on, {"choice": "yes"}, user=TEACHER, place=thread, card_activity_id="1700000000002"
    )
    assert submitted.status == 201
    executed = await player_on.execute_action(
        bot_on, "refresh", {"week": "2026-W47"}, user=TEACHER, place=thread, card_activity_id="1700000000002"
    )
    assert executed.status == 200
    assert executed.body["type"] == "application/vnd.microsoft.card.adaptive"
    assert executed.body["value"]["body"][0]["text"] == "did refresh"
    texts = [a.get("text") for a in posted_activities(read_log(connector_on.log_path))]
    assert texts == ["installed", "echo: hi bot", 'submitted {"choice": "yes"}']


async def test_bot_with_auth_on_refuses_a_token_for_another_app(bot_on, connector_on, identity):
    other = BotRef(app_id="0f9e8d7c-6b5a-4948-8372-6150a4b3c2d1")
    async with TeamsPlayer(service_url=connector_on.url, bot=other, identity=identity) as player:
        response = await player.personal_message(bot_on, TEACHER, "let me in")
    assert response.status == 401
    assert read_log(connector_on.log_path) == []


async def test_bot_with_auth_on_refuses_an_unsigned_activity(bot_on, connector_on):
    async with TeamsPlayer(service_url=connector_on.url, bot=BOT, identity=None, sign=False) as player:
        response = await player.personal_message(bot_on, TEACHER, "no token")
    # CloudAdapter passes a missing header on as "", and the parameterized authentication (the path the
    # TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL key selects) only short-circuits on None: it fails with an
    # AttributeError, so the refusal is a 500, not the 401 of the built-in public-cloud path.
    assert response.status == 500
    assert read_log(connector_on.log_path) == []


async def test_bot_with_auth_on_does_not_accept_a_token_signed_by_another_key(bot_on, connector_on, identity):
    impostor = BotIdentity.generate(kid=identity.kid)
    async with TeamsPlayer(service_url=connector_on.url, bot=BOT, identity=impostor) as player:
        response = await player.personal_message(bot_on, TEACHER, "forged")
    # botbuilder 4.17.1 raises jwt.InvalidSignatureError, which CloudAdapter does not map to 401: it is a 500.
    assert response.status == 500
    assert read_log(connector_on.log_path) == []


async def test_demo_mode_round_trip_without_any_authorization(aiohttp_server, tmp_path):
    roster = Roster.for_team(TEAM.id, [TEAM.id, CHANNEL.id], [TEACHER])
    with ConnectorThread(roster=roster, log_path=tmp_path / "log.jsonl") as connector:
        bot_url = await serve_bot(
            aiohttp_server, CloudAdapter(ConfigurationBotFrameworkAuthentication(bot_config(None, "")))
        )
        async with TeamsPlayer(service_url=connector.url, bot=BOT, identity=None, sign=False) as player:
            response = await player.mention_in_channel(bot_url, TEAM, CHANNEL, TEACHER, "demo")
        assert response.status == 201
        [entry] = read_log(connector.log_path)
        assert (entry.status, entry.activity["text"]) == (201, "echo: demo")
        assert entry.activity["from"]["id"] == BOT.id
        assert entry.activity["replyToId"] == entry.reply_to_id == entry.conversation_id.split("=")[-1]


def test_a_signing_player_without_identity_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="sign=False"):
        TeamsPlayer(service_url=SERVICE_URL, bot=BOT, identity=None)


def test_member_accounts_are_what_botbuilder_deserialises():
    account = ChannelAccount().deserialize(TEACHER.to_json())
    assert (account.id, account.aad_object_id, account.name) == (TEACHER.id, TEACHER.aad_object_id, TEACHER.name)


async def test_a_default_user_acts_when_none_is_named(bot_on, connector_on, identity):
    async with TeamsPlayer(service_url=connector_on.url, bot=BOT, identity=identity, default_user=TEACHER) as player:
        install, _ = await player.install_in_channel(bot_on, TEAM, CHANNEL)
        assert install.status == 201
        with pytest.raises(ValueError, match="default_user"):
            await TeamsPlayer(service_url=connector_on.url, bot=BOT, identity=identity).personal_message(
                bot_on, None, "who am I"
            )
    assert [e.activity["text"] for e in read_log(connector_on.log_path)] == ["installed"]


async def test_members_added_to_a_team_are_read_back_from_the_connector_roster(bot_on, player_on, connector_on):
    response = await player_on.add_members_to_team(bot_on, TEAM, CHANNEL, [TEACHER], actor=TEACHER)
    assert response.status == 201
    entries = read_log(connector_on.log_path)
    assert [(e.method, e.path, e.status) for e in entries] == [
        ("GET", f"/v3/conversations/{TEAM.id}/members/{TEACHER.id}", 200),
        ("POST", f"/v3/conversations/{TEAM.id}/activities", 201),
    ]
    assert entries[1].activity["text"] == "welcome ana.lopez@district.example.edu"
