"""The simulated Bot Connector: the REST API a Teams bot calls on its ``serviceUrl`` to post, reply and read rosters.

It keeps the real wire protocol (paths, JSON shapes, status codes, throttling with ``Retry-After``,
``MessageSizeTooBig``), so the product's bot runs unmodified against it with botbuilder's own
ConnectorClient. Every request the bot makes is recorded in a JSON-lines log (``connector_log``).

Facts and their sources (see /work/shared/docs/reference/teams.md):
- paths and ResourceResponse shapes: §2.5 ("Paths used"); channel-thread and 1:1 creation rules: §2.4;
- rate limits per bot per thread and per app per tenant: §3; 100 KB size limit and 413: §4.3.

Simulator choices where the docs are silent (documented so that nobody mistakes them for Teams facts):
- A "thread" for throttling is the conversation without its ``;messageid=`` suffix: a channel, a chat or a 1:1.
- Only accepted requests count against a window (a 429 does not extend the wait).
- ``Retry-After`` is the whole seconds until the oldest request in the exceeded window leaves it.
- Page size of ``pagedmembers`` defaults to 200 and is capped at 500; continuation tokens are opaque offsets.
- Sends to a conversation the roster does not know are accepted (the bot may reply anywhere a player wrote);
  member reads of an unknown conversation answer 404 ``ConversationNotFound`` (the code TeamsActivityHandler swallows).
- Message size: see ``estimate_message_bytes``.
- The "bot" in per-bot limits is the app id from the verified token; with authentication off it is one
  "anonymous" bot.

Authentication of the bot's calls: with ``bot_app_id=None`` (the demo) no Authorization is required, as the SDK
sends none when its APP_ID is empty (teams.md §2.5). With a ``bot_app_id``, every /v3 call needs
``Authorization: Bearer <JWT>``; a ``TokenVerifier`` checks it (default: ``JwksTokenVerifier`` over the
connector's own ``BotIdentity`` key, i.e. tokens from ``BotIdentity.mint_connector_token``; pass
``token_verifier=JwksTokenVerifier(<token endpoint JWKS>)`` to trust the simulated token endpoint instead), and
the caller's ``azp`` (v2) or ``appid`` (v1) claim must equal ``bot_app_id``. Anything else answers 401.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import hashlib
import json
import math
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import jwt
from aiohttp import web

from simulator.bot_identity import (
    CONNECTOR_AUDIENCE,
    CONNECTOR_TOKEN_ISSUERS,
    KEYS_PATH,
    OPENID_PATH,
    BotIdentity,
    openid_metadata,
)
from simulator.connector_log import ConnectorLog, LogEntry

if TYPE_CHECKING:
    from simulator.model import District, Person

MESSAGE_SIZE_LIMIT_BYTES = 100 * 1024
DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 500
# The fields Teams counts toward the message size: text, cards (with their image links) and mentions (teams.md §4.3).
SIZED_FIELDS = ("text", "summary", "speak", "attachments", "entities", "suggestedActions")


# ---------------------------------------------------------------------------------------------- rate limits


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``limit`` requests in any ``seconds``-long sliding window."""

    limit: int
    seconds: float


