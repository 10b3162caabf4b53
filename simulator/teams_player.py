"""The "Teams player": plays the Teams client and channel towards a bot, with signed inbound activities.

Activities are built in the shapes of the published payloads in shared/fixtures/teams (installationUpdate
add in a channel, conversationUpdate bot added to a team, a 1:1 message, a channel @mention) and of the
real ``adaptiveCard/action`` capture (teams.md §4.2). ``serviceUrl`` is the simulated connector, so the
bot's replies land there. Each POST carries ``Authorization: Bearer <JWT>`` signed by the local
``BotIdentity``, which a bot with authentication ON verifies through the connector's OpenID metadata.

Builders are pure functions (ids and clock passed in); ``TeamsPlayer`` only adds ids, signs and POSTs.
"""

from __future__ import annotations

import html
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from simulator.bot_identity import BotIdentity
from simulator.connector import Member, personal_conversation_id

CLIENT_INFO = {"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web"}


@dataclass(frozen=True, slots=True)
class BotRef:
    app_id: str  # the Entra app id (GUID); the bot's Teams id is "28:" + app id
    name: str = "PLI Pulse"

    @property
    def id(self) -> str:
        return f"28:{self.app_id}"

    def account(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name}


@dataclass(frozen=True, slots=True)
class TeamRef:
    id: str  # "19:...@thread.tacv2" (the General channel id)
    name: str
    aad_group_id: str
    tenant_id: str


@dataclass(frozen=True, slots=True)
class ChannelRef:
    id: str  # "19:...@thread.tacv2"
    name: str


@dataclass(frozen=True, slots=True)
class Place:
    """Where an activity happens: its ``conversation`` and ``channelData`` blocks."""

    conversation: Mapping[str, Any]
    channel_data: Mapping[str, Any]

    @classmethod
    def personal(cls, user: Member) -> Place:
        return cls(
            conversation={"conversationType": "personal", "id": personal_conversation_id(user.id)},
            channel_data={"tenant": {"id": user.tenant_id}},
        )

    @classmethod
    def channel(cls, team: TeamRef, channel: ChannelRef, thread_root_id: str | None = None) -> Place:
        """The channel itself, or the thread whose root message is ``thread_root_id``."""
        conversation_id = channel.id if thread_root_id is None else f"{channel.id};messageid={thread_root_id}"
        return cls(
            conversation={
                "isGroup": True,
                "conversationType": "channel",
                "tenantId": team.tenant_id,
                "id": conversation_id,
            },
            channel_data={
                "teamsChannelId": channel.id,
                "teamsTeamId": team.id,
                "channel": {"id": channel.id},
                "team": {"id": team.id, "name": team.name, "aadGroupId": team.aad_group_id},
                "tenant": {"id": team.tenant_id},
            },
        )


