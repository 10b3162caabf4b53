"""The simulated Graph: paging, delta, time, education, assignments, OneNote, Forms, audit log, $batch, auth.

Where the brief asks for the real msgraph-sdk, the test drives ``GraphServiceClient`` against the running server.
"""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import sys
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.education.classes.item.assignments.assignments_request_builder import AssignmentsRequestBuilder
from msgraph.generated.education.classes.item.assignments.item.submissions.submissions_request_builder import (
    SubmissionsRequestBuilder,
)
from msgraph.generated.models.chat_message_type import ChatMessageType
from msgraph.generated.models.education_link_resource import EducationLinkResource
from msgraph.generated.models.education_points_outcome import EducationPointsOutcome
from msgraph.generated.models.security.audit_log_query import AuditLogQuery
from msgraph.generated.models.security.audit_log_record_type import AuditLogRecordType
from msgraph.generated.teams.item.channels.item.messages.delta.delta_request_builder import DeltaRequestBuilder
from msgraph.generated.teams.item.channels.item.messages.messages_request_builder import MessagesRequestBuilder
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem

from simulator.serve import start_tenant
from simulator.throttle import EDUCATION, TEAMS_MESSAGES, Faults, ThrottleConfig
from tests.simulator.conftest import (
    A1,
    A2,
    A3,
    ANA,
    BEN,
    CARA,
    DEV,
    K1,
    K1_GENERAL,
    K1_POSTS_BEFORE_NOW,
    K2,
    LATER,
    M1,
    M1_CHANNEL,
    T1,
    app_token,
    at,
    follow_pages,
    get_json,
    graph_client,
    post_json,
    user_token,
)
from tests.simulator.test_fixture_shapes import _load as load_fixture
from tests.simulator.test_fixture_shapes import shape_errors

MESSAGES = f"/teams/{K1}/channels/{K1_GENERAL}/messages"
NEW_POST = str(int(at("2026-10-05").timestamp() * 1000))  # the post made after NOW


async def advance(tenant, when: datetime) -> None:
    status, body, _ = await post_json(tenant, tenant.admin_url + "/clock", None, {"now": when.isoformat()})
    assert status == 200, body


# ----- channel messages ---------------------------------------------------------------------------------------------
async def test_channel_messages_page_newest_first_through_full_url_nextlinks(tenant):
    token = await app_token(tenant)
    items, pages = await follow_pages(tenant, MESSAGES + "?$top=10", token)
    assert [len(p["value"]) for p in pages] == [10, 10, 5]
    assert all(p["@odata.nextLink"].startswith(tenant.graph_base_url + MESSAGES + "?$skiptoken=") for p in pages[:2])
    created = [m["createdDateTime"] for m in items]
    assert created == sorted(created, reverse=True) and len(set(m["id"] for m in items)) == K1_POSTS_BEFORE_NOW
    assert all(m["replyToId"] is None for m in items)


async def test_default_page_is_twenty_and_top_above_fifty_is_refused(tenant):
    token = await app_token(tenant)
    status, body, _ = await get_json(tenant, MESSAGES, token)
    assert status == 200 and len(body["value"]) == 20
    status, body, _ = await get_json(tenant, MESSAGES + "?$top=51", token)
    assert status == 400 and "maximum is 50" in body["error"]["message"]


async def test_a_tampered_or_replayed_skiptoken_is_refused(tenant):
    token = await app_token(tenant)
    _, body, _ = await get_json(tenant, MESSAGES + "?$top=5", token)
    next_link = body["@odata.nextLink"]
    status, body, _ = await get_json(tenant, next_link[:-3] + "AAA", token)
    assert status == 400 and "token is invalid" in body["error"]["message"]
    replayed = "/education/classes?" + next_link.split("?", 1)[1]  # a token is only good for its own endpoint
    status, body, _ = await get_json(tenant, replayed, token)
    assert status == 400 and "token is invalid" in body["error"]["message"]


async def test_sdk_pages_across_an_empty_page_that_still_carries_a_nextlink(make_tenant):
    tenant = await make_tenant(faults=Faults(empty_page_every=2, families=frozenset({TEAMS_MESSAGES})))
    client = graph_client(tenant, await app_token(tenant))
    builder = client.teams.by_team_id(K1).channels.by_channel_id(K1_GENERAL).messages
    query = MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(top=10)
    page = await builder.get(RequestConfiguration(query_parameters=query))
    sizes, ids = [], []
    while page is not None:
        sizes.append(len(page.value))
        ids += [m.id for m in page.value]
        page = await builder.with_url(page.odata_next_link).get() if page.odata_next_link else None
    assert 0 in sizes[:-1], f"no empty page with a nextLink was served: {sizes}"
    assert len(ids) == len(set(ids)) == K1_POSTS_BEFORE_NOW


