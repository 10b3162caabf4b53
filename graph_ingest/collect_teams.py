"""Collecting channel messages for one team channel, incrementally, with its delta link as cursor.

Per channel: start from the saved link (a nextLink if the last run stopped mid-way, else the deltaLink),
or from a fresh delta request. Each page's events are written together with the link that continues
after that page, so the run can be killed at any moment and resumed without loss or duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.teams.item.channels.item.messages.delta.delta_request_builder import DeltaRequestBuilder
from sqlalchemy import Engine

from graph_ingest.fetch import CursorExpired, GraphFetcher
from graph_ingest.paging import pages
from graph_ingest.records import PersonKey
from graph_ingest.sources.teams import Scope, parse_message_page
from graph_ingest.state import load_cursors
from graph_ingest.writer import write_page_async

SOURCE = "teams"
SERVICE = "teams_messages"
PAGE_SIZE = 50  # the documented maximum for channel message delta


@dataclass
class ChannelResult:
    scope: Scope
    pages: int = 0
    events: int = 0
    restarted: bool = False


def scope_key(scope: Scope) -> str:
    return f"{scope.team_id}/{scope.channel_id}"


def first_delta_request(client, scope: Scope, since: datetime | None):
    builder = client.teams.by_team_id(scope.team_id).channels.by_channel_id(scope.channel_id).messages.delta
    params = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(top=PAGE_SIZE, expand=["replies"])
    if since is not None:
        params.filter = f"lastModifiedDateTime gt {since.strftime('%Y-%m-%dT%H:%M:%SZ')}"
    return builder.to_get_request_information(RequestConfiguration(query_parameters=params))


async def collect_channel(
    *,
    engine: Engine,
    fetcher: GraphFetcher,
    client,
    scope: Scope,
    person_key: PersonKey,
    run_id: int | None,
    cursor: str | None,
    since: datetime | None = None,
) -> ChannelResult:
    result = ChannelResult(scope)
    key = scope_key(scope)

    async def get(request):
        return await fetcher.get_json(request, source=SOURCE, service=SERVICE, scope=scope.team_id)

    first = cursor or first_delta_request(client, scope, since)
    try:
        async for page in pages(get, first):
            parsed = parse_message_page(page.doc, scope, person_key)
            events, links = list(parsed.events), list(parsed.form_links)
            for _root, author, link in parsed.reply_links:  # threads with more replies than the expansion held
                async for rpage in pages(get, link):
                    more = parse_message_page(rpage.doc, scope, person_key, root_author=author)
                    events += more.events
                    links += more.form_links
            resume = page.resume_link
            result.events += await write_page_async(
                engine,
                run_id=run_id,
                events=events,
                form_links=links,
                cursor=(SOURCE, key, resume) if resume else None,
            )
            result.pages += 1
    except CursorExpired:
        if cursor is None:
            raise
        # The saved link is too old for Graph (past the delta window): read the channel again from scratch.
        result = await collect_channel(
            engine=engine,
            fetcher=fetcher,
            client=client,
            scope=scope,
            person_key=person_key,
            run_id=run_id,
            cursor=None,
            since=since,
        )
        result.restarted = True
    return result


def saved_cursors(engine: Engine) -> dict[str, str]:
    return load_cursors(engine, SOURCE)
