"""The simulated tenant's Microsoft Graph: routes and JSON shapes (v1.0 and beta) over a simulated district.

Shapes follow the published examples in shared/fixtures/graph (same keys, same value types); tests compare them key by
key. Routes are data (``Route``) dispatched by one function, so ``$batch`` items go through exactly the same path,
permission check and throttling as top-level requests. Activity is generated lazily per class team and kept in a
bounded LRU, so a 75,000-student district is served in bounded memory.

Paging and delta state lives in opaque, HMAC-signed tokens inside full-URL ``@odata.nextLink``/``@odata.deltaLink``.
Every list is a snapshot "as of" the simulated clock at the first page; a deltaLink remembers that instant, and
following it later returns only what was created or changed since.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import hashlib
import hmac
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit
from zoneinfo import ZoneInfo

import orjson
from aiohttp import web

from simulator import throttle as fam
from simulator.clock import ClockError, SimClock, parse_instant
from simulator.identity import IDENTITY, AuthError, Principal, TenantIdentity, identity_routes
from simulator.model import (
    Assignment,
    ClassActivity,
    CommunityActivity,
    District,
    Message,
    NotebookEdit,
    Person,
    SchoolClass,
    Submission,
)
from simulator.throttle import Throttler, Verdict

ClassActivityFn = Callable[[District, str], ClassActivity]
CommunityActivityFn = Callable[[District, str], CommunityActivity]

GRAPH_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
MESSAGES_TOP_MAX = 50
MESSAGES_TOP_DEFAULT = 20
ONENOTE_TOP_MAX = 100
ONENOTE_TOP_DEFAULT = 20
EDU_TOP_DEFAULT = 100  # UNCONFIRMED in the docs (graph.md §3)
EDU_TOP_MAX = 999
REPORT_PAGE = 200
AUDIT_TOP_DEFAULT = 150  # UNCONFIRMED in the docs
DELTA_WINDOW_MONTHS = 8
BATCH_MAX = 20
PAGE_KEYS = ("o", "a", "t", "x")  # offset, as-of instant, page size, expands
DELTA_KEYS = ("s", "t", "x")  # changes since, page size, expands

# Permission families (graph.md §1): any one of these, as app role (app-only) or scope (delegated).
PERM_MESSAGES = ("ChannelMessage.Read.All", "ChannelMessage.Read.Group", "Group.Read.All", "Group.ReadWrite.All")
PERM_CHANNELS = ("Channel.ReadBasic.All", "ChannelSettings.Read.All", "Group.Read.All", "Team.ReadBasic.All")
PERM_ROSTER = ("EduRoster.Read.All", "EduRoster.ReadWrite.All", "EduRoster.ReadBasic.All", "EduRoster.ReadBasic")
PERM_ASSIGNMENTS = (
    "EduAssignments.ReadBasic.All",
    "EduAssignments.ReadWriteBasic.All",
    "EduAssignments.Read.All",
    "EduAssignments.ReadWrite.All",
    "EduAssignments.ReadBasic",
    "EduAssignments.Read",
    "EduAssignments.ReadWrite",
)
PERM_GRADES = (
    "EduAssignments.Read.All",
    "EduAssignments.ReadWrite.All",
    "EduAssignments.Read",
    "EduAssignments.ReadWrite",
)
PERM_NOTES = ("Notes.Read", "Notes.Read.All", "Notes.ReadWrite", "Notes.ReadWrite.All")
PERM_REPORTS = ("Reports.Read.All",)
PERM_AUDIT = ("AuditLogsQuery.Read.All",)


# ---------------------------------------------------------------------------------------------------------------------
# configuration, errors, request/response values
# ---------------------------------------------------------------------------------------------------------------------
def _default_class_activity(district: District, class_id: str) -> ClassActivity:
    from simulator.generate import class_activity  # lazy: the generator is optional for tests

    return class_activity(district, class_id)


def _default_community_activity(district: District, community_id: str) -> CommunityActivity:
    from simulator.generate import community_activity

    return community_activity(district, community_id)


@dataclass(frozen=True, slots=True)
class GraphConfig:
    district: District
    identity: TenantIdentity
    clock: SimClock
    throttler: Throttler
    class_activity: ClassActivityFn = _default_class_activity
    community_activity: CommunityActivityFn = _default_community_activity
    activity_cache_size: int = 64  # class/community activities kept in memory at once
    token_secret: bytes = field(default_factory=lambda: uuid.uuid4().bytes)


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})


def error_body(code: str, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "request-id": str(uuid.uuid4()),
                "client-request-id": str(uuid.uuid4()),
            },
        }
    }


@dataclass(frozen=True, slots=True)
class GraphRequest:
    method: str
    version: str  # "v1.0" | "beta"
    path: str  # below the version, e.g. "/teams/{id}/channels"
    query: Mapping[str, str]
    base: str  # scheme://host of this server, for full nextLink/deltaLink URLs
    principal: Principal
    body: Any = None

    @property
    def root(self) -> str:
        return f"{self.base}/{self.version}"


@dataclass(frozen=True, slots=True)
class GraphResponse:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------------------
# small pure helpers
# ---------------------------------------------------------------------------------------------------------------------
def ts_ms(when: datetime | None) -> str | None:
    """Teams style: milliseconds and Z."""
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def ts_7(when: datetime | None) -> str | None:
    """Education style: seven fractional digits and Z (the SDK and clients must cope with it)."""
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def minus_months(when: datetime, months: int) -> datetime:
    month0 = when.month - 1 - months
    year, month = when.year + month0 // 12, month0 % 12 + 1
    day = min(
        when.day,
        [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][
            month - 1
        ],
    )
    return when.replace(year=year, month=month, day=day)


@lru_cache(maxsize=4096)
def _quoted(segment: str) -> str:
    return quote(segment, safe="")


def stable_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "pli-sim/" + "/".join(parts)))


def identity_set(user_id: str | None, display_name: str | None = None) -> dict[str, Any]:
    return {"application": None, "device": None, "user": {"id": user_id, "displayName": display_name}}


def parse_top(query: Mapping[str, str], default: int, maximum: int) -> int:
    raw = query.get("$top")
    if raw is None:
        return default
    try:
        top = int(raw)
    except ValueError as exc:
        raise GraphError(
            400, "BadRequest", f"Invalid $top value '{raw}': give an integer from 1 to {maximum}."
        ) from exc
    if not 1 <= top <= maximum:
        raise GraphError(400, "BadRequest", f"Invalid page size requested: $top={top}. The maximum is {maximum}.")
    return top


def expands(query: Mapping[str, str]) -> frozenset[str]:
    return frozenset(p.strip() for p in query.get("$expand", "").split(",") if p.strip())


class TokenCodec:
    """Opaque paging/delta state: base64url(JSON) + truncated HMAC bound to the request path, so clients can neither
    edit a token nor replay it on another endpoint."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def encode(self, state: Mapping[str, Any], path: str) -> str:
        payload = base64.urlsafe_b64encode(orjson.dumps(state)).decode().rstrip("=")
        return payload + "." + self._sig(payload, path)

    def decode(self, token: str, path: str, required: Iterable[str] = ()) -> dict[str, Any]:
        payload, _, sig = token.partition(".")
        if not sig or not hmac.compare_digest(sig, self._sig(payload, path)):
            raise GraphError(
                400, "BadRequest", "The skip or delta token is invalid or expired. Start again without a token."
            )
        state = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        if not isinstance(state, dict) or any(k not in state for k in required):
            raise GraphError(400, "BadRequest", "The skip or delta token is invalid. Start again without a token.")
        return state

    def _sig(self, payload: str, path: str) -> str:
        digest = hmac.new(self._secret, f"{path}\n{payload}".encode(), hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


# ---------------------------------------------------------------------------------------------------------------------
# JSON shapes (pure): keys and value types of shared/fixtures/graph
# ---------------------------------------------------------------------------------------------------------------------
REACTION_NAMES = {
    "like": "Like",
    "heart": "Heart",
    "laugh": "Laugh",
    "surprised": "Surprised",
    "sad": "Sad",
    "angry": "Angry",
}


def message_json(
    msg: Message,
    *,
    tenant_id: str,
    people: Mapping[str, Person],
    visible_reactions: int,
    delta: bool = False,
) -> dict[str, Any]:
    reactions = sorted(msg.reactions, key=lambda r: r.created_at)[:visible_reactions]
    modified = max([msg.created_at, *(r.created_at for r in reactions)])
    author = people.get(msg.author_id)
    parent = msg.reply_to_id or msg.id
    created_ms = int(msg.created_at.timestamp() * 1000)
    channel_q = quote(msg.channel_id, safe="")
    body: dict[str, Any] = {}
    if delta:
        body["@odata.type"] = "#microsoft.graph.chatMessage"
    body.update(
        {
            "id": msg.id,
            "replyToId": msg.reply_to_id,
            "etag": str(int(modified.timestamp() * 1000)),
            "messageType": "message",
            "createdDateTime": ts_ms(msg.created_at),
            "lastModifiedDateTime": ts_ms(modified),
            "lastEditedDateTime": None,
            "deletedDateTime": None,
            "subject": None,
            "summary": None,
            "chatId": None,
            "importance": "normal",
            "locale": "en-us",
            "webUrl": (
                f"https://teams.microsoft.com/l/message/{channel_q}/{msg.id}?groupId={msg.team_id}"
                f"&tenantId={tenant_id}&createdTime={created_ms}&parentMessageId={parent}"
            ),
            "policyViolation": None,
            "eventDetail": None,
            "from": {
                "application": None,
                "device": None,
                "conversation": None,
                "user": {
                    "@odata.type": "#microsoft.graph.teamworkUserIdentity",
                    "id": msg.author_id,
                    "displayName": author.display_name if author else None,
                    "userIdentityType": "aadUser",
                    "tenantId": tenant_id,
                },
            },
            "body": {"contentType": "html", "content": msg.body_html},
            "channelIdentity": {"teamId": msg.team_id, "channelId": msg.channel_id},
            "attachments": [],
            "mentions": [
                {
                    "id": i,
                    "mentionText": people[uid].display_name if uid in people else uid,
                    "mentioned": {
                        "application": None,
                        "device": None,
                        "conversation": None,
                        "user": {
                            "id": uid,
                            "displayName": people[uid].display_name if uid in people else None,
                            "userIdentityType": "aadUser",
                        },
                    },
                }
                for i, uid in enumerate(msg.mention_ids)
            ],
            "reactions": [
                {
                    "reactionType": r.reaction_type,
                    "createdDateTime": ts_ms(r.created_at),
                    "displayName": REACTION_NAMES.get(r.reaction_type, r.reaction_type.title()),
                    "reactionContentUrl": None,
                    "user": {
                        "application": None,
                        "device": None,
                        "user": {
                            "@odata.type": "#microsoft.graph.teamworkUserIdentity",
                            "id": r.user_id,
                            "displayName": None,
                            "userIdentityType": "aadUser",
                        },
                    },
                }
                for r in reactions
            ],
            "messageHistory": [
                {
                    "modifiedDateTime": ts_ms(r.created_at),
                    "actions": "reactionAdded",
                    "reaction": {
                        "reactionType": r.reaction_type,
                        "createdDateTime": ts_ms(r.created_at),
                        "displayName": REACTION_NAMES.get(r.reaction_type, r.reaction_type.title()),
                        "reactionContentUrl": None,
                        "user": {"application": None, "device": None, "user": {"id": r.user_id, "displayName": None}},
                    },
                }
                for r in reactions
            ],
        }
    )
    return body


def channel_json(
    channel_id: str, name: str, *, team_id: str, tenant_id: str, created: datetime, index: int
) -> dict[str, Any]:
    return {
        "id": channel_id,
        "createdDateTime": ts_ms(created),
        "displayName": name,
        "description": None if index else "General channel",
        "isFavoriteByDefault": None,
        "email": "",
        "webUrl": (
            f"https://teams.microsoft.com/l/channel/{quote(channel_id, safe='')}/{quote(name)}"
            f"?groupId={team_id}&tenantId={tenant_id}"
        ),
        "membershipType": "standard",
        "tenantId": tenant_id,
    }


def _split_name(display_name: str) -> tuple[str, str]:
    given, _, surname = display_name.partition(" ")
    return given, surname or given


def education_user_json(person: Person, *, created_by: tuple[str, str], created_at: datetime) -> dict[str, Any]:
    given, surname = _split_name(person.display_name)
    mail_nickname = person.upn.split("@", 1)[0]
    body: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.educationUser",
        "id": person.id,
        "primaryRole": person.role,
        "middleName": None,
        "externalSource": "sis",
        "externalSourceDetail": "District SIS",
        "residenceAddress": {"city": None, "countryOrRegion": None, "postalCode": None, "state": None, "street": None},
        "mailingAddress": {"city": None, "countryOrRegion": None, "postalCode": None, "state": None, "street": None},
        "createdBy": {"user": {"displayName": created_by[1], "id": created_by[0]}},
        "accountEnabled": True,
        "assignedLicenses": [],
        "assignedPlans": [],
        "businessPhones": [],
        "department": None,
        "displayName": person.display_name,
        "givenName": given,
        "mail": person.upn,
        "mailNickname": mail_nickname,
        "mobilePhone": None,
        "passwordPolicies": None,
        "passwordProfile": None,
        "officeLocation": None,
        "preferredLanguage": "en-US",
        "provisionedPlans": [],
        "refreshTokensValidFromDateTime": ts_7(created_at),
        "showInAddressList": True,
        "surname": surname,
        "usageLocation": "US",
        "userPrincipalName": person.upn,
        "userType": "Member",
        "onPremisesInfo": {"immutableId": None},
    }
    if person.role == "student":
        grad = None
        if person.grade and person.grade.isdigit():
            grad = str(created_at.year + 12 - int(person.grade) + (1 if created_at.month >= 7 else 0))
        body["student"] = {
            "birthDate": None,
            "externalId": person.external_id,
            "gender": None,
            "grade": person.grade,
            "graduationYear": grad,
            "studentNumber": person.external_id,
        }
        body["teacher"] = {"externalId": None, "teacherNumber": None}  # Graph returns the other role's object empty
    else:
        body["student"] = {
            "birthDate": None,
            "externalId": None,
            "gender": None,
            "grade": None,
            "graduationYear": None,
            "studentNumber": None,
        }
        body["teacher"] = {"externalId": person.external_id, "teacherNumber": person.external_id}
    return body