async def test_replies_list_newest_first_with_a_count(tenant):
    token = await app_token(tenant)
    _, posts, _ = await get_json(tenant, MESSAGES + "?$top=50", token)
    first = posts["value"][-1]
    status, body, _ = await get_json(tenant, f"{MESSAGES}/{first['id']}/replies", token)
    assert status == 200 and body["@odata.count"] == 2
    assert [r["replyToId"] for r in body["value"]] == [first["id"]] * 2
    assert body["value"][0]["createdDateTime"] > body["value"][1]["createdDateTime"]
    assert first["mentions"][0]["mentioned"]["user"]["id"] == ANA
    assert first["reactions"][0]["user"]["user"]["id"] == BEN and first["reactions"][0]["reactionType"] == "like"
    assert first["lastModifiedDateTime"] > first["createdDateTime"]  # the reaction bumped it


async def test_delta_resumes_from_its_deltalink_with_only_changed_reply_chains(tenant):
    """Initial sync via the SDK, then after time moves only the new post, the chain with a new reply and the
    chain with a new reaction come back."""
    client = graph_client(tenant, await app_token(tenant))
    delta = client.teams.by_team_id(K1).channels.by_channel_id(K1_GENERAL).messages.delta
    query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(top=10)
    page = await delta.get(RequestConfiguration(query_parameters=query))
    seen, pages = [], 0
    while True:
        pages += 1
        seen += [m.id for m in page.value]
        if not page.odata_next_link:
            break
        assert page.odata_delta_link is None
        page = await delta.with_url(page.odata_next_link).get()
    assert pages == 3 and len(seen) == K1_POSTS_BEFORE_NOW
    delta_link = page.odata_delta_link
    assert delta_link.startswith(tenant.graph_base_url) and "$deltatoken=" in delta_link

    unchanged = await delta.with_url(delta_link).get()
    assert unchanged.value == [] and unchanged.odata_delta_link

    await advance(tenant, LATER)
    changed = await delta.with_url(delta_link).get()
    posts = sorted(seen)  # ids are creation milliseconds
    assert {m.id for m in changed.value} == {posts[2], posts[3], NEW_POST}  # new reply, new reaction, new post
    again = await delta.with_url(changed.odata_delta_link).get()
    assert again.value == []


async def test_delta_filter_and_expand_replies(tenant):
    token = await app_token(tenant)
    url = f"{MESSAGES}/delta?$filter=lastModifiedDateTime gt 2026-09-22T00:00:00Z&$expand=replies"
    items, pages = await follow_pages(tenant, url, token)
    assert len(items) == 4 and "@odata.deltaLink" in pages[-1]  # posts of Sept 22..25
    assert all(m["@odata.type"] == "#microsoft.graph.chatMessage" and m["replies"] == [] for m in items)
    items, _ = await follow_pages(tenant, f"{MESSAGES}/delta?$expand=replies&$top=1", token)
    assert sum(len(m["replies"]) for m in items) == 10
    status, body, _ = await get_json(tenant, f"{MESSAGES}/delta?$filter=createdDateTime gt 2026-09-01T00:00:00Z", token)
    assert status == 400 and "lastModifiedDateTime gt" in body["error"]["message"]


async def test_delta_only_returns_chains_from_the_last_eight_months(tenant):
    await advance(tenant, datetime.fromisoformat("2027-06-02T00:00:00+00:00"))  # window starts 2026-10-02
    items, _ = await follow_pages(tenant, f"{MESSAGES}/delta", await app_token(tenant))
    third, fourth = (str(int(at(day).timestamp() * 1000)) for day in ("2026-09-03", "2026-09-04"))
    # the new post (Oct 5), the third post's chain (reply Oct 6), the fourth post's chain (reaction Oct 7)
    assert {m["id"] for m in items} == {NEW_POST, third, fourth}


async def test_objects_after_the_clock_appear_only_when_it_moves_and_it_never_moves_back(tenant):
    token = await app_token(tenant)
    items, _ = await follow_pages(tenant, MESSAGES + "?$top=50", token)
    assert len(items) == K1_POSTS_BEFORE_NOW
    await advance(tenant, LATER)
    items, _ = await follow_pages(tenant, MESSAGES + "?$top=50", token)
    assert len(items) == K1_POSTS_BEFORE_NOW + 1
    status, body, _ = await post_json(tenant, tenant.admin_url + "/clock", None, {"now": "2026-09-01T00:00:00Z"})
    assert status == 400 and "only moves forward" in body["error"]
    assert (await get_json(tenant, tenant.admin_url + "/clock", None))[1]["now"].startswith("2026-10-15")