SEND_WINDOWS = (Window(7, 1), Window(8, 2), Window(60, 30), Window(1800, 3600))
GET_MEMBERS_WINDOWS = (Window(14, 1), Window(16, 2), Window(120, 30), Window(3600, 3600))


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Teams' published per-bot-per-thread limits and the per-app-per-tenant RPS (teams.md §3).

    Set a scenario to ``()`` or ``per_app_per_tenant_rps`` to None to switch that limit off, or use
    ``RateLimits.off()`` for none at all.
    """

    enabled: bool = True
    send: tuple[Window, ...] = SEND_WINDOWS
    create_conversation: tuple[Window, ...] = SEND_WINDOWS
    get_members: tuple[Window, ...] = GET_MEMBERS_WINDOWS
    per_app_per_tenant_rps: int | None = 50

    @classmethod
    def off(cls) -> RateLimits:
        return cls(enabled=False)


class SlidingWindowLimiter:
    """Request timestamps per key; a request passes only if every window of every key it touches has room."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._hits: dict[tuple[str, ...], list[float]] = {}

    def acquire(self, checks: Sequence[tuple[tuple[str, ...], tuple[Window, ...]]]) -> float | None:
        """Record the request and return None, or return the seconds to wait without recording it."""
        now = self._clock()
        waits = [w for key, windows in checks for w in self._waits(key, windows, now)]
        if waits:
            return max(waits)
        for key, windows in checks:
            if windows:
                hits = self._hits.setdefault(key, [])
                hits.append(now)
                horizon = now - max(w.seconds for w in windows)
                del hits[: bisect.bisect_right(hits, horizon)]
        return None

    def _waits(self, key: tuple[str, ...], windows: tuple[Window, ...], now: float) -> Iterable[float]:
        hits = self._hits.get(key)
        if not hits:
            return
        for window in windows:
            in_window = len(hits) - bisect.bisect_right(hits, now - window.seconds)
            if in_window >= window.limit:
                # The request that must leave the window before one more fits.
                yield hits[len(hits) - window.limit] + window.seconds - now


# ---------------------------------------------------------------------------------------------- roster


@dataclass(frozen=True, slots=True)
class Member:
    """A user as the connector returns it (TeamsChannelAccount)."""

    id: str  # "29:..." Teams user id
    aad_object_id: str
    name: str
    user_principal_name: str
    tenant_id: str
    given_name: str | None = None
    surname: str | None = None
    email: str | None = None
    user_role: str = "user"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "aadObjectId": self.aad_object_id,
            "givenName": self.given_name,
            "surname": self.surname,
            "email": self.email or self.user_principal_name,
            "userPrincipalName": self.user_principal_name,
            "tenantId": self.tenant_id,
            "userRole": self.user_role,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Member:
        return cls(
            id=data["id"],
            aad_object_id=data["aadObjectId"],
            name=data["name"],
            user_principal_name=data["userPrincipalName"],
            tenant_id=data["tenantId"],
            given_name=data.get("givenName"),
            surname=data.get("surname"),
            email=data.get("email"),
            user_role=data.get("userRole", "user"),
        )


def base_conversation_id(conversation_id: str) -> str:
    """A channel thread "19:x@thread.tacv2;messageid=1" belongs to channel "19:x@thread.tacv2"."""
    return conversation_id.split(";", 1)[0]


@dataclass(frozen=True)
class Roster:
    """Members per conversation: a team id, each of its channel ids, a group chat or a 1:1 conversation id."""

    members: Mapping[str, tuple[Member, ...]] = field(default_factory=dict)
    _personal: dict[str, Member] = field(init=False, repr=False, compare=False, default_factory=dict)

    @classmethod
    def of(cls, data: Mapping[str, Iterable[Member | Mapping[str, Any]]]) -> Roster:
        return cls(
            {
                conv: tuple(m if isinstance(m, Member) else Member.from_json(m) for m in people)
                for conv, people in data.items()
            }
        )

    @classmethod
    def for_team(cls, team_id: str, channel_ids: Iterable[str], members: Iterable[Member]) -> Roster:
        people = tuple(members)
        return cls({team_id: people, **{channel: people for channel in channel_ids}})

    def merged(self, other: Roster) -> Roster:
        return Roster({**self.members, **other.members})

    def members_of(self, conversation_id: str) -> tuple[Member, ...] | None:
        found = self.members.get(base_conversation_id(conversation_id))
        if found is None and conversation_id.startswith("a:"):
            member = self._personal.get(conversation_id)
            found = (member,) if member else None
        return found

    def __post_init__(self) -> None:
        personal = {personal_conversation_id(m.id): m for people in self.members.values() for m in people}
        object.__setattr__(self, "_personal", personal)

    def find(self, member_id: str) -> Member | None:
        for people in self.members.values():
            for member in people:
                if member_id in (member.id, member.aad_object_id):
                    return member
        return None


