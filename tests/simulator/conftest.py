"""A tiny hand-made district and a running simulated tenant for the simulator tests.

The district is small enough to reason about by hand: two classes, one community, four students (one joins
mid-term), and activity on both sides of the test clock ``NOW`` so that advancing the clock reveals new posts,
replies, reactions, submissions and notebook edits.
"""

from __future__ import annotations

import ssl
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import aiohttp
import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient

from simulator.model import (
    Assignment,
    Calendar,
    Channel,
    ClassActivity,
    Community,
    CommunityActivity,
    District,
    Enrollment,
    FormResponse,
    Message,
    NotebookEdit,
    Person,
    Reaction,
    Resource,
    School,
    SchoolClass,
    Submission,
)
from simulator.serve import TenantHandle, start_tenant
from simulator.throttle import ThrottleConfig

TENANT_ID = "7c0c4d3e-0000-4000-8000-000000000001"
NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)

T1, T2, COACH = (
    "10000000-0000-4000-8000-000000000001",
    "10000000-0000-4000-8000-000000000002",
    "10000000-0000-4000-8000-000000000003",
)
ANA, BEN, CARA, DEV = (f"20000000-0000-4000-8000-00000000000{i}" for i in range(1, 5))
K1, K2, M1 = (
    "30000000-0000-4000-8000-000000000001",
    "30000000-0000-4000-8000-000000000002",
    "40000000-0000-4000-8000-000000000001",
)
K1_GENERAL, K1_PROJECTS = "19:general-k1@thread.tacv2", "19:projects-k1@thread.tacv2"
K2_GENERAL, M1_CHANNEL = "19:general-k2@thread.tacv2", "19:community-m1@thread.tacv2"
A1, A2, A3 = (
    "50000000-0000-4000-8000-000000000001",
    "50000000-0000-4000-8000-000000000002",
    "50000000-0000-4000-8000-000000000003",
)
QUIZ_FORM = "form-quiz-1"
K1_POSTS_BEFORE_NOW = 25