async def test_a_saved_page_link_stays_a_consistent_snapshot_when_time_moves(tenant):
    token = await app_token(tenant)
    _, first, _ = await get_json(tenant, MESSAGES + "?$top=20", token)
    await advance(tenant, LATER)
    items, _ = await follow_pages(tenant, first["@odata.nextLink"], token)
    assert len(first["value"]) + len(items) == K1_POSTS_BEFORE_NOW


async def test_community_channel_messages_are_served(tenant):
    token = await app_token(tenant)
    status, channels, _ = await get_json(tenant, f"/teams/{M1}/channels", token)
    assert status == 200 and [c["id"] for c in channels["value"]] == [M1_CHANNEL]
    items, _ = await follow_pages(tenant, f"/teams/{M1}/channels/{M1_CHANNEL}/messages", token)
    assert len(items) == 1 and items[0]["from"]["user"]["id"] == T1


async def test_activity_is_built_lazily_and_kept_in_a_bounded_lru(make_tenant, source):
    tenant = await make_tenant(activity_cache_size=1)
    token = await app_token(tenant)
    assert source.calls == {}
    await get_json(tenant, f"/education/classes/{K1}/assignments", token)
    await get_json(tenant, MESSAGES, token)
    assert source.calls[K1] == 1
    await get_json(tenant, f"/teams/{K2}/channels/19:general-k2@thread.tacv2/messages", token)
    await get_json(tenant, MESSAGES, token)
    assert source.calls == {K1: 2, K2: 1} and tenant.tenant.cached_team_ids == (K1,)


# ----- education roster ---------------------------------------------------------------------------------------------
async def test_members_users_and_the_mid_term_joiner_show_up_as_delta_changes(tenant):
    token = await app_token(tenant)
    status, members, _ = await get_json(tenant, f"/education/classes/{K1}/members", token)
    assert status == 200 and {m["id"] for m in members["value"]} == {T1, ANA, BEN, CARA}
    users, pages = await follow_pages(tenant, "/education/users/delta?$top=4", token)
    assert DEV not in {u["id"] for u in users} and len(users) == 6 and len(pages) == 2
    classes, cpages = await follow_pages(tenant, "/education/classes/delta", token)
    assert {c["id"] for c in classes} == {K1, K2}

    await advance(tenant, LATER)
    users, _ = await follow_pages(tenant, pages[-1]["@odata.deltaLink"], token)
    assert [u["id"] for u in users] == [DEV] and users[0]["student"]["grade"] == "9"
    classes, _ = await follow_pages(tenant, cpages[-1]["@odata.deltaLink"], token)
    assert [c["id"] for c in classes] == [K1]
    assert classes[0]["members@delta"] == [{"@odata.type": "#microsoft.graph.educationUser", "id": DEV}]
    status, members, _ = await get_json(tenant, f"/education/classes/{K1}/members", token)
    assert DEV in {m["id"] for m in members["value"]}


async def test_schools_school_classes_teachers_and_a_single_user(tenant):
    token = await app_token(tenant)
    _, schools, _ = await get_json(tenant, "/education/schools", token)
    assert [s["id"] for s in schools["value"]] == ["S1"]
    _, classes, _ = await get_json(tenant, "/education/schools/S1/classes", token)
    assert {c["id"] for c in classes["value"]} == {K1, K2}
    _, teachers, _ = await get_json(tenant, f"/education/classes/{K1}/teachers", token)
    assert [t["id"] for t in teachers["value"]] == [T1] and teachers["value"][0]["primaryRole"] == "teacher"
    status, user, _ = await get_json(tenant, f"/education/users/{ANA}", token)
    assert status == 200 and user["userPrincipalName"] == "ana.lopez@sim.example.edu"
    assert (await get_json(tenant, f"/education/users/{DEV}", token))[0] == 404  # not synced before joining
    assert (await get_json(tenant, "/education/classes/nope", token))[0] == 404


# ----- assignments, submissions, outcomes ---------------------------------------------------------------------------
async def test_assignments_delta_then_only_new_or_newly_assigned_after_time_moves(tenant):
    token = await app_token(tenant)
    items, pages = await follow_pages(tenant, f"/education/classes/{K1}/assignments/delta?$top=1", token)
    assert [a["id"] for a in items] == [A1, A2] and len(pages) == 2 and "@odata.deltaLink" in pages[-1]
    status, body, _ = await get_json(tenant, f"/education/classes/{K1}/assignments/delta?$expand=resources", token)
    assert status == 400 and "only supports $top" in body["error"]["message"]
    await advance(tenant, LATER)
    items, _ = await follow_pages(tenant, pages[-1]["@odata.deltaLink"], token)
    assert [a["id"] for a in items] == [A3] and items[0]["status"] == "assigned"