def personal_conversation_id(member_id: str) -> str:
    """The bot's 1:1 conversation with a user: stable per user, like Teams' "a:..." ids (one bot here)."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(f"personal|{member_id}".encode()).digest()).decode()
    return "a:1" + digest.rstrip("=")


def community_roster(district: District) -> Roster:
    """Who the connector says is in each accountable community: its teachers and coach, under the
    community's team id and its channel id (the conversations the bot posts to)."""
    members: dict[str, tuple[Member, ...]] = {}
    for community in district.communities.values():
        ids = dict.fromkeys((*community.teacher_ids, community.coach_id))
        people = tuple(_member_of(district.people[pid], district.tenant_id) for pid in ids if pid in district.people)
        members[community.id] = members[community.channel.id] = people
    return Roster(members)


def _member_of(person: Person, tenant_id: str) -> Member:
    given, _, surname = person.display_name.partition(" ")
    return Member(
        id=teams_user_id(person.id),
        aad_object_id=person.id,
        name=person.display_name,
        user_principal_name=person.upn,
        tenant_id=tenant_id,
        given_name=given or None,
        surname=surname or None,
        email=person.upn,
    )


def teams_user_id(aad_object_id: str) -> str:
    """A stable, opaque "29:" id for a simulated user (real ones are opaque too)."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(aad_object_id.encode()).digest()).decode().rstrip("=")
    return f"29:1{digest}"


# ---------------------------------------------------------------------------------------------- authentication


class TokenRejected(Exception):
    """The bearer token on a bot's call could not be verified."""


class TokenVerifier(Protocol):
    """Turns a bearer token into its claims or raises TokenRejected. Plug in the simulated token endpoint's here."""

    def verify(self, token: str) -> Mapping[str, Any]: ...


class JwksTokenVerifier:
    """Checks a connector token with PyJWT against a fixed JWKS: signature, audience, issuer, expiry."""

    def __init__(
        self,
        jwks: Mapping[str, Any],
        *,
        audience: str = CONNECTOR_AUDIENCE,
        issuers: Sequence[str] = CONNECTOR_TOKEN_ISSUERS,
        leeway_seconds: int = 300,
    ) -> None:
        self._keys = jwt.PyJWKSet.from_dict(dict(jwks))
        self._audience = audience
        self._issuers = list(issuers)
        self._leeway = leeway_seconds

    def verify(self, token: str) -> Mapping[str, Any]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys[kid]
            return jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self._audience,
                issuer=self._issuers,
                leeway=self._leeway,
                options={"require": ["exp", "aud", "iss"]},
            )
        except KeyError as err:
            raise TokenRejected(f"token signed with unknown key id {err}") from err
        except jwt.PyJWTError as err:
            raise TokenRejected(str(err)) from err


def app_id_of(claims: Mapping[str, Any]) -> str | None:
    """v1 tokens carry the caller in ``appid``, v2 in ``azp`` (as JwtTokenValidation.get_app_id_from_claims)."""
    return claims.get("azp") if claims.get("ver") == "2.0" else claims.get("appid")


# ---------------------------------------------------------------------------------------------- size