def class_json(cls: SchoolClass, *, created_by: tuple[str, str], term_start: date, term_end: date) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.educationClass",
        "id": cls.id,
        "description": f"{cls.subject} · grade {cls.grade}",
        "classCode": cls.class_code or cls.id[:8],
        "createdBy": {"user": {"displayName": created_by[1], "id": created_by[0]}},
        "displayName": cls.display_name,
        "externalId": cls.class_code or cls.id,
        "externalName": cls.display_name,
        "externalSource": "sis",
        "externalSourceDetail": "District SIS",
        "grade": cls.grade,
        "mailNickname": cls.mail_nickname or re.sub(r"[^A-Za-z0-9]", "", cls.display_name)[:40],
        "term": {
            "externalId": cls.term,
            "startDate": term_start.isoformat(),
            "endDate": term_end.isoformat(),
            "displayName": cls.term,
        },
        "course": {
            "subject": cls.subject,
            "displayName": cls.subject,
            "courseNumber": None,
            "description": None,
            "externalId": None,
        },
    }


def school_json(school_id: str, name: str, external_id: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.educationSchool",
        "id": school_id,
        "displayName": name,
        "description": None,
        "externalSource": "sis",
        "externalSourceDetail": "District SIS",
        "principalEmail": None,
        "principalName": None,
        "externalPrincipalId": None,
        "lowestGrade": None,
        "highestGrade": None,
        "schoolNumber": external_id,
        "externalId": external_id,
        "phone": None,
        "fax": None,
        "address": {"city": None, "countryOrRegion": None, "postalCode": None, "state": None, "street": None},
        "createdBy": None,
    }