async def test_submissions_carry_status_times_recipient_and_published_points(tenant):
    token = await app_token(tenant)
    url = f"/education/classes/{K1}/assignments/{A1}/submissions?$expand=outcomes"
    _, body, _ = await get_json(tenant, url, token)
    subs = {s["recipient"]["userId"]: s for s in body["value"]}
    assert {k: s["status"] for k, s in subs.items()} == {ANA: "returned", BEN: "submitted", CARA: "working"}
    assert subs[ANA]["submittedDateTime"].startswith("2026-09-04") and subs[ANA]["returnedDateTime"].startswith(
        "2026-09-12"
    )
    points = next(o for o in subs[ANA]["outcomes"] if o["@odata.type"] == "#microsoft.graph.educationPointsOutcome")
    assert points["publishedPoints"]["points"] == 8
    feedback = next(o for o in subs[ANA]["outcomes"] if o["@odata.type"] == "#microsoft.graph.educationFeedbackOutcome")
    assert feedback["publishedFeedback"]["text"]["content"] == "Nice reasoning"
    _, outcomes, _ = await get_json(
        tenant, f"/education/classes/{K1}/assignments/{A1}/submissions/sub-a1-ana/outcomes", token
    )
    assert len(outcomes["value"]) == 2


async def test_a_return_after_the_clock_shows_up_when_time_moves(tenant):
    token = await app_token(tenant)
    url = f"/education/classes/{K1}/assignments/{A2}/submissions"
    _, body, _ = await get_json(tenant, url, token)
    assert {s["id"]: s["status"] for s in body["value"]}["sub-a2-cara"] == "submitted"
    await advance(tenant, LATER)
    _, body, _ = await get_json(tenant, url, token)
    assert {s["id"]: s["status"] for s in body["value"]}["sub-a2-cara"] == "returned"


async def test_basic_assignment_scopes_get_submissions_without_grades(tenant):
    token = tenant.identity.mint_app_token(roles=("EduAssignments.ReadBasic.All",))
    _, body, _ = await get_json(tenant, f"/education/classes/{K1}/assignments/{A1}/submissions?$expand=outcomes", token)
    ana = next(s for s in body["value"] if s["recipient"]["userId"] == ANA)
    assert ana["status"] == "returned" and all(
        o.get("publishedPoints") is None and o.get("publishedFeedback") is None for o in ana["outcomes"]
    )


async def test_sdk_deserialises_assignments_resources_submissions_and_outcomes(tenant):
    client = graph_client(tenant, await app_token(tenant))
    cls = client.education.classes.by_education_class_id(K1)
    query = AssignmentsRequestBuilder.AssignmentsRequestBuilderGetQueryParameters(expand=["resources"])
    page = await cls.assignments.get(RequestConfiguration(query_parameters=query))
    quiz = next(a for a in page.value if a.id == A1)
    assert quiz.grading.max_points == 10 and quiz.due_date_time.tzinfo is not None
    link = quiz.resources[0].resource
    assert isinstance(link, EducationLinkResource) and link.link.startswith("https://forms.office.com/")
    squery = SubmissionsRequestBuilder.SubmissionsRequestBuilderGetQueryParameters(expand=["outcomes"])
    subs = await cls.assignments.by_education_assignment_id(A1).submissions.get(
        RequestConfiguration(query_parameters=squery)
    )
    ana = next(s for s in subs.value if s.recipient.user_id == ANA)
    assert ana.status.value == "returned" and ana.returned_date_time.year == 2026
    points = next(o for o in ana.outcomes if isinstance(o, EducationPointsOutcome))
    assert points.published_points.points == 8