def estimate_message_bytes(activity: Mapping[str, Any]) -> int:
    """Teams' 100 KB counts text, image links, mentions and cards encoded as UTF-16 (teams.md §4.3).

    Estimate: the compact JSON of the content-bearing fields (``SIZED_FIELDS``), measured in UTF-16 code
    units times two. Addressing fields (from, conversation, serviceUrl, ...) are not counted.
    """
    content = {name: activity[name] for name in SIZED_FIELDS if activity.get(name) is not None}
    return len(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-16-le"))


# ---------------------------------------------------------------------------------------------- app state


@dataclass(frozen=True)
class ConnectorConfig:
    log_path: Path
    identity: BotIdentity
    bot_app_id: str | None = None  # None: authentication disabled (the demo), like a bot with no APP_ID
    roster: Roster = field(default_factory=Roster)
    limits: RateLimits = field(default_factory=RateLimits)
    token_verifier: TokenVerifier | None = None  # default: tokens signed by ``identity`` (mint_connector_token)
    max_message_bytes: int = MESSAGE_SIZE_LIMIT_BYTES
    clock: Callable[[], float] = time.monotonic


class _MessageIds:
    """Teams channel message ids are epoch milliseconds; keep them unique and increasing."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> str:
        self._last = max(int(time.time() * 1000), self._last + 1)
        return str(self._last)


class ConnectorState:
    """What the connector remembers between calls: posted activities, created chats, throttling windows."""

    def __init__(self, config: ConnectorConfig, log: ConnectorLog) -> None:
        self.config = config
        self.log = log
        self.limiter = SlidingWindowLimiter(config.clock)
        self.ids = _MessageIds()
        self.chats: dict[str, tuple[Member, ...]] = {}
        self.activities: dict[str, dict[str, dict[str, Any]]] = {}  # base conversation id -> activity id -> activity
        self.verifier = config.token_verifier or JwksTokenVerifier(config.identity.jwks())

    def members_of(self, conversation_id: str) -> tuple[Member, ...] | None:
        return self.chats.get(conversation_id) or self.config.roster.members_of(conversation_id)

    def store(self, conversation_id: str, activity_id: str, activity: Mapping[str, Any]) -> None:
        stored = {**activity, "id": activity_id}
        self.activities.setdefault(base_conversation_id(conversation_id), {})[activity_id] = stored

    def activity(self, conversation_id: str, activity_id: str) -> dict[str, Any] | None:
        return self.activities.get(base_conversation_id(conversation_id), {}).get(activity_id)

    def tenant_of(self, conversation_id: str, body: Mapping[str, Any] | None) -> str:
        body = body or {}
        conversation = body.get("conversation") or {}
        channel_data = body.get("channelData") or {}
        tenant = conversation.get("tenantId") or (channel_data.get("tenant") or {}).get("id") or body.get("tenantId")
        if tenant:
            return str(tenant)
        members = self.members_of(conversation_id)
        return members[0].tenant_id if members else "unknown"

    def throttle(self, bot: str, scenario: str, thread: str, tenant: str) -> float | None:
        limits = self.config.limits
        if not limits.enabled:
            return None
        windows: tuple[Window, ...] = getattr(limits, scenario)
        checks = [((scenario, bot, base_conversation_id(thread)), windows)]
        if limits.per_app_per_tenant_rps is not None:
            checks.append((("tenant", bot, tenant), (Window(limits.per_app_per_tenant_rps, 1),)))
        return self.limiter.acquire(checks)


@dataclass(slots=True)
class _Exchange:
    """What the middleware writes to the log for one request; handlers fill it in."""

    body: Any = None
    bot: str = "anonymous"
    conversation_id: str | None = None
    reply_to_id: str | None = None
    activity_id: str | None = None
    activity: dict[str, Any] | None = None


CONFIG_KEY = web.AppKey("config", ConnectorConfig)
STATE_KEY = web.AppKey("state", ConnectorState)
EXCHANGE_KEY = web.RequestKey("exchange", _Exchange)


def _error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    """The botframework ErrorResponse shape, which ConnectorClient turns into ErrorResponseException."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def _authorize(state: ConnectorState, header: str | None) -> str | web.Response:
    """The bot key for throttling, or a 401 the bot can act on."""
    expected = state.config.bot_app_id
    if expected is None:
        return "anonymous"
    scheme, _, token = (header or "").partition(" ")
    if scheme != "Bearer" or not token:
        return _error(401, "Unauthorized", "Authorization: Bearer <token> is required; configure the bot's APP_ID")
    try:
        claims = state.verifier.verify(token)
    except TokenRejected as err:
        return _error(401, "Unauthorized", f"The bearer token was rejected: {err}")
    caller = app_id_of(claims)
    if caller != expected:
        return _error(401, "Unauthorized", f"The token is for app {caller!r}; this connector serves app {expected!r}")
    return caller


@web.middleware
async def _authorize_and_record(request: web.Request, handler: Callable) -> web.StreamResponse:
    """Every /v3 call is authenticated here and logged here, whatever the handler answered."""
    if not request.path.startswith("/v3/"):
        return await handler(request)
    state = request.app[STATE_KEY]
    exchange = _Exchange(conversation_id=request.match_info.get("conversation_id"))
    request[EXCHANGE_KEY] = exchange
    response: web.StreamResponse | None = None
    try:
        if request.method in ("POST", "PUT"):
            try:
                exchange.body = await request.json()
            except json.JSONDecodeError as err:
                response = _error(400, "BadSyntax", f"The request body is not JSON: {err}")
            else:
                if isinstance(exchange.body, dict):
                    # A create-conversation call carries its activity inside ConversationParameters.
                    carried = exchange.body.get("activity") if request.path == "/v3/conversations" else exchange.body
                    exchange.activity = carried if isinstance(carried, dict) else None
        if response is None:
            caller = _authorize(state, request.headers.get("Authorization"))
            if isinstance(caller, web.Response):
                response = caller
            else:
                exchange.bot = caller
                response = await handler(request)
    except web.HTTPException as exc:
        _record(state, request, exchange, exc.status)
        raise
    _record(state, request, exchange, response.status)
    return response


def _record(state: ConnectorState, request: web.Request, exchange: _Exchange, status: int) -> None:
    activity = exchange.activity
    reply_to = exchange.reply_to_id or (activity or {}).get("replyToId")
    state.log.append(
        LogEntry(
            timestamp=datetime.now(UTC),
            method=request.method,
            path=request.path,
            conversation_id=exchange.conversation_id,
            reply_to_id=reply_to,
            activity_id=exchange.activity_id,
            activity=activity,
            status=status,
        )
    )


def _too_many(wait: float) -> web.Response:
    seconds = max(1, math.ceil(wait))
    return _error(
        429,
        "TooManyRequests",
        f"Rate limit for this bot and thread exceeded; retry after {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


def _check_send(state: ConnectorState, exchange: _Exchange, activity: Any, scenario: str) -> web.Response | None:
    if not isinstance(activity, dict):
        return _error(400, "BadSyntax", "The body must be an Activity JSON object")
    conversation_id = exchange.conversation_id or ""
    wait = state.throttle(exchange.bot, scenario, conversation_id, state.tenant_of(conversation_id, activity))
    if wait is not None:
        return _too_many(wait)
    size = estimate_message_bytes(activity)
    if size > state.config.max_message_bytes:
        return _error(
            413,
            "MessageSizeTooBig",
            f"The message is about {size} bytes (UTF-16); the limit is {state.config.max_message_bytes}. "
            "Split the card or drop rows.",
        )
    return None


# ---------------------------------------------------------------------------------------------- handlers


async def create_conversation(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    exchange = request[EXCHANGE_KEY]
    params = exchange.body
    if not isinstance(params, dict):
        return _error(400, "BadSyntax", "The body must be ConversationParameters JSON")
    activity = params.get("activity")
    exchange.activity = activity if isinstance(activity, dict) else None
    channel_data = params.get("channelData") or {}
    tenant = params.get("tenantId") or (channel_data.get("tenant") or {}).get("id")
    if params.get("isGroup") is True:
        channel_id = (channel_data.get("channel") or {}).get("id")
        if not channel_id or not isinstance(activity, dict):
            return _error(
                400,
                "BadSyntax",
                "A channel thread needs isGroup true, channelData.channel.id and an activity; "
                "group chats cannot be created",
            )
        exchange.conversation_id = channel_id
        if (rejected := _check_send(state, exchange, activity, "create_conversation")) is not None:
            return rejected
        activity_id = state.ids.next()
        thread_id = f"{channel_id};messageid={activity_id}"
        state.store(thread_id, activity_id, activity)
        exchange.conversation_id, exchange.activity_id = thread_id, activity_id
        return web.json_response({"id": thread_id, "activityId": activity_id}, status=201)

    members = params.get("members") or []
    if len(members) != 1 or not tenant:
        return _error(400, "BadSyntax", "A 1:1 conversation needs isGroup false, exactly one member and tenantId")
    member_id = str(members[0].get("id", ""))
    member = state.config.roster.find(member_id)
    if member is None:
        return _error(404, "MemberNotFound", f"User {member_id!r} is not in any roster this connector knows")
    conversation_id = personal_conversation_id(member.id)
    state.chats[conversation_id] = (member,)
    exchange.conversation_id = conversation_id
    body: dict[str, Any] = {"id": conversation_id}
    if isinstance(activity, dict):
        if (rejected := _check_send(state, exchange, activity, "create_conversation")) is not None:
            return rejected
        activity_id = state.ids.next()
        state.store(conversation_id, activity_id, activity)
        exchange.activity_id = body["activityId"] = activity_id
    return web.json_response(body, status=201)


async def send_activity(request: web.Request) -> web.Response:
    """Both "send to conversation" and "reply to activity" (the reply id only places it in the thread)."""
    state = request.app[STATE_KEY]
    exchange = request[EXCHANGE_KEY]
    exchange.reply_to_id = request.match_info.get("activity_id")
    if (rejected := _check_send(state, exchange, exchange.body, "send")) is not None:
        return rejected
    activity_id = state.ids.next()
    state.store(exchange.conversation_id or "", activity_id, exchange.body)
    exchange.activity_id = activity_id
    return web.json_response({"id": activity_id}, status=201)


async def update_activity(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    exchange = request[EXCHANGE_KEY]
    conversation_id = exchange.conversation_id or ""
    activity_id = request.match_info["activity_id"]
    exchange.activity_id = activity_id
    if (rejected := _check_send(state, exchange, exchange.body, "send")) is not None:
        return rejected
    if state.activity(conversation_id, activity_id) is None:
        return _error(404, "ActivityNotFound", f"No activity {activity_id} in conversation {conversation_id}")
    state.store(conversation_id, activity_id, exchange.body)
    return web.json_response({"id": activity_id}, status=200)


def _members_or_error(request: web.Request) -> tuple[Member, ...] | web.Response:
    state = request.app[STATE_KEY]
    exchange = request[EXCHANGE_KEY]
    conversation_id = exchange.conversation_id or ""
    members = state.members_of(conversation_id)
    if members is None:
        return _error(404, "ConversationNotFound", f"Conversation {conversation_id} is not in the simulated roster")
    wait = state.throttle(exchange.bot, "get_members", conversation_id, state.tenant_of(conversation_id, None))
    if wait is not None:
        return _too_many(wait)
    return members


async def get_members(request: web.Request) -> web.Response:
    members = _members_or_error(request)
    if isinstance(members, web.Response):
        return members
    return web.json_response([m.to_json() for m in members])


async def get_member(request: web.Request) -> web.Response:
    members = _members_or_error(request)
    if isinstance(members, web.Response):
        return members
    member_id = request.match_info["member_id"]
    for member in members:
        if member_id in (member.id, member.aad_object_id):
            return web.json_response(member.to_json())
    return _error(404, "MemberNotFound", f"{member_id} is not a member of {request[EXCHANGE_KEY].conversation_id}")


def _offset_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _token_offset(token: str) -> int | None:
    try:
        prefix, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        return int(number) if prefix == "offset" and int(number) >= 0 else None
    except ValueError:
        return None


async def get_paged_members(request: web.Request) -> web.Response:
    members = _members_or_error(request)
    if isinstance(members, web.Response):
        return members
    try:
        page_size = int(request.query.get("pageSize", DEFAULT_PAGE_SIZE))
    except ValueError:
        return _error(400, "BadArgument", "pageSize must be a whole number")
    page_size = min(max(page_size, 1), MAX_PAGE_SIZE)
    token = request.query.get("continuationToken")
    offset = 0 if token is None else _token_offset(token)
    if offset is None:
        return _error(400, "BadArgument", "continuationToken was not issued by this connector; start without one")
    page = members[offset : offset + page_size]
    body: dict[str, Any] = {"members": [m.to_json() for m in page]}
    if offset + page_size < len(members):
        body["continuationToken"] = _offset_token(offset + page_size)
    return web.json_response(body)


async def openid_configuration(request: web.Request) -> web.Response:
    return web.json_response(openid_metadata(str(request.url.origin())))


async def signing_keys(request: web.Request) -> web.Response:
    return web.json_response(request.app[CONFIG_KEY].identity.jwks())


# ---------------------------------------------------------------------------------------------- app and running


def create_app(config: ConnectorConfig) -> web.Application:
    app = web.Application(middlewares=[_authorize_and_record])
    app[CONFIG_KEY] = config

    async def open_log(app: web.Application) -> AsyncIterator[None]:
        log = ConnectorLog(config.log_path)
        app[STATE_KEY] = ConnectorState(config, log)
        yield
        log.close()

    app.cleanup_ctx.append(open_log)
    conv = "/v3/conversations/{conversation_id}"
    app.add_routes(
        [
            web.post("/v3/conversations", create_conversation),
            web.post(conv + "/activities", send_activity),
            web.post(conv + "/activities/{activity_id}", send_activity),
            web.put(conv + "/activities/{activity_id}", update_activity),
            web.get(conv + "/members", get_members),
            web.get(conv + "/members/{member_id}", get_member),
            web.get(conv + "/pagedmembers", get_paged_members),
            web.get(OPENID_PATH, openid_configuration),
            web.get(KEYS_PATH, signing_keys),
        ]
    )
    return app


@dataclass(frozen=True)
class ConnectorHandle:
    url: str  # the serviceUrl to put in activities, e.g. "http://127.0.0.1:41234"
    log_path: Path
    identity: BotIdentity
    app: web.Application
    runner: web.AppRunner

    @property
    def openid_metadata_url(self) -> str:
        """Give this to the bot as TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL.

        botbuilder caches metadata and keys per URL, process-wide, for a day (JwtTokenExtractor.metadataCache).
        The ``kid`` query (ignored by the route) makes the URL unique per signing key, so a port reused by a
        later connector with a new key never meets stale cached keys.
        """
        return f"{self.url}{OPENID_PATH}?kid={self.identity.kid}"

    @property
    def state(self) -> ConnectorState:
        return self.app[STATE_KEY]

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_connector(
    *,
    port: int = 0,
    bot_app_id: str | None = None,
    roster: Roster | Mapping[str, Iterable[Member | Mapping[str, Any]]] | None = None,
    limits: RateLimits | None = None,
    log_path: Path | str | None = None,
    identity: BotIdentity | None = None,
    token_verifier: TokenVerifier | None = None,
    max_message_bytes: int = MESSAGE_SIZE_LIMIT_BYTES,
    clock: Callable[[], float] = time.monotonic,
) -> ConnectorHandle:
    """Serve the connector on 127.0.0.1 (``port=0``: any free port) until ``handle.stop()``."""
    if log_path is None:
        log_path = Path(tempfile.mkdtemp(prefix="pli-connector-")) / "connector-log.jsonl"
    config = ConnectorConfig(
        log_path=Path(log_path),
        identity=identity or BotIdentity.generate(),
        bot_app_id=bot_app_id,
        roster=roster if isinstance(roster, Roster) else Roster.of(roster or {}),
        limits=limits or RateLimits(),
        token_verifier=token_verifier,
        max_message_bytes=max_message_bytes,
        clock=clock,
    )
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    bound_port = runner.addresses[0][1]
    return ConnectorHandle(f"http://127.0.0.1:{bound_port}", config.log_path, config.identity, app, runner)


class ConnectorThread:
    """The connector on its own event loop in a background thread.

    botbuilder fetches OpenID metadata with blocking ``requests.get`` inside the bot's event loop, so a
    bot with authentication ON deadlocks against a connector served from that same loop. Use this instead.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sim-connector", daemon=True)
        self.handle: ConnectorHandle | None = None

    def start(self) -> ConnectorHandle:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(start_connector(**self._kwargs), self._loop)
        self.handle = future.result(timeout=30)
        return self.handle

    def stop(self) -> None:
        if self.handle is not None:
            asyncio.run_coroutine_threadsafe(self.handle.stop(), self._loop).result(timeout=30)
            self.handle = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        self._loop.close()

    def __enter__(self) -> ConnectorHandle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