def _points(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def resource_json(asg: Assignment, index: int, teacher_id: str) -> dict[str, Any]:
    res = asg.resources[index]
    inner: dict[str, Any] = {
        "@odata.type": f"#microsoft.graph.{res.kind}",
        "displayName": res.display_name,
        "createdDateTime": ts_7(asg.created_at),
        "lastModifiedDateTime": ts_7(asg.created_at),
        "createdBy": identity_set(teacher_id),
        "lastModifiedBy": identity_set(teacher_id),
    }
    if res.kind == "educationLinkResource":
        inner["link"] = res.url
    elif res.kind in (
        "educationFileResource",
        "educationWordResource",
        "educationExcelResource",
        "educationPowerPointResource",
    ):
        inner["fileUrl"] = res.url
    elif res.url is not None:
        inner["link"] = res.url
    return {"distributeForStudentWork": False, "id": stable_id(asg.id, "resource", str(index)), "resource": inner}


def assignment_json(
    asg: Assignment, *, now: datetime, teacher_id: str, channel_id: str | None, delta: bool = False
) -> dict[str, Any]:
    assigned = asg.assigned_at <= now
    body: dict[str, Any] = {"@odata.type": "#microsoft.graph.educationAssignment"} if delta else {}
    body.update(
        {
            "classId": asg.class_id,
            "displayName": asg.display_name,
            "closeDateTime": None,
            "dueDateTime": ts_7(asg.due_at),
            "assignDateTime": ts_7(asg.assigned_at),
            "assignedDateTime": ts_7(asg.assigned_at) if assigned else None,
            "allowLateSubmissions": True,
            "resourcesFolderUrl": None,
            "createdDateTime": ts_7(asg.created_at),
            "lastModifiedDateTime": ts_7(asg.assigned_at if assigned else asg.created_at),
            "allowStudentsToAddResourcesToSubmission": True,
            "status": "assigned" if assigned else "draft",
            "notificationChannelUrl": (
                f"https://graph.microsoft.com/v1.0/teams/{asg.class_id}/channels/{channel_id}" if channel_id else None
            ),
            "webUrl": f"https://teams.microsoft.com/l/entity/66aeee93-507d-479a-a3ef-8f494af43945/classroom?assignmentId={asg.id}",
            "addToCalendarAction": "none",
            "addedStudentAction": "none",
            "grading": (
                {
                    "@odata.type": "#microsoft.graph.educationAssignmentPointsGradeType",
                    "maxPoints": _points(asg.max_points),
                }
                if asg.max_points is not None
                else None
            ),
            "id": asg.id,
            "instructions": {"content": "", "contentType": "text"},
            "assignTo": {"@odata.type": "#microsoft.graph.educationAssignmentClassRecipient"},
            "createdBy": identity_set(teacher_id),
            "lastModifiedBy": identity_set(teacher_id),
        }
    )
    return body


def outcomes_json(
    sub: Submission, asg: Assignment, *, now: datetime, teacher_id: str, grades: bool
) -> list[dict[str, Any]]:
    returned = sub.returned_at is not None and sub.returned_at <= now
    when = ts_7(sub.returned_at) if returned else None
    by = identity_set(teacher_id) if returned else None
    feedback = None
    if returned and grades and sub.feedback_text:
        feedback = {
            "text": {"content": sub.feedback_text, "contentType": "text"},
            "feedbackDateTime": when,
            "feedbackBy": identity_set(teacher_id),
        }
    outcomes: list[dict[str, Any]] = [
        {
            "@odata.type": "#microsoft.graph.educationFeedbackOutcome",
            "lastModifiedDateTime": when if feedback else None,
            "id": stable_id(sub.id, "feedback"),
            "lastModifiedBy": by if feedback else None,
            "feedback": feedback,
            "publishedFeedback": feedback,
        }
    ]
    if asg.max_points is not None:
        points = None
        if returned and grades and sub.points is not None:
            points = {
                "@odata.type": "#microsoft.graph.educationAssignmentPointsGrade",
                "points": _points(sub.points),
                "gradedBy": identity_set(teacher_id),
                "gradedDateTime": when,
            }
        outcomes.append(
            {
                "@odata.type": "#microsoft.graph.educationPointsOutcome",
                "lastModifiedDateTime": when if points else None,
                "id": stable_id(sub.id, "points"),
                "lastModifiedBy": by if points else None,
                "points": points,
                "publishedPoints": points,
            }
        )
    return outcomes


def submission_json(sub: Submission, *, now: datetime, teacher_id: str) -> dict[str, Any]:
    submitted = sub.submitted_at is not None and sub.submitted_at <= now
    returned = sub.returned_at is not None and sub.returned_at <= now
    status = "returned" if returned else "submitted" if submitted else "working"
    return {
        "status": status,
        "submittedDateTime": ts_7(sub.submitted_at) if submitted else None,
        "unsubmittedDateTime": None,
        "returnedDateTime": ts_7(sub.returned_at) if returned else None,
        "reassignedDateTime": None,
        "excusedDateTime": None,
        "resourcesFolderUrl": None,
        "webUrl": None,
        "id": sub.id,
        "recipient": {
            "@odata.type": "#microsoft.graph.educationSubmissionIndividualRecipient",
            "userId": sub.student_id,
        },
        "submittedBy": identity_set(sub.student_id if submitted else None),
        "unsubmittedBy": identity_set(None),
        "returnedBy": identity_set(teacher_id if returned else None),
        "reassignedBy": None,
        "excusedBy": None,
    }


# ---------------------------------------------------------------------------------------------------------------------
# indexes: district-wide (always in memory) and per team (LRU)
# ---------------------------------------------------------------------------------------------------------------------
ROSTER_LEAD = timedelta(days=7)  # classes and people are synced from the SIS a week before term


class DistrictIndex:
    """Roster lookups and visibility times derived once from the District."""

    def __init__(self, district: District) -> None:
        cal = district.calendar
        self.tz = ZoneInfo(cal.timezone)
        self.term_start_at = self.day_start(cal.term_start)
        self.roster_at = self.term_start_at - ROSTER_LEAD
        self.class_ids = sorted(district.classes)
        self.people_ids = sorted(district.people)
        self.school_ids = sorted(district.schools)
        self.school_classes: dict[str, list[str]] = {}
        for cid in self.class_ids:
            self.school_classes.setdefault(district.classes[cid].school_id, []).append(cid)
        self.user_visible_at: dict[str, datetime] = {}
        self.class_joins: dict[str, list[tuple[datetime, str]]] = {}
        self.member_join_at: dict[str, dict[str, datetime]] = {}
        for cid, enrollments in district.enrollments.items():
            joins = sorted((max(self.day_start(e.joined_on), self.roster_at), e.user_id) for e in enrollments)
            self.class_joins[cid] = joins
            self.member_join_at[cid] = {uid: at for at, uid in joins}
            for at, uid in joins:
                first = at if at > self.term_start_at else self.roster_at
                if uid not in self.user_visible_at or first < self.user_visible_at[uid]:
                    self.user_visible_at[uid] = first
        self.teacher_of: dict[str, str] = {
            cid: (c.teacher_ids[0] if c.teacher_ids else "") for cid, c in district.classes.items()
        }
        self.admin = (stable_id(district.tenant_id, "sis-sync"), "SIS Sync")

    def day_start(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.tz).astimezone(UTC)

    def visible_user(self, user_id: str, now: datetime) -> bool:
        return self.user_visible_at.get(user_id, self.roster_at) <= now


@dataclass(slots=True)
class TeamView:
    """One team's activity, ordered for serving; built lazily and dropped by the LRU."""

    team_id: str
    is_class: bool
    posts: dict[str, list[Message]]  # channel id -> top-level posts, created ascending
    replies: dict[str, list[Message]]  # post id -> replies, created ascending
    reaction_times: dict[str, list[datetime]]  # message id -> reaction times ascending
    by_id: dict[str, Message]
    assignments: list[Assignment] = field(default_factory=list)
    assignments_by_id: dict[str, Assignment] = field(default_factory=dict)
    submissions: dict[str, list[Submission]] = field(default_factory=dict)  # assignment id -> submissions
    submissions_by_id: dict[str, Submission] = field(default_factory=dict)
    notebook_edits: list[NotebookEdit] = field(default_factory=list)
    json_cache: dict[tuple[str, int, bool], dict[str, Any]] = field(default_factory=dict)
    fragment_cache: dict[tuple[str, int, bool], orjson.Fragment] = field(default_factory=dict)
    notebook: ClassNotebook | None = None
    post_times: dict[str, list[datetime]] = field(default_factory=dict)  # channel id -> created times ascending

    @classmethod
    def build(cls, team_id: str, messages: Iterable[Message], activity: ClassActivity | None) -> TeamView:
        posts: dict[str, list[Message]] = {}
        replies: dict[str, list[Message]] = {}
        by_id: dict[str, Message] = {}
        reactions: dict[str, list[datetime]] = {}
        for m in sorted(messages, key=lambda m: (m.created_at, m.id)):
            by_id[m.id] = m
            reactions[m.id] = sorted(r.created_at for r in m.reactions)
            if m.reply_to_id is None:
                posts.setdefault(m.channel_id, []).append(m)
            else:
                replies.setdefault(m.reply_to_id, []).append(m)
        view = cls(team_id, activity is not None, posts, replies, reactions, by_id)
        view.post_times = {ch: [m.created_at for m in ps] for ch, ps in posts.items()}
        if activity is not None:
            view.assignments = sorted(activity.assignments, key=lambda a: (a.created_at, a.id))
            view.assignments_by_id = {a.id: a for a in view.assignments}
            for s in activity.submissions:
                view.submissions.setdefault(s.assignment_id, []).append(s)
                view.submissions_by_id[s.id] = s
            for subs in view.submissions.values():
                subs.sort(key=lambda s: s.student_id)
            view.notebook_edits = sorted(activity.notebook_edits, key=lambda e: (e.edited_at, e.user_id))
        return view

    def visible_posts(self, channel_id: str, now: datetime) -> int:
        """How many of the channel's posts (oldest first) exist at ``now``."""
        return bisect.bisect_right(self.post_times.get(channel_id, []), now)

    def visible_reactions(self, msg_id: str, now: datetime) -> int:
        return bisect.bisect_right(self.reaction_times[msg_id], now)

    def modified_at(self, msg: Message, now: datetime) -> datetime:
        k = self.visible_reactions(msg.id, now)
        return max(msg.created_at, self.reaction_times[msg.id][k - 1]) if k else msg.created_at

    def chain_changed_at(self, post: Message, now: datetime) -> datetime:
        latest = self.modified_at(post, now)
        for reply in self.replies.get(post.id, ()):
            if reply.created_at > now:
                break
            latest = max(latest, self.modified_at(reply, now))
        return latest


@dataclass(frozen=True, slots=True)
class NotebookSection:
    id: str
    name: str
    group_id: str
    edits: tuple[tuple[datetime, str], ...]  # (edited at, user id), ascending


@dataclass(frozen=True, slots=True)
class NotebookGroup:
    id: str
    name: str
    owner_id: str | None  # the student a student section group belongs to
    sections: tuple[NotebookSection, ...]


@dataclass(frozen=True, slots=True)
class ClassNotebook:
    """A class notebook as a group notebook: one section group per student plus the shared spaces."""

    id: str
    class_id: str
    name: str
    teacher_id: str
    groups: tuple[NotebookGroup, ...]

    @classmethod
    def build(
        cls, school_class: SchoolClass, students: Sequence[tuple[str, str]], edits: Sequence[NotebookEdit]
    ) -> ClassNotebook:
        teacher = school_class.teacher_ids[0] if school_class.teacher_ids else ""
        by_group: dict[str, dict[str, list[tuple[datetime, str]]]] = {}
        student_group: dict[str, str] = {}
        collab_group = None
        for e in edits:
            by_group.setdefault(e.section_group_id, {}).setdefault(e.section_id, []).append((e.edited_at, e.user_id))
            if e.space == "student":
                student_group.setdefault(e.user_id, e.section_group_id)
            elif collab_group is None:
                collab_group = e.section_group_id

        def sections(group_id: str, names: Sequence[str]) -> tuple[NotebookSection, ...]:
            found = by_group.get(group_id, {})
            ordered = sorted(found, key=lambda sid: (min(found[sid])[0], sid))
            if not ordered:
                return (NotebookSection(stable_id(group_id, names[0]), names[0], group_id, ()),)
            return tuple(
                NotebookSection(
                    sid, names[i] if i < len(names) else f"Section {i + 1}", group_id, tuple(sorted(found[sid]))
                )
                for i, sid in enumerate(ordered)
            )

        groups: list[NotebookGroup] = []
        for student_id, name in sorted(students, key=lambda s: (s[1], s[0])):
            gid = student_group.get(student_id) or stable_id(school_class.id, "notebook", student_id)
            groups.append(NotebookGroup(gid, name, student_id, sections(gid, STUDENT_SECTIONS)))
        collab = collab_group or stable_id(school_class.id, "notebook", "collaboration")
        groups.append(NotebookGroup(collab, "_Collaboration Space", None, sections(collab, COLLAB_SECTIONS)))
        for name, section in (("_Content Library", "Welcome"), ("_Teacher Only", "Lesson Plans")):
            gid = stable_id(school_class.id, "notebook", name)
            groups.append(NotebookGroup(gid, name, None, sections(gid, (section,))))
        return cls(
            stable_id(school_class.id, "notebook"),
            school_class.id,
            f"{school_class.display_name} Notebook",
            teacher,
            tuple(groups),
        )


STUDENT_SECTIONS = ("Class Notes", "Homework", "Quizzes", "Handouts")
COLLAB_SECTIONS = ("Group Work", "Projects", "Brainstorm", "Lab Notes")


@dataclass(slots=True)
class FormsIndex:
    """Who created and who answered which form, across the district (for the report and the audit log)."""

    created: dict[str, list[tuple[datetime, str]]]  # creator id -> (created at, form id)
    responses: list[tuple[datetime, str, str, str]]  # (at, user id, form id, operation), ascending
    responded: dict[str, list[tuple[datetime, str]]]  # user id -> (at, form id)


@dataclass(slots=True)
class AuditQuery:
    body: dict[str, Any]
    polls: int = 0
    records: list[tuple[datetime, str, str, str]] | None = None


# ---------------------------------------------------------------------------------------------------------------------
# the tenant: state + handlers (each handler is sync and pure over the snapshot "as of" a simulated instant)
# ---------------------------------------------------------------------------------------------------------------------
class GraphTenant:
    def __init__(self, config: GraphConfig) -> None:
        self.config = config
        self.district = config.district
        self.clock = config.clock
        self.throttler = config.throttler
        self.identity = config.identity
        self.index = DistrictIndex(config.district)
        self.codec = TokenCodec(config.token_secret)
        self._views: OrderedDict[str, TeamView] = OrderedDict()
        self.activity_builds = 0  # how many times an activity was generated (tests check the LRU bounds it)
        self._forms: FormsIndex | None = None
        self._forms_lock = threading.Lock()  # heavy routes run in worker threads; build the index once
        self._report_rows: OrderedDict[tuple[str, str, str], list[dict[str, Any]]] = OrderedDict()
        self._audit: dict[str, AuditQuery] = {}
        self._csv_reports: dict[str, str] = {}

    @property
    def cached_team_ids(self) -> tuple[str, ...]:
        """Teams whose activity is in memory now, least recently used first."""
        return tuple(self._views)

    # ----- lookups ----------------------------------------------------------------------------------------------
    def team(self, team_id: str) -> TeamView:
        view = self._views.get(team_id)
        if view is not None:
            self._views.move_to_end(team_id)
            return view
        if team_id in self.district.classes:
            activity = self.config.class_activity(self.district, team_id)
            view = TeamView.build(team_id, activity.messages, activity)
        elif team_id in self.district.communities:
            community = self.config.community_activity(self.district, team_id)
            view = TeamView.build(team_id, community.messages, None)
        else:
            raise GraphError(404, "NotFound", f"No team found with Group Id {team_id}.")
        self.activity_builds += 1
        self._views[team_id] = view
        while len(self._views) > self.config.activity_cache_size:
            self._views.popitem(last=False)
        return view

    def channels_of(self, team_id: str) -> list[tuple[str, str]]:
        if team_id in self.district.classes:
            return [(c.id, c.display_name) for c in self.district.classes[team_id].channels]
        if team_id in self.district.communities:
            ch = self.district.communities[team_id].channel
            return [(ch.id, ch.display_name)]
        raise GraphError(404, "NotFound", f"No team found with Group Id {team_id}.")

    def school_class(self, class_id: str) -> SchoolClass:
        cls = self.district.classes.get(class_id)
        if cls is None:
            raise GraphError(404, "NotFound", f"Resource not found: no educationClass with id '{class_id}'.")
        return cls

    def person_ref(self, user_id: str) -> tuple[str, str]:
        p = self.district.people.get(user_id)
        return (user_id, p.display_name if p else "")

    # ----- paging -----------------------------------------------------------------------------------------------
    def state(self, req: GraphRequest, default_top: int, max_top: int) -> dict[str, Any]:
        token = req.query.get("$skiptoken")
        if token:
            return self.codec.decode(token, req.path, PAGE_KEYS)
        return {
            "o": 0,
            "a": self.clock.now.isoformat(),
            "t": parse_top(req.query, default_top, max_top),
            "x": sorted(expands(req.query)),
        }

    def page(
        self,
        req: GraphRequest,
        state: dict[str, Any],
        items: Sequence[Any],
        to_json: Callable[[Any], dict[str, Any] | orjson.Fragment],
        *,
        family: str,
        context: str,
        final: Mapping[str, str] | None = None,
        keep: tuple[str, ...] = (),
    ) -> GraphResponse:
        """One page of ``items`` from the state's offset; ``keep`` names query parameters nextLinks repeat."""
        offset, top = int(state["o"]), int(state["t"])
        body: dict[str, Any] = {"@odata.context": context}
        kept = "".join(f"{k}={quote(req.query[k], safe='/')}&" for k in keep if k in req.query)
        if offset < len(items) and self.throttler.empty_page(family):
            body["value"] = []
            body["@odata.nextLink"] = f"{req.root}{req.path}?{kept}$skiptoken={self.codec.encode(state, req.path)}"
            return GraphResponse(200, body)
        body["value"] = [to_json(x) for x in items[offset : offset + top]]
        if offset + top < len(items):
            body["@odata.nextLink"] = (
                f"{req.root}{req.path}?{kept}$skiptoken={self.codec.encode({**state, 'o': offset + top}, req.path)}"
            )
        elif final:
            body.update(final)
        return GraphResponse(200, body)

    @staticmethod
    def asof(state: Mapping[str, Any]) -> datetime:
        return datetime.fromisoformat(state["a"])

    # ----- Teams ------------------------------------------------------------------------------------------------
    def list_channels(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        team = p["team"]
        chans = self.channels_of(team)
        value = [
            channel_json(
                cid, name, team_id=team, tenant_id=self.district.tenant_id, created=self.index.roster_at, index=i
            )
            for i, (cid, name) in enumerate(chans)
        ]
        return GraphResponse(
            200,
            {
                "@odata.context": f"{req.root}/$metadata#teams('{team}')/channels",
                "@odata.count": len(value),
                "value": value,
            },
        )

    def _channel_posts(self, team: str, channel: str) -> tuple[TeamView, list[Message]]:
        if channel not in {cid for cid, _ in self.channels_of(team)}:
            raise GraphError(404, "NotFound", f"Channel {channel} was not found in team {team}.")
        view = self.team(team)
        return view, view.posts.get(channel, [])

    def message_json(self, view: TeamView, msg: Message, now: datetime, *, delta: bool = False) -> dict[str, Any]:
        k = view.visible_reactions(msg.id, now)
        key = (msg.id, k, delta)
        cached = view.json_cache.get(key)
        if cached is None:
            cached = message_json(
                msg, tenant_id=self.district.tenant_id, people=self.district.people, visible_reactions=k, delta=delta
            )
            view.json_cache[key] = cached
        return cached

    def message_fragment(self, view: TeamView, msg: Message, now: datetime, *, delta: bool = False) -> orjson.Fragment:
        """The message already encoded: list pages splice these in instead of re-encoding 50 messages per page."""
        key = (msg.id, view.visible_reactions(msg.id, now), delta)
        fragment = view.fragment_cache.get(key)
        if fragment is None:
            encoded = orjson.dumps(self.message_json(view, msg, now, delta=delta))
            fragment = view.fragment_cache[key] = orjson.Fragment(encoded)
        return fragment

    def _with_replies(self, view: TeamView, post: Message, now: datetime, delta: bool) -> dict[str, Any]:
        body = dict(self.message_json(view, post, now, delta=delta))
        replies = [r for r in view.replies.get(post.id, ()) if r.created_at <= now]
        body["replies"] = [self.message_json(view, r, now, delta=delta) for r in replies[:1000]]
        return body

    def list_messages(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        view, posts = self._channel_posts(p["team"], p["channel"])
        state = self.state(req, MESSAGES_TOP_DEFAULT, MESSAGES_TOP_MAX)
        now = self.asof(state)
        visible = posts[: view.visible_posts(p["channel"], now)][::-1]  # newest first
        expand = "replies" in state["x"]

        def to_json(m: Message) -> dict[str, Any] | orjson.Fragment:
            return self._with_replies(view, m, now, False) if expand else self.message_fragment(view, m, now)

        ctx = f"{req.root}/$metadata#teams('{p['team']}')/channels('{_quoted(p['channel'])}')/messages"
        resp = self.page(req, state, visible, to_json, family=fam.TEAMS_MESSAGES, context=ctx)
        resp.body["@odata.count"] = len(resp.body["value"])
        return resp

    def get_message(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        view, _ = self._channel_posts(p["team"], p["channel"])
        msg = view.by_id.get(p["message"])
        now = self.clock.now
        if msg is None or msg.created_at > now or msg.channel_id != p["channel"]:
            raise GraphError(404, "NotFound", f"Message {p['message']} was not found in this channel.")
        return GraphResponse(
            200, {"@odata.context": f"{req.root}/$metadata#chatMessage", **self.message_json(view, msg, now)}
        )

    def list_replies(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        view, _ = self._channel_posts(p["team"], p["channel"])
        post = view.by_id.get(p["message"])
        state = self.state(req, MESSAGES_TOP_DEFAULT, MESSAGES_TOP_MAX)
        now = self.asof(state)
        if post is None or post.created_at > now or post.reply_to_id is not None:
            raise GraphError(404, "NotFound", f"Message {p['message']} was not found in this channel.")
        replies = [r for r in reversed(view.replies.get(post.id, [])) if r.created_at <= now]
        ctx = (
            f"{req.root}/$metadata#teams('{p['team']}')/channels('{quote(p['channel'], safe='')}')"
            f"/messages('{post.id}')/replies"
        )
        resp = self.page(
            req, state, replies, lambda r: self.message_fragment(view, r, now), family=fam.TEAMS_MESSAGES, context=ctx
        )
        resp.body["@odata.count"] = len(replies)
        return resp

    def messages_delta(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        view, posts = self._channel_posts(p["team"], p["channel"])
        if "$deltatoken" in req.query:
            saved = self.codec.decode(req.query["$deltatoken"], req.path, DELTA_KEYS)
            state = {"o": 0, "a": self.clock.now.isoformat(), "t": saved["t"], "x": saved["x"], "s": saved["s"]}
        elif "$skiptoken" in req.query:
            state = self.codec.decode(req.query["$skiptoken"], req.path, PAGE_KEYS)
        else:
            since = None
            raw = req.query.get("$filter")
            if raw:
                match = re.fullmatch(r"\s*lastModifiedDateTime\s+gt\s+'?([^']+?)'?\s*", raw)
                if not match:
                    raise GraphError(
                        400,
                        "BadRequest",
                        f"Unsupported $filter '{raw}': delta supports only 'lastModifiedDateTime gt <date-time>'.",
                    )
                try:
                    since = parse_instant(match.group(1)).isoformat()
                except ClockError as exc:
                    raise GraphError(400, "BadRequest", str(exc)) from exc
            state = {
                "o": 0,
                "a": self.clock.now.isoformat(),
                "t": parse_top(req.query, MESSAGES_TOP_MAX, MESSAGES_TOP_MAX),
                "x": sorted(expands(req.query)),
                "s": since,
            }
        until = self.asof(state)
        window = minus_months(until, DELTA_WINDOW_MONTHS)
        since_at = datetime.fromisoformat(state["s"]) if state.get("s") else None
        changed: list[tuple[datetime, str, Message]] = []
        for post in posts:
            if post.created_at > until:
                break
            at = view.chain_changed_at(post, until)
            if at >= window and (since_at is None or at > since_at):
                changed.append((at, post.id, post))
        changed.sort(key=lambda c: (c[0], c[1]))
        expand = "replies" in state["x"]

        def to_json(item: tuple[datetime, str, Message]) -> dict[str, Any] | orjson.Fragment:
            post = item[2]
            return (
                self._with_replies(view, post, until, True)
                if expand
                else self.message_fragment(view, post, until, delta=True)
            )

        delta_token = self.codec.encode({"s": state["a"], "t": state["t"], "x": state["x"]}, req.path)
        path = req.path
        final = {"@odata.deltaLink": f"{req.root}{path}?$deltatoken={delta_token}"}
        return self.page(
            req,
            state,
            changed,
            to_json,
            family=fam.TEAMS_MESSAGES,
            context=f"{req.root}/$metadata#Collection(chatMessage)",
            final=final,
        )

    # ----- Education roster -------------------------------------------------------------------------------------
    def _user_json(self, user_id: str) -> dict[str, Any]:
        person = self.district.people[user_id]
        return education_user_json(
            person,
            created_by=self.index.admin,
            created_at=self.index.user_visible_at.get(user_id, self.index.roster_at),
        )

    def _class_json(self, class_id: str) -> dict[str, Any]:
        cal = self.district.calendar
        return class_json(
            self.district.classes[class_id],
            created_by=self.index.admin,
            term_start=cal.term_start,
            term_end=cal.term_end,
        )

    def list_classes(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        state = self.state(req, EDU_TOP_DEFAULT, EDU_TOP_MAX)
        now = self.asof(state)
        ids = self.index.class_ids if self.index.roster_at <= now else []
        return self.page(
            req, state, ids, self._class_json, family=fam.EDUCATION, context=f"{req.root}/$metadata#education/classes"
        )

    def get_class(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        self.school_class(p["class"])
        return GraphResponse(
            200, {"@odata.context": f"{req.root}/$metadata#education/classes/$entity", **self._class_json(p["class"])}
        )

    def _members(self, class_id: str, now: datetime, role: str | None) -> list[str]:
        self.school_class(class_id)
        joins = self.index.member_join_at.get(class_id, {})
        people = self.district.people
        return sorted(
            uid
            for uid, at in joins.items()
            if at <= now and uid in people and (role is None or people[uid].role == role)
        )

    def list_members(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        state = self.state(req, EDU_TOP_DEFAULT, EDU_TOP_MAX)
        ids = self._members(p["class"], self.asof(state), None)
        ctx = f"{req.root}/$metadata#education/classes('{p['class']}')/members"
        return self.page(req, state, ids, self._user_json, family=fam.EDUCATION, context=ctx)

    def list_teachers(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        state = self.state(req, EDU_TOP_DEFAULT, EDU_TOP_MAX)
        cls = self.school_class(p["class"])
        ids = sorted(set(self._members(p["class"], self.asof(state), "teacher")) | set(cls.teacher_ids))
        ctx = f"{req.root}/$metadata#education/classes('{p['class']}')/teachers"
        return self.page(req, state, ids, self._user_json, family=fam.EDUCATION, context=ctx)

    def list_schools(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        state = self.state(req, EDU_TOP_DEFAULT, EDU_TOP_MAX)
        schools = self.district.schools

        def to_json(sid: str) -> dict[str, Any]:
            s = schools[sid]
            return school_json(s.id, s.display_name, s.external_id)

        return self.page(
            req,
            state,
            self.index.school_ids,
            to_json,
            family=fam.EDUCATION,
            context=f"{req.root}/$metadata#education/schools",
        )

    def list_school_classes(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        if p["school"] not in self.district.schools:
            raise GraphError(404, "NotFound", f"Resource not found: no educationSchool with id '{p['school']}'.")
        state = self.state(req, EDU_TOP_DEFAULT, EDU_TOP_MAX)
        ids = self.index.school_classes.get(p["school"], [])
        ctx = f"{req.root}/$metadata#education/schools('{p['school']}')/classes"
        return self.page(req, state, ids, self._class_json, family=fam.EDUCATION, context=ctx)

    def list_users(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        state = self.state(req, EDU_TOP_DEFAULT, EDU_TOP_MAX)
        now = self.asof(state)
        ids = [uid for uid in self.index.people_ids if self.index.visible_user(uid, now)]
        return self.page(
            req, state, ids, self._user_json, family=fam.EDUCATION, context=f"{req.root}/$metadata#education/users"
        )

    def get_user(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        uid = p["user"]
        if uid not in self.district.people or not self.index.visible_user(uid, self.clock.now):
            raise GraphError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{uid}' does not exist or one of its queried reference-property objects are not present.",
            )
        return GraphResponse(
            200, {"@odata.context": f"{req.root}/$metadata#education/users/$entity", **self._user_json(uid)}
        )

    def _delta_state(self, req: GraphRequest, default_top: int, max_top: int) -> dict[str, Any]:
        if "$deltatoken" in req.query:
            saved = self.codec.decode(req.query["$deltatoken"], req.path, DELTA_KEYS)
            return {"o": 0, "a": self.clock.now.isoformat(), "t": saved["t"], "x": [], "s": saved["s"]}
        if "$skiptoken" in req.query:
            return self.codec.decode(req.query["$skiptoken"], req.path, PAGE_KEYS)
        return {
            "o": 0,
            "a": self.clock.now.isoformat(),
            "t": parse_top(req.query, default_top, max_top),
            "x": [],
            "s": None,
        }

    def _delta_final(self, req: GraphRequest, state: Mapping[str, Any]) -> dict[str, str]:
        token = self.codec.encode({"s": state["a"], "t": state["t"], "x": state["x"]}, req.path)
        return {"@odata.deltaLink": f"{req.root}{req.path}?$deltatoken={token}"}

    def users_delta(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        state = self._delta_state(req, EDU_TOP_DEFAULT, EDU_TOP_MAX)
        until = self.asof(state)
        since = datetime.fromisoformat(state["s"]) if state.get("s") else None
        changed = sorted(
            (at, uid)
            for uid in self.index.people_ids
            if (at := self.index.user_visible_at.get(uid, self.index.roster_at)) <= until
            and (since is None or at > since)
        )
        return self.page(
            req,
            state,
            changed,
            lambda item: self._user_json(item[1]),
            family=fam.EDUCATION,
            context=f"{req.root}/$metadata#Collection(educationUser)",
            final=self._delta_final(req, state),
        )

    def classes_delta(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        state = self._delta_state(req, EDU_TOP_DEFAULT, EDU_TOP_MAX)
        until = self.asof(state)
        since = datetime.fromisoformat(state["s"]) if state.get("s") else None
        changed: list[tuple[datetime, str, list[str]]] = []
        for cid in self.index.class_ids:
            if since is None:
                if self.index.roster_at <= until:
                    changed.append((self.index.roster_at, cid, []))
                continue
            joins = self.index.class_joins.get(cid, [])
            lo = bisect.bisect_right(joins, (since, "\uffff"))
            hi = bisect.bisect_right(joins, (until, "\uffff"))
            if hi > lo:
                changed.append((joins[hi - 1][0], cid, [uid for _, uid in joins[lo:hi]]))
        changed.sort(key=lambda c: (c[0], c[1]))

        def to_json(item: tuple[datetime, str, list[str]]) -> dict[str, Any]:
            body = self._class_json(item[1])
            if item[2]:
                body["members@delta"] = [
                    {"@odata.type": "#microsoft.graph.educationUser", "id": uid} for uid in item[2]
                ]
            return body

        return self.page(
            req,
            state,
            changed,
            to_json,
            family=fam.EDUCATION,
            context=f"{req.root}/$metadata#Collection(educationClass)",
            final=self._delta_final(req, state),
        )

    # ----- Assignments ------------------------------------------------------------------------------------------
    def _class_view(self, class_id: str) -> tuple[SchoolClass, TeamView]:
        return self.school_class(class_id), self.team(class_id)

    def _assignment_json(
        self, cls: SchoolClass, asg: Assignment, now: datetime, expand: Iterable[str], delta: bool = False
    ) -> dict[str, Any]:
        teacher = self.index.teacher_of.get(cls.id, "")
        body = assignment_json(
            asg, now=now, teacher_id=teacher, channel_id=cls.channels[0].id if cls.channels else None, delta=delta
        )
        if "resources" in expand or "*" in expand:
            body["resources"] = [resource_json(asg, i, teacher) for i in range(len(asg.resources))]
        return body

    def list_assignments(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        cls, view = self._class_view(p["class"])
        state = self.state(req, EDU_TOP_DEFAULT, EDU_TOP_MAX)
        now = self.asof(state)
        items = [a for a in view.assignments if a.created_at <= now]
        expand = state["x"]
        suffix = "(resources())" if "resources" in expand else ""
        ctx = f"{req.root}/$metadata#education/classes('{cls.id}')/assignments{suffix}"
        return self.page(
            req, state, items, lambda a: self._assignment_json(cls, a, now, expand), family=fam.ASSIGNMENTS, context=ctx
        )

    def _assignment(self, view: TeamView, assignment_id: str, now: datetime) -> Assignment:
        asg = view.assignments_by_id.get(assignment_id)
        if asg is None or asg.created_at > now:
            raise GraphError(404, "NotFound", f"Resource not found: no educationAssignment with id '{assignment_id}'.")
        return asg

    def get_assignment(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        cls, view = self._class_view(p["class"])
        now = self.clock.now
        asg = self._assignment(view, p["assignment"], now)
        return GraphResponse(
            200,
            {
                "@odata.context": f"{req.root}/$metadata#education/classes('{cls.id}')/assignments/$entity",
                **self._assignment_json(cls, asg, now, expands(req.query)),
            },
        )

    def list_resources(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        cls, view = self._class_view(p["class"])
        state = self.state(req, EDU_TOP_DEFAULT, EDU_TOP_MAX)
        asg = self._assignment(view, p["assignment"], self.asof(state))
        teacher = self.index.teacher_of.get(cls.id, "")
        ctx = f"{req.root}/$metadata#education/classes('{cls.id}')/assignments('{asg.id}')/resources"
        return self.page(
            req,
            state,
            list(range(len(asg.resources))),
            lambda i: resource_json(asg, i, teacher),
            family=fam.ASSIGNMENTS,
            context=ctx,
        )

    def assignments_delta(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        cls, view = self._class_view(p["class"])
        unsupported = [k for k in req.query if k not in ("$top", "$skiptoken", "$deltatoken")]
        if unsupported:
            raise GraphError(
                400, "BadRequest", f"Assignments delta only supports $top; remove {', '.join(unsupported)}."
            )
        state = self._delta_state(req, EDU_TOP_DEFAULT, EDU_TOP_MAX)
        until = self.asof(state)
        since = datetime.fromisoformat(state["s"]) if state.get("s") else None

        def modified(a: Assignment) -> datetime:
            return a.assigned_at if a.assigned_at <= until else a.created_at

        changed = sorted(
            (
                (modified(a), a.id, a)
                for a in view.assignments
                if a.created_at <= until and (since is None or modified(a) > since)
            ),
            key=lambda c: (c[0], c[1]),
        )
        return self.page(
            req,
            state,
            changed,
            lambda c: self._assignment_json(cls, c[2], until, (), delta=True),
            family=fam.ASSIGNMENTS,
            context=f"{req.root}/$metadata#Collection(educationAssignment)",
            final=self._delta_final(req, state),
        )

    def list_submissions(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        cls, view = self._class_view(p["class"])
        state = self.state(req, EDU_TOP_DEFAULT, EDU_TOP_MAX)
        now = self.asof(state)
        asg = self._assignment(view, p["assignment"], now)
        subs = view.submissions.get(asg.id, []) if asg.assigned_at <= now else []
        teacher = self.index.teacher_of.get(cls.id, "")
        grades = bool(req.principal.granted() & set(PERM_GRADES))
        expand = state["x"]
        with_outcomes = "outcomes" in expand or "*" in expand

        def to_json(s: Submission) -> dict[str, Any]:
            body = submission_json(s, now=now, teacher_id=teacher)
            if with_outcomes:
                body["outcomes"] = outcomes_json(s, asg, now=now, teacher_id=teacher, grades=grades)
            return body

        suffix = "(outcomes())" if with_outcomes else ""
        ctx = f"{req.root}/$metadata#education/classes('{cls.id}')/assignments('{asg.id}')/submissions{suffix}"
        return self.page(req, state, subs, to_json, family=fam.ASSIGNMENTS, context=ctx)

    def list_outcomes(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        cls, view = self._class_view(p["class"])
        state = self.state(req, EDU_TOP_DEFAULT, EDU_TOP_MAX)
        now = self.asof(state)
        asg = self._assignment(view, p["assignment"], now)
        sub = view.submissions_by_id.get(p["submission"])
        if sub is None or sub.assignment_id != asg.id or asg.assigned_at > now:
            raise GraphError(
                404, "NotFound", f"Resource not found: no educationSubmission with id '{p['submission']}'."
            )
        grades = bool(req.principal.granted() & set(PERM_GRADES))
        items = outcomes_json(sub, asg, now=now, teacher_id=self.index.teacher_of.get(cls.id, ""), grades=grades)
        ctx = (
            f"{req.root}/$metadata#education/classes('{cls.id}')/assignments('{asg.id}')"
            f"/submissions('{sub.id}')/outcomes"
        )
        return self.page(req, state, items, lambda o: o, family=fam.ASSIGNMENTS, context=ctx)

    # ----- OneNote (delegated only) -----------------------------------------------------------------------------
    def notebook(self, group_id: str) -> ClassNotebook | None:
        if group_id in self.district.communities:
            return None
        cls = self.school_class(group_id) if group_id in self.district.classes else None
        if cls is None:
            raise GraphError(404, "ResourceNotFound", f"The group '{group_id}' was not found.")
        view = self.team(group_id)
        if view.notebook is None:
            people = self.district.people
            students = [
                (uid, people[uid].display_name)
                for uid in self.index.member_join_at.get(group_id, {})
                if uid in people and people[uid].role == "student"
            ]
            view.notebook = ClassNotebook.build(cls, students, view.notebook_edits)
        return view.notebook

    def _onenote_state(self, req: GraphRequest) -> dict[str, Any]:
        try:
            skip = int(req.query.get("$skip", "0"))
        except ValueError as exc:
            raise GraphError(400, "BadRequest", f"Invalid $skip value '{req.query['$skip']}'.") from exc
        return {
            "o": max(0, skip),
            "a": self.clock.now.isoformat(),
            "t": parse_top(req.query, ONENOTE_TOP_DEFAULT, ONENOTE_TOP_MAX),
            "x": [],
        }

    def _onenote_page(
        self, req: GraphRequest, items: Sequence[Any], to_json: Callable[[Any], dict[str, Any]], context: str
    ) -> GraphResponse:
        state = self._onenote_state(req)
        offset, top = state["o"], state["t"]
        body: dict[str, Any] = {"@odata.context": context, "value": [to_json(x) for x in items[offset : offset + top]]}
        if offset + top < len(items):
            body["@odata.nextLink"] = f"{req.root}{req.path}?$top={top}&$skip={offset + top}"
        return GraphResponse(200, body)

    def _nb_entity(
        self,
        req: GraphRequest,
        nb: ClassNotebook,
        kind: str,
        entity_id: str,
        name: str,
        created: datetime,
        modified: tuple[datetime, str],
    ) -> dict[str, Any]:
        creator, editor = self.person_ref(nb.teacher_id), self.person_ref(modified[1])
        return {
            "id": entity_id,
            "self": f"{req.root}/groups/{nb.class_id}/onenote/{kind}/{entity_id}",
            "displayName": name,
            "createdDateTime": ts_ms(created),
            "lastModifiedDateTime": ts_ms(modified[0]),
            "createdBy": {"user": {"id": creator[0], "displayName": creator[1]}},
            "lastModifiedBy": {"user": {"id": editor[0], "displayName": editor[1]}},
        }

    def _nb_visible(self, nb: ClassNotebook, group_id: str, now: datetime) -> list[NotebookGroup]:
        joins = self.index.member_join_at.get(group_id, {})
        return [g for g in nb.groups if g.owner_id is None or joins.get(g.owner_id, self.index.roster_at) <= now]

    def _section_modified(self, nb: ClassNotebook, section: NotebookSection, now: datetime) -> tuple[datetime, str]:
        k = bisect.bisect_right(section.edits, (now, "\uffff"))
        return section.edits[k - 1] if k else (self.index.roster_at, nb.teacher_id)

    def _group_modified(self, nb: ClassNotebook, group: NotebookGroup, now: datetime) -> tuple[datetime, str]:
        return max(self._section_modified(nb, s, now) for s in group.sections)

    def list_notebooks(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        nb, now = self.notebook(p["group"]), self.clock.now
        items = [nb] if nb is not None else []

        def to_json(n: ClassNotebook) -> dict[str, Any]:
            groups = self._nb_visible(n, p["group"], now)
            body = self._nb_entity(
                req,
                n,
                "notebooks",
                n.id,
                n.name,
                self.index.roster_at,
                max(self._group_modified(n, g, now) for g in groups),
            )
            body.update(
                isDefault=False,
                userRole="Reader",
                isShared=True,
                sectionsUrl=f"{req.root}/groups/{p['group']}/onenote/notebooks/{n.id}/sections",
                sectionGroupsUrl=f"{req.root}/groups/{p['group']}/onenote/notebooks/{n.id}/sectionGroups",
                links={
                    "oneNoteClientUrl": {"href": f"onenote:https://example.sharepoint.com/{n.id}"},
                    "oneNoteWebUrl": {"href": f"https://example.sharepoint.com/{n.id}"},
                },
            )
            return body

        return self._onenote_page(req, items, to_json, f"{req.root}/$metadata#groups('{p['group']}')/onenote/notebooks")

    def _group_json(self, req: GraphRequest, nb: ClassNotebook, g: NotebookGroup, now: datetime) -> dict[str, Any]:
        body = self._nb_entity(
            req, nb, "sectionGroups", g.id, g.name, self.index.roster_at, self._group_modified(nb, g, now)
        )
        body.update(
            sectionsUrl=f"{req.root}/groups/{nb.class_id}/onenote/sectionGroups/{g.id}/sections",
            sectionGroupsUrl=f"{req.root}/groups/{nb.class_id}/onenote/sectionGroups/{g.id}/sectionGroups",
            parentNotebook={
                "id": nb.id,
                "displayName": nb.name,
                "self": f"{req.root}/groups/{nb.class_id}/onenote/notebooks/{nb.id}",
            },
            parentSectionGroup=None,
        )
        return body

    def _section_json(
        self, req: GraphRequest, nb: ClassNotebook, s: NotebookSection, group: NotebookGroup, now: datetime
    ) -> dict[str, Any]:
        body = self._nb_entity(
            req, nb, "sections", s.id, s.name, self.index.roster_at, self._section_modified(nb, s, now)
        )
        body.update(
            isDefault=False,
            pagesUrl=f"{req.root}/groups/{nb.class_id}/onenote/sections/{s.id}/pages",
            links={
                "oneNoteClientUrl": {"href": f"onenote:https://example.sharepoint.com/{s.id}"},
                "oneNoteWebUrl": {"href": f"https://example.sharepoint.com/{s.id}"},
            },
            parentNotebook={
                "id": nb.id,
                "displayName": nb.name,
                "self": f"{req.root}/groups/{nb.class_id}/onenote/notebooks/{nb.id}",
            },
            parentSectionGroup={
                "id": group.id,
                "displayName": group.name,
                "self": f"{req.root}/groups/{nb.class_id}/onenote/sectionGroups/{group.id}",
            },
        )
        return body

    def list_section_groups(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        nb, now = self.notebook(p["group"]), self.clock.now
        groups = self._nb_visible(nb, p["group"], now) if nb else []
        if p.get("notebook") and (nb is None or p["notebook"] != nb.id):
            raise GraphError(404, "ResourceNotFound", f"The notebook '{p['notebook']}' was not found.")
        return self._onenote_page(
            req,
            groups,
            lambda g: self._group_json(req, nb, g, now),
            f"{req.root}/$metadata#groups('{p['group']}')/onenote/sectionGroups",
        )

    def list_sections(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        nb, now = self.notebook(p["group"]), self.clock.now
        groups = self._nb_visible(nb, p["group"], now) if nb else []
        if p.get("sectionGroup"):
            groups = [g for g in groups if g.id == p["sectionGroup"]]
            if not groups:
                raise GraphError(404, "ResourceNotFound", f"The section group '{p['sectionGroup']}' was not found.")
        items = [(s, g) for g in groups for s in g.sections]
        return self._onenote_page(
            req,
            items,
            lambda sg: self._section_json(req, nb, sg[0], sg[1], now),
            f"{req.root}/$metadata#groups('{p['group']}')/onenote/sections",
        )

    def list_pages(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        nb, now = self.notebook(p["group"]), self.clock.now
        groups = self._nb_visible(nb, p["group"], now) if nb else []
        pages: list[tuple[datetime, str, NotebookSection]] = []
        for g in groups:
            for s in g.sections:
                if p.get("section") and s.id != p["section"]:
                    continue
                pages.extend((at, uid, s) for at, uid in s.edits if at <= now)
        pages.sort(key=lambda x: (x[0], x[1]), reverse=True)

        def to_json(item: tuple[datetime, str, NotebookSection]) -> dict[str, Any]:
            at, uid, s = item
            pid = stable_id(s.id, uid, at.isoformat())
            return {
                "id": pid,
                "self": f"{req.root}/groups/{p['group']}/onenote/pages/{pid}",
                "title": f"{s.name} {at.date().isoformat()}",
                "createdByAppId": "",
                "links": {
                    "oneNoteClientUrl": {"href": f"onenote:https://example.sharepoint.com/{pid}"},
                    "oneNoteWebUrl": {"href": f"https://example.sharepoint.com/{pid}"},
                },
                "contentUrl": f"{req.root}/groups/{p['group']}/onenote/pages/{pid}/content",
                "createdDateTime": ts_ms(at),
                "lastModifiedDateTime": ts_ms(at),
                "level": 0,
                "order": 0,
                "parentSection": {
                    "id": s.id,
                    "displayName": s.name,
                    "self": f"{req.root}/groups/{p['group']}/onenote/sections/{s.id}",
                },
            }

        return self._onenote_page(req, pages, to_json, f"{req.root}/$metadata#groups('{p['group']}')/onenote/pages")

    # ----- Forms: usage report (beta) and audit log (v1.0) ------------------------------------------------------
    def forms_index(self) -> FormsIndex:
        """Walks every class once (without touching the LRU); heavy, so routes using it run in a worker thread."""
        with self._forms_lock:
            if self._forms is None:
                self._forms = self._build_forms_index()
            return self._forms

    def _build_forms_index(self) -> FormsIndex:
        first_created: dict[str, tuple[datetime, str]] = {}
        responses: list[tuple[datetime, str, str, str]] = []
        for cid in self.index.class_ids:
            activity = self.config.class_activity(self.district, cid)
            teacher = self.index.teacher_of.get(cid, "")
            for a in activity.assignments:
                if a.form_id and (a.form_id not in first_created or a.created_at < first_created[a.form_id][0]):
                    first_created[a.form_id] = (a.created_at, teacher)
            for m in activity.messages:
                if m.form_id and (m.form_id not in first_created or m.created_at < first_created[m.form_id][0]):
                    first_created[m.form_id] = (m.created_at, m.author_id)
            responses.extend((r.responded_at, r.user_id, r.form_id, r.operation) for r in activity.form_responses)
        created: dict[str, list[tuple[datetime, str]]] = {}
        for form_id, (at, creator) in first_created.items():
            created.setdefault(creator, []).append((at, form_id))
        for items in created.values():
            items.sort()
        responses.sort()
        responded: dict[str, list[tuple[datetime, str]]] = {}
        for at, uid, form_id, _ in responses:
            responded.setdefault(uid, []).append((at, form_id))
        return FormsIndex(created, responses, responded)

    def _report_window(self, p: dict[str, str], now: datetime) -> tuple[date, date, int]:
        refresh = (now - timedelta(days=1)).date()
        if p.get("period"):
            period = p["period"]
            if period not in ("D7", "D30", "D90", "D180"):
                raise GraphError(400, "BadRequest", f"Invalid period '{period}': use D7, D30, D90 or D180.")
            days = int(period[1:])
            return refresh - timedelta(days=days - 1), refresh, days
        try:
            day = date.fromisoformat(p["date"])
        except ValueError as exc:
            raise GraphError(400, "BadRequest", f"Invalid date '{p['date']}': use YYYY-MM-DD.") from exc
        if not refresh - timedelta(days=29) <= day <= refresh:
            raise GraphError(
                400, "BadRequest", f"Date {day} is out of range: the date form covers only the past 30 days."
            )
        return day, day, 1

    def forms_report_rows(self, p: dict[str, str], now: datetime) -> list[dict[str, Any]]:
        """All rows of one report as of ``now``; memoised since every page needs them."""
        key = (p.get("period", ""), p.get("date", ""), now.isoformat())
        rows = self._report_rows.get(key)
        if rows is None:
            rows = self._report_rows[key] = self._compute_report_rows(p, now)
            while len(self._report_rows) > 4:
                self._report_rows.popitem(last=False)
        return rows

    def _compute_report_rows(self, p: dict[str, str], now: datetime) -> list[dict[str, Any]]:
        start, end, days = self._report_window(p, now)
        forms = self.forms_index()
        rows = []
        people = self.district.people
        for uid in sorted(people, key=lambda u: people[u].upn.lower()):
            created = {f for at, f in forms.created.get(uid, ()) if start <= at.date() <= end}
            responded = {f for at, f in forms.responded.get(uid, ()) if start <= at.date() <= end}
            activity = [
                at.date() for at, _ in (*forms.created.get(uid, ()), *forms.responded.get(uid, ())) if at.date() <= end
            ]
            rows.append(
                {
                    "reportRefreshDate": end.isoformat(),
                    "userPrincipalName": people[uid].upn,
                    "lastActivityDate": max(activity).isoformat() if activity else "",
                    "formsUsageUserDetailsByPeriod": [
                        {"reportPeriod": days, "createdCount": len(created), "respondedCount": len(responded)}
                    ],
                }
            )
        return rows

    def forms_report(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        fmt = req.query.get("$format", "text/csv")
        if fmt != "application/json":
            rows = self.forms_report_rows(p, self.clock.now)
            lines = [
                "Report Refresh Date,User Principal Name,Last Activity Date,Created Count,Responded Count,Report Period"
            ]
            lines += [
                f"{r['reportRefreshDate']},{r['userPrincipalName']},{r['lastActivityDate']},"
                f"{r['formsUsageUserDetailsByPeriod'][0]['createdCount']},{r['formsUsageUserDetailsByPeriod'][0]['respondedCount']},"
                f"{r['formsUsageUserDetailsByPeriod'][0]['reportPeriod']}"
                for r in rows
            ]
            key = uuid.uuid4().hex
            self._csv_reports[key] = "\ufeff" + "\r\n".join(lines) + "\r\n"
            while len(self._csv_reports) > 32:
                self._csv_reports.pop(next(iter(self._csv_reports)))
            return GraphResponse(302, None, {"Location": f"{req.base}/_sim/reports/{key}.csv"})
        state = self.state(req, REPORT_PAGE, REPORT_PAGE)
        rows = self.forms_report_rows(p, self.asof(state))
        return self.page(
            req,
            state,
            rows,
            lambda r: r,
            keep=("$format",),
            family=fam.REPORTS_JSON,
            context=f"{req.root}/$metadata#Collection(microsoft.graph.formsUserActivityUserDetail)",
        )

    def csv_report(self, key: str) -> str | None:
        return self._csv_reports.get(key)

    def create_audit_query(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        body = req.body if isinstance(req.body, dict) else None
        if body is None:
            raise GraphError(
                400, "BadRequest", "Send a JSON auditLogQuery body with filterStartDateTime and filterEndDateTime."
            )
        try:
            start = parse_instant(str(body["filterStartDateTime"]))
            end = parse_instant(str(body["filterEndDateTime"]))
        except (KeyError, ClockError) as exc:
            raise GraphError(
                400, "BadRequest", f"filterStartDateTime and filterEndDateTime must be ISO 8601 date-times ({exc})."
            ) from exc
        if end <= start:
            raise GraphError(400, "BadRequest", "filterEndDateTime must be after filterStartDateTime.")
        qid = str(uuid.uuid4())
        query = {
            "id": qid,
            "displayName": body.get("displayName"),
            "filterStartDateTime": ts_7(start),
            "filterEndDateTime": ts_7(end),
            "recordTypeFilters": list(body.get("recordTypeFilters") or []),
            "keywordFilter": body.get("keywordFilter"),
            "serviceFilter": body.get("serviceFilter"),
            "operationFilters": list(body.get("operationFilters") or []),
            "userPrincipalNameFilters": list(body.get("userPrincipalNameFilters") or []),
            "ipAddressFilters": list(body.get("ipAddressFilters") or []),
            "objectIdFilters": list(body.get("objectIdFilters") or []),
            "administrativeUnitIdFilters": list(body.get("administrativeUnitIdFilters") or []),
            "status": "notStarted",
        }
        self._audit[qid] = AuditQuery(query)
        return GraphResponse(
            201, {"@odata.context": f"{req.root}/$metadata#security/auditLog/queries/$entity", **query}
        )

    def _audit_query(self, qid: str) -> AuditQuery:
        q = self._audit.get(qid)
        if q is None:
            raise GraphError(
                404, "NotFound", f"No audit log query with id '{qid}'. Create one with POST /security/auditLog/queries."
            )
        return q

    def get_audit_query(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        q = self._audit_query(p["query"])
        q.polls += 1
        if q.polls >= 2 and q.records is None:
            q.records = self._audit_records(q.body)
        q.body["status"] = "running" if q.polls == 1 else "succeeded"
        return GraphResponse(
            200, {"@odata.context": f"{req.root}/$metadata#security/auditLog/queries/$entity", **q.body}
        )

    def list_audit_queries(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        return GraphResponse(
            200,
            {
                "@odata.context": f"{req.root}/$metadata#security/auditLog/queries",
                "value": [q.body for q in self._audit.values()],
            },
        )

    def _audit_records(self, query: Mapping[str, Any]) -> list[tuple[datetime, str, str, str]]:
        """The matching Forms responses (compact tuples; records are rendered per page to bound memory)."""
        types = {str(t).lower() for t in query["recordTypeFilters"]}
        ops = {str(o).lower() for o in query["operationFilters"]}
        upns = {str(u).lower() for u in query["userPrincipalNameFilters"]}
        service = str(query.get("serviceFilter") or "").lower()
        if (types and "microsoftforms" not in types) or (service and service != "microsoftforms"):
            return []
        start, end = parse_instant(query["filterStartDateTime"]), parse_instant(query["filterEndDateTime"])
        end = min(end, self.clock.now)
        people = self.district.people
        matched = []
        forms = self.forms_index()
        lo = bisect.bisect_left(forms.responses, (start,))
        for response in forms.responses[lo:]:
            at, uid, _, operation = response
            if at > end:
                break
            upn = people[uid].upn if uid in people else uid
            if (ops and operation.lower() not in ops) or (upns and upn.lower() not in upns):
                continue
            matched.append(response)
        return matched

    def _audit_record_json(self, response: tuple[datetime, str, str, str]) -> dict[str, Any]:
        at, uid, form_id, operation = response
        tenant = self.district.tenant_id
        person = self.district.people.get(uid)
        upn = person.upn if person else uid
        rid = stable_id("audit", uid, form_id, at.isoformat())
        response_id = stable_id("response", uid, form_id, at.isoformat())
        return {
            "id": rid,
            "createdDateTime": ts_7(at),
            "auditLogRecordType": "microsoftForms",
            "operation": operation,
            "organizationId": tenant,
            "userType": "regular",
            "userId": upn,
            "service": "MicrosoftForms",
            "objectId": f"https://forms.office.com/Pages/ResponsePage.aspx?id={form_id}",
            "userPrincipalName": upn,
            "clientIp": None,
            "administrativeUnits": [],
            "auditData": {
                "@odata.type": "#microsoft.graph.security.microsoftFormsAuditRecord",
                "CreationTime": at.strftime("%Y-%m-%dT%H:%M:%S"),
                "Id": rid,
                "Operation": operation,
                "OrganizationId": tenant,
                "RecordType": 66,
                "UserKey": uid,
                "UserType": 0,
                "Version": 1,
                "Workload": "MicrosoftForms",
                "UserId": upn,
                "ObjectId": f"https://forms.office.com/Pages/ResponsePage.aspx?id={form_id}",
                "FormId": form_id,
                "ResponseId": response_id,
                "ResponderId": uid,
                "IsInternalForm": True,
            },
        }

    def list_audit_records(self, req: GraphRequest, p: dict[str, str]) -> GraphResponse:
        q = self._audit_query(p["query"])
        if q.records is None:
            raise GraphError(
                400,
                "BadRequest",
                f"Audit log query {p['query']} has status '{q.body['status']}': "
                "poll it until 'succeeded', then read its records.",
            )
        state = self.state(req, AUDIT_TOP_DEFAULT, 1000)
        ctx = f"{req.root}/$metadata#security/auditLog/queries('{p['query']}')/records"
        return self.page(req, state, q.records, self._audit_record_json, family=fam.AUDIT, context=ctx)


# ---------------------------------------------------------------------------------------------------------------------
# routes as data, one dispatcher (shared by top-level requests and $batch items)
# ---------------------------------------------------------------------------------------------------------------------
Handler = Callable[[GraphTenant, GraphRequest, dict[str, str]], GraphResponse]


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    family: str
    permissions: tuple[str, ...]
    versions: frozenset[str] = frozenset({"v1.0", "beta"})
    delegated_only: bool = False
    heavy: bool = False  # walks the whole district: run in a worker thread


def _route(
    name: str, method: str, template: str, handler: Handler, family: str, permissions: tuple[str, ...], **kw: Any
) -> Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template.replace("(", r"\(").replace(")", r"\)").replace("$", r"\$"))
    regex = regex.replace("/delta", r"/delta(?:\(\))?")
    return Route(name, method, re.compile(f"^{regex}$"), handler, family, permissions, **kw)


T = GraphTenant
MSG = "/teams/{team}/channels/{channel}/messages"
CLS = "/education/classes/{class}"
ASG = CLS + "/assignments/{assignment}"
NOTE = "/groups/{group}/onenote"
BETA = frozenset({"beta"})
FORMS_REPORT = "/reports/getFormsUserActivityUserDetail"


def _teams(name: str, template: str, handler: Handler) -> Route:
    return _route(name, "GET", template, handler, fam.TEAMS_MESSAGES, PERM_MESSAGES)


def _roster(name: str, template: str, handler: Handler) -> Route:
    return _route(name, "GET", template, handler, fam.EDUCATION, PERM_ROSTER)


def _assign(name: str, template: str, handler: Handler) -> Route:
    return _route(name, "GET", template, handler, fam.ASSIGNMENTS, PERM_ASSIGNMENTS)


def _notes(name: str, template: str, handler: Handler) -> Route:
    return _route(name, "GET", template, handler, fam.ONENOTE, PERM_NOTES, delegated_only=True)


ROUTES: tuple[Route, ...] = (
    _route("channels", "GET", "/teams/{team}/channels", T.list_channels, fam.TEAMS_CHANNELS, PERM_CHANNELS),
    _teams("messages.delta", MSG + "/delta", T.messages_delta),
    _teams("messages", MSG, T.list_messages),
    _teams("message", MSG + "/{message}", T.get_message),
    _teams("replies", MSG + "/{message}/replies", T.list_replies),
    _roster("classes.delta", "/education/classes/delta", T.classes_delta),
    _roster("classes", "/education/classes", T.list_classes),
    _roster("class", CLS, T.get_class),
    _roster("members", CLS + "/members", T.list_members),
    _roster("teachers", CLS + "/teachers", T.list_teachers),
    _roster("schools", "/education/schools", T.list_schools),
    _roster("school.classes", "/education/schools/{school}/classes", T.list_school_classes),
    _roster("users.delta", "/education/users/delta", T.users_delta),
    _roster("users", "/education/users", T.list_users),
    _roster("user", "/education/users/{user}", T.get_user),
    _assign("assignments.delta", CLS + "/assignments/delta", T.assignments_delta),
    _assign("assignments", CLS + "/assignments", T.list_assignments),
    _assign("assignment", ASG, T.get_assignment),
    _assign("resources", ASG + "/resources", T.list_resources),
    _assign("submissions", ASG + "/submissions", T.list_submissions),
    _assign("outcomes", ASG + "/submissions/{submission}/outcomes", T.list_outcomes),
    _notes("onenote.notebooks", NOTE + "/notebooks", T.list_notebooks),
    _notes("onenote.sectionGroups", NOTE + "/sectionGroups", T.list_section_groups),
    _notes("onenote.notebook.sectionGroups", NOTE + "/notebooks/{notebook}/sectionGroups", T.list_section_groups),
    _notes("onenote.sections", NOTE + "/sections", T.list_sections),
    _notes("onenote.sectionGroup.sections", NOTE + "/sectionGroups/{sectionGroup}/sections", T.list_sections),
    _notes("onenote.pages", NOTE + "/pages", T.list_pages),
    _notes("onenote.section.pages", NOTE + "/sections/{section}/pages", T.list_pages),
    _route(
        "reports.forms",
        "GET",
        FORMS_REPORT + "(period='{period}')",
        T.forms_report,
        fam.REPORTS_JSON,
        PERM_REPORTS,
        versions=BETA,
        heavy=True,
    ),
    _route(
        "reports.forms.date",
        "GET",
        FORMS_REPORT + "(date={date})",
        T.forms_report,
        fam.REPORTS_JSON,
        PERM_REPORTS,
        versions=BETA,
        heavy=True,
    ),
    _route("audit.create", "POST", "/security/auditLog/queries", T.create_audit_query, fam.AUDIT, PERM_AUDIT),
    _route("audit.list", "GET", "/security/auditLog/queries", T.list_audit_queries, fam.AUDIT, PERM_AUDIT),
    _route(
        "audit.get", "GET", "/security/auditLog/queries/{query}", T.get_audit_query, fam.AUDIT, PERM_AUDIT, heavy=True
    ),
    _route(
        "audit.records",
        "GET",
        "/security/auditLog/queries/{query}/records",
        T.list_audit_records,
        fam.AUDIT,
        PERM_AUDIT,
    ),
)


_MATCHED: OrderedDict[tuple[str, str, str], tuple[Route, dict[str, str]]] = OrderedDict()


def match_route(method: str, version: str, path: str) -> tuple[Route, dict[str, str]]:
    """Find the route; successful matches are memoised (paging repeats the same path with other query strings)."""
    key = (method, version, path)
    hit = _MATCHED.get(key)
    if hit is not None:
        return hit[0], dict(hit[1])
    route, params = _match_route(method, version, path)
    _MATCHED[key] = (route, params)
    if len(_MATCHED) > 8192:
        _MATCHED.popitem(last=False)
    return route, dict(params)


def _match_route(method: str, version: str, path: str) -> tuple[Route, dict[str, str]]:
    allowed = False
    for route in ROUTES:
        m = route.pattern.match(path)
        if m is None or version not in route.versions:
            continue
        if route.method != method:
            allowed = True
            continue
        return route, m.groupdict()
    if allowed:
        raise GraphError(405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed for {path}.")
    segment = path.rstrip("/").rsplit("/", 1)[-1] or path
    raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}' ({version}{path}).")


def authorize(route: Route, principal: Principal) -> None:
    if route.delegated_only and principal.app_only:
        # Wording and code as reported against the real service (msgraph-sdk-dotnet issue #2939, 2025-06); the
        # status there is not shown, 403 is this simulator's choice.
        raise GraphError(
            403,
            "40001",
            "The request does not contain a valid authentication token. Detailed error information: To improve the "
            "security of our customers' data, this API will no longer support app-only tokens starting from March 31st "
            "2025. Customers may still call these APIs using delegated (app+user) tokens. Please refer to this link: "
            "https://learn.microsoft.com/en-us/graph/auth-v2-user",
        )
    if not principal.granted() & set(route.permissions):
        kind = "role" if principal.app_only else "scope"
        have = ", ".join(sorted(principal.granted())) or "none"
        raise GraphError(
            403,
            "Forbidden",
            f"Missing {kind} permissions on the request. API requires one of '{', '.join(route.permissions)}'. "
            f"{kind.title()}s on the request '{have}'. Grant one of them to the app and get a new token.",
        )


def throttled_response(verdict: Verdict) -> GraphResponse:
    headers = {"Retry-After": verdict.retry_after} if verdict.retry_after is not None else {}
    if verdict.status == 429:
        body = error_body("TooManyRequests", "Please retry again later.")
        body["error"]["innerError"]["code"] = "429"
        return GraphResponse(429, body, headers)
    code = "serviceNotAvailable" if verdict.status == 503 else "gatewayTimeout"
    return GraphResponse(
        verdict.status, error_body(code, "The service is temporarily unavailable. Retry with backoff."), headers
    )


async def dispatch(tenant: GraphTenant, req: GraphRequest, *, transport_faults: bool) -> tuple[GraphResponse, Verdict]:
    """Route, authorize, throttle and run one Graph request; transport faults are left to the caller."""
    try:
        route, params = match_route(req.method, req.version, req.path)
        authorize(route, req.principal)
        scope = (params["team"], params["channel"]) if route.family == fam.TEAMS_MESSAGES else ()
        verdict = tenant.throttler.decide(
            route.family,
            route.name,
            app_id=req.principal.app_id,
            user_id=req.principal.user_id,
            scope=scope,
            transport_faults=transport_faults,
        )
        if verdict.kind in ("throttle", "error"):
            return throttled_response(verdict), verdict
        if verdict.kind == "slow":
            await asyncio.sleep(verdict.delay)
        if route.heavy:
            response = await asyncio.to_thread(route.handler, tenant, req, params)
        else:
            response = route.handler(tenant, req, params)
        return response, verdict
    except GraphError as exc:
        return GraphResponse(exc.status, error_body(exc.code, exc.message), exc.headers), Verdict()


async def run_batch(tenant: GraphTenant, outer: GraphRequest) -> GraphResponse:
    body = outer.body
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        raise GraphError(400, "BadRequest", "A $batch body needs a non-empty 'requests' array.")
    if len(requests) > BATCH_MAX:
        raise GraphError(
            400,
            "BadRequest",
            f"Number of batch request steps exceeds the maximum of {BATCH_MAX} ({len(requests)} sent); "
            "split the batch.",
        )
    ids = [str(r.get("id", "")) if isinstance(r, dict) else "" for r in requests]
    if "" in ids:
        raise GraphError(400, "BadRequest", "Every batch request needs an 'id', a 'method' and a 'url'.")
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise GraphError(400, "BadRequest", f"Batch request ids must be unique; '{dup}' is used more than once.")
    by_id = dict(zip(ids, requests, strict=True))
    for item in requests:
        for dep in item.get("dependsOn") or []:
            if dep not in by_id:
                raise GraphError(400, "BadRequest", f"Request '{item['id']}' depends on unknown request id '{dep}'.")
    order: list[str] = []
    visiting: set[str] = set()

    def visit(rid: str) -> None:
        if rid in order:
            return
        if rid in visiting:
            raise GraphError(400, "BadRequest", f"Batch dependsOn has a cycle through '{rid}'.")
        visiting.add(rid)
        for dep in by_id[rid].get("dependsOn") or []:
            visit(dep)
        visiting.discard(rid)
        order.append(rid)

    for rid in ids:
        visit(rid)
    statuses: dict[str, int] = {}
    responses: list[dict[str, Any]] = []
    for rid in order:
        item = by_id[rid]
        failed = [d for d in item.get("dependsOn") or [] if statuses.get(d, 0) >= 400]
        if failed:
            statuses[rid] = 424
            responses.append(
                {
                    "id": rid,
                    "status": 424,
                    "headers": {"Content-Type": "application/json"},
                    "body": error_body("FailedDependency", f"Depends on failed request(s) {', '.join(failed)}."),
                }
            )
            continue
        sub = _batch_item_request(outer, item)
        if isinstance(sub, GraphResponse):
            resp = sub
        else:
            resp, _ = await dispatch(tenant, sub, transport_faults=False)
        statuses[rid] = resp.status
        headers = {"Content-Type": "application/json", **resp.headers} if resp.body is not None else dict(resp.headers)
        entry: dict[str, Any] = {"id": rid, "status": resp.status, "headers": headers}
        if resp.body is not None:
            entry["body"] = resp.body
        responses.append(entry)
    return GraphResponse(200, {"responses": responses})


def _batch_item_request(outer: GraphRequest, item: Mapping[str, Any]) -> GraphRequest | GraphResponse:
    url = str(item.get("url", ""))
    method = str(item.get("method", "GET")).upper()
    if url.startswith(("http://", "https://")):
        parts = urlsplit(url)
        path, query = parts.path, parts.query
        prefix = f"/{outer.version}"
        path = path[len(prefix) :] if path.startswith(prefix) else path
    else:
        path, _, query = url.partition("?")
        path = "/" + path.lstrip("/")
    if path == "/$batch":
        return GraphResponse(400, error_body("BadRequest", "A $batch cannot contain another $batch."))
    return GraphRequest(
        method,
        outer.version,
        path,
        dict(parse_qsl(query, keep_blank_values=True)),
        outer.base,
        outer.principal,
        item.get("body"),
    )


# ---------------------------------------------------------------------------------------------------------------------
# aiohttp application
# ---------------------------------------------------------------------------------------------------------------------
CONFIG = web.AppKey("graph_config", GraphConfig)
TENANT = web.AppKey("graph_tenant", GraphTenant)


def _json_response(resp: GraphResponse, client_request_id: str | None) -> web.Response:
    headers = {
        "request-id": str(uuid.uuid4()),
        "client-request-id": client_request_id or str(uuid.uuid4()),
        **resp.headers,
    }
    if resp.body is None:
        return web.Response(status=resp.status, headers=headers)
    headers["Content-Type"] = GRAPH_JSON
    return web.Response(status=resp.status, body=orjson.dumps(resp.body), headers=headers)


async def graph_handler(request: web.Request) -> web.StreamResponse:
    tenant = request.app[TENANT]
    version = request.match_info["version"]
    path = "/" + request.match_info["tail"]
    client_request_id = request.headers.get("client-request-id")
    try:
        principal = tenant.identity.principal_from_header(request.headers.get("Authorization"))
    except AuthError as exc:
        return _json_response(GraphResponse(exc.status, error_body(exc.code, exc.message)), client_request_id)
    body: Any = None
    if request.can_read_body:
        raw = await request.read()
        if raw:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return _json_response(
                    GraphResponse(400, error_body("BadRequest", "The request body is not valid JSON.")),
                    client_request_id,
                )
    req = GraphRequest(
        request.method, version, path, request.query, f"{request.scheme}://{request.host}", principal, body
    )
    if path == "/$batch" and request.method == "POST":
        try:
            resp = await run_batch(tenant, req)
        except GraphError as exc:
            resp = GraphResponse(exc.status, error_body(exc.code, exc.message))
        return _json_response(resp, client_request_id)
    resp, verdict = await dispatch(tenant, req, transport_faults=True)
    if verdict.kind == "reset":
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError  # nothing more to send: the client sees a dropped connection
    if verdict.kind == "truncate":
        return await _send_truncated(request, resp)
    return _json_response(resp, client_request_id)


async def _send_truncated(request: web.Request, resp: GraphResponse) -> web.StreamResponse:
    """Promise the whole body in Content-Length, send half of it, then close: what a dropped proxy looks like."""
    payload = orjson.dumps(resp.body) if resp.body is not None else b"{}"
    stream = web.StreamResponse(status=resp.status, headers={"Content-Type": GRAPH_JSON})
    stream.content_length = len(payload)
    await stream.prepare(request)
    await stream.write(payload[: len(payload) // 2])
    if request.transport is not None:
        request.transport.close()
    raise asyncio.CancelledError


async def clock_get(request: web.Request) -> web.Response:
    return web.json_response({"now": request.app[TENANT].clock.now.isoformat()})


async def clock_post(request: web.Request) -> web.Response:
    """Admin: move the simulated clock forward, e.g. ``{"now": "2026-10-05T15:00:00Z"}``."""
    try:
        data = await request.json()
        when = parse_instant(str(data["now"]))
        request.app[TENANT].clock.advance_to(when)
    except (ValueError, KeyError, TypeError) as exc:
        return web.json_response({"error": f'{exc}. Send {{"now": "<ISO 8601 instant with offset>"}}.'}, status=400)
    return web.json_response({"now": request.app[TENANT].clock.now.isoformat()})


async def stats_get(request: web.Request) -> web.Response:
    tenant = request.app[TENANT]
    return web.json_response({**tenant.throttler.stats(), "activity_builds": tenant.activity_builds})


async def csv_report_get(request: web.Request) -> web.Response:
    """The pre-authenticated download a CSV report request redirects to (no Authorization needed)."""
    text = request.app[TENANT].csv_report(request.match_info["key"])
    if text is None:
        return web.Response(status=404, text="This report download link has expired; request the report again.")
    return web.Response(text=text, content_type="text/csv", charset="utf-8")


async def _tenant_ctx(app: web.Application) -> Any:
    app[TENANT] = GraphTenant(app[CONFIG])
    yield


def create_app(config: GraphConfig) -> web.Application:
    """App factory: Graph under /v1.0 and /beta, identity under /{tenant}/..., admin under /_sim."""
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app[CONFIG] = config
    app[IDENTITY] = config.identity
    app.cleanup_ctx.append(_tenant_ctx)
    app.router.add_post("/_sim/clock", clock_post)
    app.router.add_get("/_sim/clock", clock_get)
    app.router.add_get("/_sim/stats", stats_get)
    app.router.add_get("/_sim/reports/{key}.csv", csv_report_get)
    app.router.add_route("*", r"/{version:v1\.0|beta}/{tail:.*}", graph_handler)
    app.router.add_routes(identity_routes())
    return app