# ----- SDK typed models for Teams, roster and OneNote ---------------------------------------------------------------
async def test_sdk_deserialises_channels_messages_replies_and_roster(tenant):
    client = graph_client(tenant, await app_token(tenant))
    channels = await client.teams.by_team_id(K1).channels.get()
    assert [c.display_name for c in channels.value] == ["General", "Projects"]
    messages = await client.teams.by_team_id(K1).channels.by_channel_id(K1_GENERAL).messages.get()
    first = messages.value[0]
    assert first.message_type == ChatMessageType.Message and first.from_.user.id and first.created_date_time.tzinfo
    oldest = (
        await client.teams.by_team_id(K1)
        .channels.by_channel_id(K1_GENERAL)
        .messages.get(
            RequestConfiguration(
                query_parameters=MessagesRequestBuilder.MessagesRequestBuilderGetQueryParameters(top=50)
            )
        )
    ).value[-1]
    assert oldest.mentions[0].mentioned.user.id == ANA and oldest.reactions[0].reaction_type == "like"
    replies = (
        await client.teams.by_team_id(K1)
        .channels.by_channel_id(K1_GENERAL)
        .messages.by_chat_message_id(oldest.id)
        .replies.get()
    )
    assert {r.reply_to_id for r in replies.value} == {oldest.id}
    members = await client.education.classes.by_education_class_id(K1).members.get()
    roles = {m.id: m.primary_role.value for m in members.value}
    assert roles[T1] == "teacher" and roles[ANA] == "student"
    user = await client.education.users.by_education_user_id(ANA).get()
    assert user.student.grade == "9" and user.user_principal_name == "ana.lopez@sim.example.edu"
    schools = await client.education.schools.get()
    assert schools.value[0].display_name == "Roosevelt High"


# ----- OneNote ------------------------------------------------------------------------------------------------------
async def test_onenote_refuses_an_app_only_token(tenant):
    status, body, _ = await get_json(tenant, f"/groups/{K1}/onenote/notebooks", await app_token(tenant))
    assert status == 403 and "no longer support app-only tokens" in body["error"]["message"]
    no_notes_scope = tenant.identity.mint_delegated_token(T1, ("User.Read",))
    status, body, _ = await get_json(tenant, f"/groups/{K1}/onenote/notebooks", no_notes_scope)
    assert status == 403 and "Notes.Read" in body["error"]["message"]


async def test_onenote_class_notebook_serves_student_section_groups_and_the_collaboration_space(tenant):
    client = graph_client(tenant, await user_token(tenant))
    onenote = client.groups.by_group_id(K1).onenote
    notebooks = await onenote.notebooks.get()
    assert [n.display_name for n in notebooks.value] == ["Biology 9 P1 Notebook"]
    groups = {g.display_name: g for g in (await onenote.section_groups.get()).value}
    assert {"Ana Lopez", "Ben Ortiz", "Cara Diaz", "_Collaboration Space"} <= set(groups) and "Dev Patel" not in groups
    assert groups["Ana Lopez"].id == "sg-ana" and groups["Ana Lopez"].last_modified_by.user.id == ANA
    assert groups["Ana Lopez"].created_by.user.id == T1
    sections = (await onenote.sections.get()).value
    collab = next(s for s in sections if s.id == "sec-collab-1")
    assert collab.parent_section_group.display_name == "_Collaboration Space" and collab.last_modified_by.user.id == ANA
    pages = await onenote.pages.get()
    assert [p.parent_section.id for p in pages.value] == ["sec-collab-1", "sec-ben-notes", "sec-ana-notes"]

    await advance(tenant, LATER)
    sections = (await onenote.sections.get()).value
    assert next(s for s in sections if s.id == "sec-collab-1").last_modified_by.user.id == CARA
    assert "Dev Patel" in {g.display_name for g in (await onenote.section_groups.get()).value}


async def test_onenote_pages_allow_at_most_top_100(tenant):
    token = await user_token(tenant)
    status, body, _ = await get_json(tenant, f"/groups/{K1}/onenote/pages?$top=101", token)
    assert status == 400
    status, body, _ = await get_json(tenant, f"/groups/{K1}/onenote/pages?$top=1", token)
    assert status == 200 and body["@odata.nextLink"].endswith("$top=1&$skip=1")


# ----- Forms report and audit log -----------------------------------------------------------------------------------
async def test_forms_report_counts_created_and_responded_per_upn(tenant):
    token = await app_token(tenant)
    url = tenant.beta_base_url + "/reports/getFormsUserActivityUserDetail(period='D30')?$format=application/json"
    rows, _ = await follow_pages(tenant, url, token)
    by_upn = {r["userPrincipalName"]: r for r in rows}
    counts = {
        u: (
            r["formsUsageUserDetailsByPeriod"][0]["createdCount"],
            r["formsUsageUserDetailsByPeriod"][0]["respondedCount"],
        )
        for u, r in by_upn.items()
    }
    assert counts["maria.garcia@sim.example.edu"] == (1, 0)
    assert counts["ana.lopez@sim.example.edu"] == counts["cara.diaz@sim.example.edu"] == (0, 1)
    assert (
        counts["dev.patel@sim.example.edu"] == (0, 0) and by_upn["dev.patel@sim.example.edu"]["lastActivityDate"] == ""
    )
    assert by_upn["cara.diaz@sim.example.edu"]["lastActivityDate"] == "2026-09-28"
    status, _, _ = await get_json(tenant, url.replace("/beta/", "/v1.0/"), token)
    assert status == 400  # Forms reports are beta only