def teams_timestamp(moment: datetime) -> str:
    """Teams' wire format: UTC with milliseconds and a Z, e.g. 2021-11-09T04:47:30.910Z."""
    if moment.tzinfo is None:
        raise ValueError("Activity timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _user_account(user: Member) -> dict[str, str]:
    return {"id": user.id, "name": user.name, "aadObjectId": user.aad_object_id}


def _envelope(
    kind: str, *, activity_id: str, now: datetime, service_url: str, bot: BotRef, user: Member, place: Place
) -> dict[str, Any]:
    return {
        "type": kind,
        "id": activity_id,
        "timestamp": teams_timestamp(now),
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": _user_account(user),
        "recipient": bot.account(),
        "conversation": dict(place.conversation),
        "entities": [dict(CLIENT_INFO)],
        "channelData": dict(place.channel_data),
        "locale": "en-US",
    }


# ---------------------------------------------------------------------------------------------- builders


def installation_update_add(
    *,
    bot: BotRef,
    team: TeamRef,
    channel: ChannelRef,
    installer: Member,
    service_url: str,
    activity_id: str,
    now: datetime,
) -> dict[str, Any]:
    """As fixtures/teams/installationupdate-add-channel.fixed.json."""
    return {
        "type": "installationUpdate",
        "id": activity_id,
        "timestamp": teams_timestamp(now),
        "serviceUrl": service_url,
        "channelId": "msteams",
        "from": {"id": installer.id, "aadObjectId": installer.aad_object_id},
        "recipient": bot.account(),
        "locale": "en-US",
        "entities": [{"type": "clientInfo", "locale": "en-US"}],
        "conversation": {
            "isGroup": True,
            "id": channel.id,
            "name": channel.name,
            "conversationType": "channel",
            "tenantId": team.tenant_id,
        },
        "channelData": {
            "settings": {"selectedChannel": {"id": channel.id}},
            "channel": {"id": channel.id},
            "team": {"aadGroupId": team.aad_group_id, "name": team.name, "id": team.id},
            "tenant": {"id": team.tenant_id},
            "source": {"name": "message"},
        },
        "action": "add",
    }


def bot_added_to_team(
    *,
    bot: BotRef,
    team: TeamRef,
    channel: ChannelRef,
    installer: Member,
    service_url: str,
    activity_id: str,
    now: datetime,
) -> dict[str, Any]:
    """As fixtures/teams/conversationupdate-bot-added-to-team.json."""
    return {
        "type": "conversationUpdate",
        "membersAdded": [{"id": bot.id}],
        "timestamp": teams_timestamp(now),
        "id": activity_id,
        "channelId": "msteams",
        "serviceUrl": service_url,
        "from": {"id": installer.id, "aadObjectId": installer.aad_object_id},
        "conversation": {
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": team.tenant_id,
            "id": channel.id,
            "name": channel.name,
        },
        "recipient": bot.account(),
        "channelData": {
            "settings": {"selectedChannel": {"id": channel.id}},
            "team": {"aadGroupId": team.aad_group_id, "name": team.name, "id": team.id},
            "eventType": "teamMemberAdded",
            "tenant": {"id": team.tenant_id},
        },
    }


def members_added_to_team(
    *,
    bot: BotRef,
    team: TeamRef,
    channel: ChannelRef,
    added: Sequence[Member],
    actor: Member,
    service_url: str,
    activity_id: str,
    now: datetime,
) -> dict[str, Any]:
    """People joined the team: the same conversationUpdate as the bot's own add, with users in membersAdded.

    TeamsActivityHandler answers it by reading each user from the connector (GET .../members/{id}).
    """
    activity = bot_added_to_team(
        bot=bot, team=team, channel=channel, installer=actor, service_url=service_url, activity_id=activity_id, now=now
    )
    activity["membersAdded"] = [{"id": m.id, "aadObjectId": m.aad_object_id} for m in added]
    # Only the bot's own add names the selected channel; other conversationUpdates carry the team id
    # (subscribe-to-conversation-events.md, teams.md §2.3). The removed-member fixture has no settings either.
    activity["conversation"] = {
        "isGroup": True,
        "conversationType": "channel",
        "tenantId": team.tenant_id,
        "id": team.id,
    }
    del activity["channelData"]["settings"]
    return activity


def personal_message(
    *, bot: BotRef, user: Member, text: str, service_url: str, activity_id: str, now: datetime
) -> dict[str, Any]:
    """As fixtures/teams/personal-message.json: plain text plus its text/html rendition."""
    activity = _envelope(
        "message",
        activity_id=activity_id,
        now=now,
        service_url=service_url,
        bot=bot,
        user=user,
        place=Place.personal(user),
    )
    activity["textFormat"] = "plain"
    activity["text"] = text
    activity["attachments"] = [{"contentType": "text/html", "content": f"<div><div>{html.escape(text)}</div></div>"}]
    return activity


def channel_mention(
    *,
    bot: BotRef,
    team: TeamRef,
    channel: ChannelRef,
    user: Member,
    text: str,
    service_url: str,
    activity_id: str,
    now: datetime,
    thread_root_id: str | None = None,
) -> dict[str, Any]:
    """A channel post (or a reply in a thread) that @mentions the bot: ``<at>`` markup plus a mention entity.

    A new post starts its own thread: conversation id "{channel};messageid={its own id}".
    """
    place = Place.channel(team, channel, thread_root_id or activity_id)
    activity = _envelope(
        "message", activity_id=activity_id, now=now, service_url=service_url, bot=bot, user=user, place=place
    )
    at = f"<at>{bot.name}</at>"
    activity["textFormat"] = "plain"
    activity["text"] = f"{at} {text}"
    activity["attachments"] = [
        {
            "contentType": "text/html",
            "content": f'<div><div><at id="0">{html.escape(bot.name)}</at> {html.escape(text)}</div></div>',
        }
    ]
    activity["entities"] = [{"type": "mention", "text": at, "mentioned": bot.account()}, dict(CLIENT_INFO)]
    if thread_root_id is not None:
        activity["replyToId"] = thread_root_id
    return activity


def execute_action_invoke(
    *,
    bot: BotRef,
    user: Member,
    place: Place,
    verb: str | None,
    data: Mapping[str, Any],
    card_activity_id: str,
    service_url: str,
    activity_id: str,
    now: datetime,
    title: str | None = None,
) -> dict[str, Any]:
    """An Action.Execute click: invoke ``adaptiveCard/action`` (value shape from a real capture, teams.md §4.2)."""
    action: dict[str, Any] = {"type": "Action.Execute"}
    if title is not None:
        action["title"] = title
    if verb is not None:
        action["verb"] = verb
    action["data"] = dict(data)
    activity = _envelope(
        "invoke", activity_id=activity_id, now=now, service_url=service_url, bot=bot, user=user, place=place
    )
    activity["name"] = "adaptiveCard/action"
    activity["replyToId"] = card_activity_id
    activity["value"] = {"action": action, "trigger": "manual"}
    return activity


def submit_action_message(
    *,
    bot: BotRef,
    user: Member,
    place: Place,
    data: Mapping[str, Any],
    card_activity_id: str,
    service_url: str,
    activity_id: str,
    now: datetime,
) -> dict[str, Any]:
    """An Action.Submit click: a message whose ``value`` is the merged data and inputs, and no text (teams.md §4.2)."""
    activity = _envelope(
        "message", activity_id=activity_id, now=now, service_url=service_url, bot=bot, user=user, place=place
    )
    activity["replyToId"] = card_activity_id
    activity["value"] = dict(data)
    return activity


# ---------------------------------------------------------------------------------------------- player


@dataclass(frozen=True, slots=True)
class BotResponse:
    status: int
    body: Any  # parsed JSON, the text when not JSON, or None when empty


class TeamsPlayer:
    """Sends built activities to a bot endpoint the way the Teams channel does.

    ``sign=False`` sends no Authorization header, like the Agents Playground, for a bot with authentication
    disabled (a disabled bot rejects any token: its app id "" never matches the ``aud`` claim).
    """

    def __init__(
        self,
        *,
        service_url: str,
        bot: BotRef,
        identity: BotIdentity | None,
        sign: bool = True,
        default_user: Member | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if sign and identity is None:
            raise ValueError("A signing player needs a BotIdentity; pass sign=False for a bot with auth disabled")
        self.service_url = service_url
        self.bot = bot
        self.identity = identity
        self.sign = sign
        self.default_user = default_user
        self._now = now
        self._last_message_id = 0
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> TeamsPlayer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def message_id(self) -> str:
        """Channel and chat message ids are epoch milliseconds, unique and increasing."""
        self._last_message_id = max(int(time.time() * 1000), self._last_message_id + 1)
        return str(self._last_message_id)

    def _user(self, user: Member | None) -> Member:
        chosen = user or self.default_user
        if chosen is None:
            raise ValueError("Say who acts: pass user=/installer= or construct the player with default_user=")
        return chosen

    @staticmethod
    def event_id() -> str:
        return f"f:{uuid.uuid4()}"

    def authorization(self, activity: Mapping[str, Any]) -> str | None:
        if not self.sign or self.identity is None:
            return None
        token = self.identity.mint_channel_token(app_id=self.bot.app_id, service_url=activity["serviceUrl"])
        return f"Bearer {token}"

    async def post(
        self, bot_url: str, activity: Mapping[str, Any], *, authorization: str | bool | None = True
    ) -> BotResponse:
        """POST one activity. ``authorization``: True = sign as configured, None/False = no header, str = as given."""
        headers = {"Content-Type": "application/json"}
        header = self.authorization(activity) if authorization is True else authorization or None
        if header:
            headers["Authorization"] = header
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.post(bot_url, data=json.dumps(activity), headers=headers) as response:
            text = await response.text()
            try:
                body = json.loads(text) if text else None
            except json.JSONDecodeError:
                body = text
            return BotResponse(response.status, body)

    async def install_in_channel(
        self, bot_url: str, team: TeamRef, channel: ChannelRef, installer: Member | None = None
    ) -> tuple[BotResponse, BotResponse]:
        """Both events Teams sends on install in a team: installationUpdate add, then conversationUpdate."""
        common = {"bot": self.bot, "team": team, "channel": channel, "installer": self._user(installer)}
        install = installation_update_add(
            **common, service_url=self.service_url, activity_id=self.event_id(), now=self._now()
        )
        added = bot_added_to_team(**common, service_url=self.service_url, activity_id=self.event_id(), now=self._now())
        return await self.post(bot_url, install), await self.post(bot_url, added)

    async def add_members_to_team(
        self, bot_url: str, team: TeamRef, channel: ChannelRef, added: Sequence[Member], actor: Member | None = None
    ) -> BotResponse:
        activity = members_added_to_team(
            bot=self.bot,
            team=team,
            channel=channel,
            added=added,
            actor=self._user(actor),
            service_url=self.service_url,
            activity_id=self.event_id(),
            now=self._now(),
        )
        return await self.post(bot_url, activity)

    async def personal_message(self, bot_url: str, user: Member | None, text: str) -> BotResponse:
        activity = personal_message(
            bot=self.bot,
            user=self._user(user),
            text=text,
            service_url=self.service_url,
            activity_id=self.message_id(),
            now=self._now(),
        )
        return await self.post(bot_url, activity)

    async def mention_in_channel(
        self,
        bot_url: str,
        team: TeamRef,
        channel: ChannelRef,
        user: Member | None,
        text: str,
        *,
        thread_root_id: str | None = None,
    ) -> BotResponse:
        activity = channel_mention(
            bot=self.bot,
            team=team,
            channel=channel,
            user=self._user(user),
            text=text,
            service_url=self.service_url,
            activity_id=self.message_id(),
            now=self._now(),
            thread_root_id=thread_root_id,
        )
        return await self.post(bot_url, activity)

    async def execute_action(
        self,
        bot_url: str,
        verb: str | None,
        data: Mapping[str, Any],
        *,
        place: Place,
        card_activity_id: str,
        user: Member | None = None,
        title: str | None = None,
    ) -> BotResponse:
        """Click an Action.Execute button on the card ``card_activity_id``; the bot answers the invoke inline."""
        activity = execute_action_invoke(
            bot=self.bot,
            user=self._user(user),
            place=place,
            verb=verb,
            data=data,
            card_activity_id=card_activity_id,
            service_url=self.service_url,
            activity_id=self.event_id(),
            now=self._now(),
            title=title,
        )
        return await self.post(bot_url, activity)

    async def submit_action(
        self,
        bot_url: str,
        data: Mapping[str, Any],
        *,
        place: Place,
        card_activity_id: str,
        user: Member | None = None,
    ) -> BotResponse:
        activity = submit_action_message(
            bot=self.bot,
            user=self._user(user),
            place=place,
            data=data,
            card_activity_id=card_activity_id,
            service_url=self.service_url,
            activity_id=self.message_id(),
            now=self._now(),
        )
        return await self.post(bot_url, activity)