def at(day: str, hour: int = 15, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


def msg(team: str, channel: str, when: datetime, author: str, reply_to: str | None = None, **kw) -> Message:
    return Message(
        id=str(int(when.timestamp() * 1000)),
        team_id=team,
        channel_id=channel,
        reply_to_id=reply_to,
        author_id=author,
        created_at=when,
        body_html=kw.pop("body", "<p>Shared our exit-ticket results.</p>"),
        **kw,
    )


def make_district() -> District:
    people = {
        T1: Person(T1, "Maria Garcia", "maria.garcia@sim.example.edu", "teacher", "S1", external_id="T-001"),
        T2: Person(T2, "Tom Lee", "tom.lee@sim.example.edu", "teacher", "S1", external_id="T-002"),
        COACH: Person(COACH, "Kim Coach", "kim.coach@sim.example.edu", "teacher", "S1", external_id="T-003"),
        ANA: Person(ANA, "Ana Lopez", "ana.lopez@sim.example.edu", "student", "S1", grade="9", external_id="S-001"),
        BEN: Person(BEN, "Ben Ortiz", "ben.ortiz@sim.example.edu", "student", "S1", grade="9", external_id="S-002"),
        CARA: Person(CARA, "Cara Diaz", "cara.diaz@sim.example.edu", "student", "S1", grade="9", external_id="S-003"),
        DEV: Person(DEV, "Dev Patel", "dev.patel@sim.example.edu", "student", "S1", grade="9", external_id="S-004"),
    }
    start = date(2026, 8, 17)
    classes = {
        K1: SchoolClass(
            K1,
            "Biology 9 P1",
            "S1",
            "Biology",
            "9",
            "Fall 2026",
            True,
            "2026",
            (T1,),
            (Channel(K1_GENERAL, "General"), Channel(K1_PROJECTS, "Projects")),
            class_code="BIO9-1",
            mail_nickname="bio9p1",
        ),
        K2: SchoolClass(
            K2, "Algebra 9 P2", "S1", "Math", "9", "Fall 2026", False, None, (T2,), (Channel(K2_GENERAL, "General"),)
        ),
    }
    enrollments = {
        K1: (
            Enrollment(K1, T1, "teacher", start),
            Enrollment(K1, ANA, "student", start),
            Enrollment(K1, BEN, "student", start),
            Enrollment(K1, CARA, "student", start),
            Enrollment(K1, DEV, "student", date(2026, 10, 10)),  # mid-term joiner, after NOW
        ),
        K2: (
            Enrollment(K2, T2, "teacher", start),
            Enrollment(K2, ANA, "student", start),
            Enrollment(K2, BEN, "student", start),
        ),
    }
    return District(
        seed=1,
        scale="small",
        tenant_id=TENANT_ID,
        domain="sim.example.edu",
        calendar=Calendar(start, date(2027, 1, 29), "America/Los_Angeles", ()),
        schools={"S1": School("S1", "Roosevelt High", "RHS-01")},
        people=people,
        classes=classes,
        enrollments=enrollments,
        communities={
            M1: Community(
                M1, "PLI Biology Community", Channel(M1_CHANNEL, "Conversation"), (T1, T2), COACH, (K1,), None
            )
        },
        coach_ids=(COACH,),
    )


def k1_activity() -> ClassActivity:
    messages: list[Message] = []
    authors = (T1, ANA, BEN, CARA)
    for i in range(K1_POSTS_BEFORE_NOW):
        when = at("2026-09-01") + timedelta(days=i)
        kw: dict = {}
        if i == 0:
            kw = {
                "mention_ids": (ANA,),
                "body": '<p>Nice work <at id="0">Ana Lopez</at></p>',
                "reactions": (Reaction(BEN, "like", when + timedelta(minutes=30)),),
            }
        if i == 1:
            kw = {"form_id": QUIZ_FORM, "body": '<p>Quiz: <a href="https://forms.office.com/r/quiz1">Quiz 1</a></p>'}
        if i == 3:  # a reaction that only happens after NOW
            kw = {"reactions": (Reaction(ANA, "heart", at("2026-10-07")),)}
        post = msg(K1, K1_GENERAL, when, T1 if i == 1 else authors[i % 4], **kw)
        messages.append(post)
        if i < 5:
            messages += [
                msg(K1, K1_GENERAL, when + timedelta(hours=h), (ANA, BEN)[h - 1], reply_to=post.id) for h in (1, 2)
            ]
    posts = [m for m in messages if m.reply_to_id is None]
    messages.append(msg(K1, K1_GENERAL, at("2026-10-05"), T1))  # a new post after NOW
    messages.append(msg(K1, K1_GENERAL, at("2026-10-06"), CARA, reply_to=posts[2].id))  # a new reply after NOW
    messages.append(msg(K1, K1_PROJECTS, at("2026-09-15"), BEN))
    assignments = (
        Assignment(
            A1,
            K1,
            "Quiz 1",
            at("2026-09-02"),
            at("2026-09-03"),
            at("2026-09-10"),
            (Resource("educationLinkResource", "Quiz 1", "https://forms.office.com/r/quiz1"),),
            QUIZ_FORM,
            10.0,
        ),
        Assignment(A2, K1, "Essay", at("2026-09-05"), at("2026-09-06"), at("2026-09-20"), (), None, None),
        Assignment(A3, K1, "Lab report", at("2026-10-03"), at("2026-10-04"), at("2026-10-20"), (), None, 20.0),
    )
    submissions = (
        Submission("sub-a1-ana", A1, K1, ANA, at("2026-09-04"), at("2026-09-12"), 8.0, "Nice reasoning"),
        Submission("sub-a1-ben", A1, K1, BEN, at("2026-09-05"), None, None, None),
        Submission("sub-a1-cara", A1, K1, CARA, None, None, None, None),
        Submission("sub-a2-ana", A2, K1, ANA, at("2026-09-15"), None, None, None),
        Submission("sub-a2-ben", A2, K1, BEN, None, None, None, None),
        Submission("sub-a2-cara", A2, K1, CARA, at("2026-09-18"), at("2026-10-08"), None, "Good structure"),
        Submission("sub-a3-dev", A3, K1, DEV, at("2026-10-12"), None, None, None),
    )
    responses = (
        FormResponse(QUIZ_FORM, ANA, at("2026-09-04")),
        FormResponse(QUIZ_FORM, BEN, at("2026-09-05")),
        FormResponse(QUIZ_FORM, CARA, at("2026-09-28"), "CreateResponse"),
        FormResponse(QUIZ_FORM, DEV, at("2026-10-12")),
    )
    edits = (
        NotebookEdit(K1, ANA, "sg-ana", "sec-ana-notes", at("2026-09-10"), "student"),
        NotebookEdit(K1, BEN, "sg-ben", "sec-ben-notes", at("2026-09-11"), "student"),
        NotebookEdit(K1, ANA, "sg-collab", "sec-collab-1", at("2026-09-12"), "collaboration"),
        NotebookEdit(K1, CARA, "sg-collab", "sec-collab-1", at("2026-10-09"), "collaboration"),
    )
    return ClassActivity(
        K1, tuple(sorted(messages, key=lambda m: m.created_at)), assignments, submissions, responses, edits
    )


def k2_activity() -> ClassActivity:
    messages = tuple(msg(K2, K2_GENERAL, at("2026-09-02") + timedelta(days=i), T2) for i in range(3))
    return ClassActivity(K2, messages, (), (), (), ())


class ActivitySource:
    """The two generator callables, counting how often each activity is (re)built."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def class_activity(self, district: District, class_id: str) -> ClassActivity:
        self.calls[class_id] += 1
        return {K1: k1_activity, K2: k2_activity}[class_id]()

    def community_activity(self, district: District, community_id: str) -> CommunityActivity:
        self.calls[community_id] += 1
        post = msg(M1, M1_CHANNEL, at("2026-09-08"), T1)
        reply = msg(M1, M1_CHANNEL, at("2026-09-08", 16), T2, reply_to=post.id)
        return CommunityActivity(M1, (post, reply, msg(M1, M1_CHANNEL, at("2026-10-05"), T2)))


@pytest.fixture
def district() -> District:
    return make_district()


@pytest.fixture
def source() -> ActivitySource:
    return ActivitySource()


async def start(district: District, source: ActivitySource, **kw) -> TenantHandle:
    kw.setdefault("throttling", ThrottleConfig.off())
    kw.setdefault("until", NOW)
    return await start_tenant(
        district, class_activity=source.class_activity, community_activity=source.community_activity, **kw
    )


@pytest.fixture
async def tenant(district: District, source: ActivitySource) -> AsyncIterator[TenantHandle]:
    handle = await start(district, source)
    yield handle
    await handle.stop()


@pytest.fixture
async def make_tenant(district: District, source: ActivitySource) -> AsyncIterator:
    handles: list[TenantHandle] = []

    async def make(**kw) -> TenantHandle:
        handle = await start(district, source, **kw)
        handles.append(handle)
        return handle

    yield make
    for h in handles:
        await h.stop()


def tls_context(handle: TenantHandle) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(handle.ca_file))


async def fetch_token(handle: TenantHandle, form: dict[str, str]) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.post(handle.token_url, data=form, ssl=tls_context(handle)) as r:
        return r.status, await r.json()


async def app_token(handle: TenantHandle) -> str:
    status, body = await fetch_token(
        handle,
        {
            "grant_type": "client_credentials",
            "client_id": handle.client_id,
            "client_secret": handle.client_secret,
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    assert status == 200, body
    return body["access_token"]


async def user_token(
    handle: TenantHandle,
    upn: str = "maria.garcia@sim.example.edu",
    scope: str = "https://graph.microsoft.com/Notes.Read.All offline_access",
) -> str:
    status, body = await fetch_token(
        handle,
        {
            "grant_type": "password",
            "client_id": handle.client_id,
            "username": upn,
            "password": handle.user_password,
            "scope": scope,
        },
    )
    assert status == 200, body
    return body["access_token"]


class StaticToken(AccessTokenProvider):
    """Hands a fixed bearer token to kiota (graph.md §4.1: msgraph_core's own provider drops tokens for 127.0.0.1)."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def get_authorization_token(self, uri: str, additional_authentication_context=None) -> str:
        return self.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator(["127.0.0.1"])


def graph_client(handle: TenantHandle, token: str) -> GraphServiceClient:
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken(token)))
    adapter.base_url = handle.graph_base_url
    return GraphServiceClient(request_adapter=adapter)


async def get_json(handle: TenantHandle, url: str, token: str | None, **kw) -> tuple[int, dict, dict]:
    """GET a Graph URL (relative to graph_base_url or absolute); returns status, JSON body, headers."""
    if not url.startswith("http"):
        url = handle.graph_base_url + url
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers, allow_redirects=False, **kw) as r:
        body = await r.json(content_type=None) if r.content_length != 0 else {}
        return r.status, body, dict(r.headers)


async def post_json(handle: TenantHandle, url: str, token: str | None, payload) -> tuple[int, dict, dict]:
    if not url.startswith("http"):
        url = handle.graph_base_url + url
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as http, http.post(url, headers=headers, json=payload) as r:
        return r.status, await r.json(content_type=None), dict(r.headers)


async def follow_pages(handle: TenantHandle, url: str, token: str) -> tuple[list[dict], list[dict]]:
    """Follow nextLinks to the end; returns (items, pages)."""
    items, pages = [], []
    while url:
        status, body, _ = await get_json(handle, url, token)
        assert status == 200, body
        pages.append(body)
        items.extend(body["value"])
        url = body.get("@odata.nextLink")
    return items, pages