async def test_forms_report_csv_redirects_to_a_preauthenticated_download(tenant):
    token = await app_token(tenant)
    status, _, headers = await get_json(
        tenant, tenant.beta_base_url + "/reports/getFormsUserActivityUserDetail(period='D7')", token
    )
    assert status == 302
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(headers["Location"]) as r:
        text = await r.text()
    assert r.status == 200 and text.lstrip("\ufeff").startswith("Report Refresh Date,User Principal Name")
    assert "cara.diaz@sim.example.edu,2026-09-28,0,1,7" in text


async def test_audit_log_query_runs_then_pages_forms_records(tenant):
    client = graph_client(tenant, await app_token(tenant))
    created = await client.security.audit_log.queries.post(
        AuditLogQuery(
            display_name="forms",
            filter_start_date_time=datetime.fromisoformat("2026-09-01T00:00:00+00:00"),
            filter_end_date_time=datetime.fromisoformat("2026-12-01T00:00:00+00:00"),
            record_type_filters=[AuditLogRecordType.MicrosoftForms],  # PascalCase, as the SDK sends it
        )
    )
    assert created.status.value == "notStarted"
    token = await app_token(tenant)
    status, body, _ = await get_json(tenant, f"/security/auditLog/queries/{created.id}/records", token)
    assert status == 400 and "poll it" in body["error"]["message"]
    statuses = [
        (await client.security.audit_log.queries.by_audit_log_query_id(created.id).get()).status.value for _ in range(3)
    ]
    assert statuses == ["running", "succeeded", "succeeded"]
    records, pages = await follow_pages(tenant, f"/security/auditLog/queries/{created.id}/records?$top=2", token)
    assert len(pages) == 2 and [r["userPrincipalName"].split(".")[0] for r in records] == ["ana", "ben", "cara"]
    assert {r["operation"] for r in records} == {"SubmitResponse", "CreateResponse"}
    assert all(r["service"] == "MicrosoftForms" and r["auditData"]["FormId"] == "form-quiz-1" for r in records)
    assert records[0]["auditData"]["ResponderId"] == ANA


async def test_audit_log_accepts_camel_case_and_filters_other_record_types(tenant):
    token = await app_token(tenant)
    window = {"filterStartDateTime": "2026-09-01T00:00:00Z", "filterEndDateTime": "2026-12-01T00:00:00Z"}
    results = {}
    for types in (["microsoftForms"], ["exchangeItem"]):
        status, q, _ = await post_json(
            tenant, "/security/auditLog/queries", token, {**window, "recordTypeFilters": types}
        )
        assert status == 201 and q["status"] == "notStarted"
        for _ in range(2):
            await get_json(tenant, f"/security/auditLog/queries/{q['id']}", token)
        results[types[0]], _ = await follow_pages(tenant, f"/security/auditLog/queries/{q['id']}/records", token)
    assert len(results["microsoftForms"]) == 3 and results["exchangeItem"] == []


# ----- $batch -------------------------------------------------------------------------------------------------------
def _get(rid: str, url: str, **kw) -> dict:
    return {"id": rid, "method": "GET", "url": url, **kw}


async def test_batch_dispatches_relative_urls_and_limits_to_twenty_unique_ids(tenant):
    token = await app_token(tenant)
    status, body, _ = await post_json(
        tenant, "/$batch", token, {"requests": [_get(str(i), "/education/classes") for i in range(20)]}
    )
    assert status == 200 and sorted(int(r["id"]) for r in body["responses"]) == list(range(20))
    assert all(r["status"] == 200 and len(r["body"]["value"]) == 2 for r in body["responses"])
    status, body, _ = await post_json(
        tenant, "/$batch", token, {"requests": [_get(str(i), "/education/classes") for i in range(21)]}
    )
    assert status == 400 and "maximum of 20" in body["error"]["message"]
    status, body, _ = await post_json(
        tenant, "/$batch", token, {"requests": [_get("1", "/education/classes"), _get("1", "/education/schools")]}
    )
    assert status == 400 and "unique" in body["error"]["message"]


async def test_batch_fails_dependents_of_a_failed_request_with_424(tenant):
    token = await app_token(tenant)
    requests = [
        _get("b", "/education/classes/does-not-exist", dependsOn=["a"]),
        _get("a", "education/classes/does-not-exist/assignments"),
        _get("c", f"/education/classes/{K1}/assignments?$top=1"),
        _get("d", "/education/schools", dependsOn=["b"]),
    ]
    status, body, _ = await post_json(tenant, "/$batch", token, {"requests": requests})
    assert status == 200
    statuses = {r["id"]: r["status"] for r in body["responses"]}
    assert statuses == {"a": 404, "b": 424, "c": 200, "d": 424}
    c = next(r for r in body["responses"] if r["id"] == "c")
    assert c["body"]["@odata.nextLink"].startswith(
        tenant.graph_base_url + f"/education/classes/{K1}/assignments?$skiptoken="
    )


async def test_throttled_batch_items_carry_429_and_retry_after_in_their_own_headers(make_tenant):
    tenant = await make_tenant(faults=Faults(throttle_every=2, families=frozenset({EDUCATION})))
    token = await app_token(tenant)
    requests = [_get(str(i), "/education/classes") for i in range(4)]
    status, body, _ = await post_json(tenant, "/$batch", token, {"requests": requests})
    assert status == 200
    by_id = {r["id"]: r for r in body["responses"]}
    assert [by_id[str(i)]["status"] for i in range(4)] == [200, 429, 200, 429]
    assert by_id["1"]["headers"]["Retry-After"] == "1" and by_id["3"]["headers"]["Retry-After"] == "2.128"


async def test_sdk_batch_request_content_round_trips(tenant):
    client = graph_client(tenant, await app_token(tenant))
    info = client.education.classes.by_education_class_id(K1).to_get_request_information()
    missing = client.education.classes.by_education_class_id("nope").to_get_request_information()
    content = BatchRequestContent({"x": BatchRequestItem(info, id="k1"), "y": BatchRequestItem(missing, id="missing")})
    result = await client.batch.post(content)
    assert {rid: r.status for rid, r in result.responses.items()} == {"k1": 200, "missing": 404}


# ----- auth on Graph routes -----------------------------------------------------------------------------------------
async def test_graph_answers_401_without_a_valid_token_and_403_without_the_permission(tenant):
    status, body, _ = await get_json(tenant, MESSAGES, None)
    assert status == 401 and body["error"]["code"] == "InvalidAuthenticationToken"
    status, body, _ = await get_json(tenant, MESSAGES, "garbage")
    assert status == 401 and body["error"]["code"] == "InvalidAuthenticationToken"
    roster_only = tenant.identity.mint_app_token(roles=("EduRoster.Read.All",))
    status, body, _ = await get_json(tenant, MESSAGES, roster_only)
    assert status == 403 and body["error"]["code"] == "Forbidden"
    assert "ChannelMessage.Read.All" in body["error"]["message"] and "EduRoster.Read.All" in body["error"]["message"]
    assert (await get_json(tenant, "/education/classes", roster_only))[0] == 200


async def test_unknown_segments_and_teams_are_reported_like_graph(tenant):
    token = await app_token(tenant)
    status, body, _ = await get_json(tenant, "/education/nothing-here", token)
    assert status == 400 and "Resource not found for the segment" in body["error"]["message"]
    assert (await get_json(tenant, "/teams/unknown-team/channels", token))[0] == 404


@pytest.mark.parametrize("version", ["v1.0", "beta"])
async def test_both_versions_serve_the_same_roster(tenant, version):
    base = tenant.graph_base_url.rsplit("/", 1)[0]
    status, body, _ = await get_json(tenant, f"{base}/{version}/education/classes", await app_token(tenant))
    assert status == 200 and body["@odata.context"].startswith(f"{base}/{version}/$metadata")


async def test_sdk_deserialises_class_lists_outcomes_and_audit_records(tenant):
    client = graph_client(tenant, await app_token(tenant))
    classes = await client.education.classes.get()
    assert {c.id for c in classes.value} == {K1, K2} and classes.value[0].external_source.value == "sis"
    teachers = await client.education.classes.by_education_class_id(K1).teachers.get()
    assert [t.id for t in teachers.value] == [T1]
    outcomes = await (
        client.education.classes.by_education_class_id(K1)
        .assignments.by_education_assignment_id(A1)
        .submissions.by_education_submission_id("sub-a1-ana")
        .outcomes.get()
    )
    assert any(isinstance(o, EducationPointsOutcome) and o.published_points.points == 8 for o in outcomes.value)
    query = await client.security.audit_log.queries.post(
        AuditLogQuery(
            filter_start_date_time=datetime.fromisoformat("2026-09-01T00:00:00+00:00"),
            filter_end_date_time=datetime.fromisoformat("2026-12-01T00:00:00+00:00"),
            record_type_filters=[AuditLogRecordType.MicrosoftForms],
        )
    )
    builder = client.security.audit_log.queries.by_audit_log_query_id(query.id)
    while (await builder.get()).status.value != "succeeded":
        pass
    records = await builder.records.get()
    assert [r.user_principal_name for r in records.value][:1] == ["ana.lopez@sim.example.edu"]
    assert records.value[0].operation == "SubmitResponse" and records.value[0].created_date_time.tzinfo is not None
    assert records.value[0].audit_log_record_type == AuditLogRecordType.MicrosoftForms


SERVE_SCRIPT = """
from simulator.serve import run_forever
from tests.simulator.conftest import NOW, ActivitySource, make_district
source = ActivitySource()
run_forever(make_district(), until=NOW, class_activity=source.class_activity,
            community_activity=source.community_activity)
"""


async def test_run_forever_prints_one_ready_line_serves_and_stops_on_sigterm(tmp_path):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVE_SCRIPT, cwd=Path(__file__).resolve().parents[2], stdout=asyncio.subprocess.PIPE
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
        ready = json.loads(line)
        assert {"graph_base_url", "token_url", "tenant_id", "client_id", "client_secret", "connector_url"} <= set(ready)
        assert ready["connector_url"] is None and ready["graph_base_url"].startswith("http://127.0.0.1:")
        token = TenantIdentityToken(ready)
        status, body = await token.fetch()
        assert status == 200, body
        url = ready["graph_base_url"] + "/education/classes"
        async with (
            aiohttp.ClientSession() as http,
            http.get(url, headers={"Authorization": f"Bearer {body['access_token']}"}) as r,
        ):
            assert r.status == 200 and len((await r.json(content_type=None))["value"]) == 2
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=20) == 0
        assert await proc.stdout.read() == b""  # exactly one line was printed
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


class TenantIdentityToken:
    """Client-credentials grant against the ready line's token_url, trusting the printed CA file."""

    def __init__(self, ready: dict) -> None:
        self.ready = ready

    async def fetch(self) -> tuple[int, dict]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.ready["client_id"],
            "client_secret": self.ready["client_secret"],
            "scope": "https://graph.microsoft.com/.default",
        }
        ctx = ssl.create_default_context(cafile=self.ready["ca_file"])
        async with aiohttp.ClientSession() as http, http.post(self.ready["token_url"], data=form, ssl=ctx) as r:
            return r.status, await r.json()


async def test_serves_a_generated_small_district_end_to_end():
    generate = pytest.importorskip("simulator.generate")
    district = generate.generate_district(7, "small")
    handle = await start_tenant(district, throttling=ThrottleConfig.off())
    try:
        token = await app_token(handle)
        classes, _ = await follow_pages(handle, "/education/classes?$top=10", token)
        assert len(classes) == len(district.classes)
        cls = district.classes[classes[0]["id"]]
        general = cls.channels[0].id
        expected_posts = [
            m
            for m in generate.class_activity(district, cls.id).messages
            if m.reply_to_id is None and m.channel_id == general
        ]
        posts, pages = await follow_pages(handle, f"/teams/{cls.id}/channels/{general}/messages/delta?$top=7", token)
        assert len(posts) == len(expected_posts) and "@odata.deltaLink" in pages[-1]
        fixture = load_fixture("channel-messages-delta-initial.json")  # skips with the reason if ../shared is absent
        assert shape_errors(fixture["value"], posts) == []
        assignments, _ = await follow_pages(handle, f"/education/classes/{cls.id}/assignments?$expand=resources", token)
        assert assignments
        subs, _ = await follow_pages(
            handle,
            f"/education/classes/{cls.id}/assignments/{assignments[0]['id']}/submissions?$expand=outcomes",
            token,
        )
        assert {s["status"] for s in subs} <= {"working", "submitted", "returned"}
        teacher = district.people[cls.teacher_ids[0]]
        sections, _ = await follow_pages(
            handle, f"/groups/{cls.id}/onenote/sections", await user_token(handle, teacher.upn)
        )
        assert any(s["parentSectionGroup"]["displayName"] == "_Collaboration Space" for s in sections)
        report, _ = await follow_pages(
            handle,
            handle.beta_base_url + "/reports/getFormsUserActivityUserDetail(period='D30')?$format=application/json",
            token,
        )
        assert len(report) == len(district.people)
    finally:
        await handle.stop()
