"""CPU to turn channel-message delta pages into event records: our orjson path vs msgraph-sdk typed models.

Run: .venv/bin/python -m benchmarks.bench_ingest_parse [--rounds R]

The pages are captured once, as bytes, from the simulated tenant (small district, throttling off): every class
and community channel's first ``/messages/delta?$top=50&$expand=replies`` read, following nextLinks. Then both
paths turn the same bytes into the same events (checked equal before timing):
- ours: ``graph_ingest.sources.teams.parse_message_page`` (orjson into dicts, events straight from the dicts);
- baseline: kiota's ``JsonParseNodeFactory`` into msgraph-sdk's ``DeltaGetResponse``/``ChatMessage`` models,
  then the same events read from the typed objects.
Both map AAD ids through the same ``PersonKeys`` (HMAC pseudonyms, cached), so only parsing differs.
Figure: baseline CPU / our CPU (process time, best of R rounds). Target: at least 50x.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable

import httpx
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from msgraph.generated.models.chat_message import ChatMessage
from msgraph.generated.models.chat_message_type import ChatMessageType
from msgraph.generated.teams.item.channels.item.messages.delta.delta_get_response import DeltaGetResponse

from graph_ingest.forms_links import form_ids_in_text
from graph_ingest.people import PersonKeys
from graph_ingest.records import EventRecord, FormLink
from graph_ingest.sources.teams import Scope, parse_message_page
from pli_pulse.pseudonym import Pseudonymizer, key_from_text
from simulator.generate import generate_district
from simulator.serve import start_tenant
from simulator.throttle import ThrottleConfig

TARGET_RATIO = 50.0
SEED = 11
KEY = "5f" * 32


async def capture_pages(seed: int = SEED) -> list[tuple[Scope, bytes]]:
    """Every channel's first delta read of a small simulated district, page by page, as the bytes served."""
    district = generate_district(seed, "small")
    handle = await start_tenant(district, throttling=ThrottleConfig.off())
    pages: list[tuple[Scope, bytes]] = []
    try:
        headers = {"Authorization": f"Bearer {handle.identity.mint_app_token()}"}
        teams = [(cid, cid, None) for cid in district.classes] + [(cid, None, cid) for cid in district.communities]
        async with httpx.AsyncClient(headers=headers, timeout=60) as http:
            for team_id, class_id, community_id in teams:
                channels = (await http.get(f"{handle.graph_base_url}/teams/{team_id}/channels")).json()["value"]
                for ch in channels:
                    scope = Scope(team_id, ch["id"], class_id=class_id, community_id=community_id)
                    url = f"{handle.graph_base_url}/teams/{team_id}/channels/{ch['id']}/messages/delta"
                    params: dict | None = {"$top": "50", "$expand": "replies"}
                    while url:
                        resp = await http.get(url, params=params)
                        resp.raise_for_status()
                        doc = resp.json()
                        if doc.get("value"):
                            pages.append((scope, resp.content))
                        url, params = doc.get("@odata.nextLink"), None
    finally:
        await handle.stop()
    return pages


def _user_id(identity_set) -> str | None:
    user = identity_set.user if identity_set is not None else None
    return user.id if user is not None else None


def typed_events(raw: bytes, scope: Scope, person_key: Callable[[str], str]) -> tuple[list, list]:
    """The baseline: msgraph-sdk typed models, then the same events as parse_message_page (PRODUCT.md §4)."""
    node = JsonParseNodeFactory().get_root_parse_node("application/json", raw)
    doc = node.get_object_value(DeltaGetResponse)
    events: list[EventRecord] = []
    links: list[FormLink] = []
    for msg in doc.value or ():
        author = _typed_message(events, links, msg, scope, person_key, None)
        for reply in msg.replies or ():
            _typed_message(events, links, reply, scope, person_key, author)
    return events, links


def _typed_message(events, links, msg: ChatMessage, scope: Scope, person_key, root_author: str | None) -> str | None:
    if msg.message_type != ChatMessageType.Message:
        return None
    author = _user_id(msg.from_)
    if author is None:
        return None
    thread = msg.reply_to_id or msg.id
    actor = person_key(author)
    where = {"class_id": scope.class_id, "community_id": scope.community_id}
    created = msg.created_date_time
    if msg.reply_to_id:
        target = person_key(root_author) if root_author else None
        events.append(
            EventRecord(
                f"teams:reply:{scope.team_id}:{msg.id}", "teams", "reply", actor, created, target_key=target,
                object_id=thread, **where,
            )
        )  # fmt: skip
    else:
        events.append(
            EventRecord(
                f"teams:post:{scope.team_id}:{msg.id}", "teams", "post", actor, created, object_id=thread, **where
            )
        )
    seen = set()
    for mention in msg.mentions or ():
        mentioned = _user_id(mention.mentioned)
        if mentioned is None or mentioned in seen:
            continue
        seen.add(mentioned)
        events.append(
            EventRecord(
                f"teams:mention:{scope.team_id}:{msg.id}:{person_key(mentioned)}", "teams", "mention", actor, created,
                target_key=person_key(mentioned), object_id=thread, **where,
            )
        )  # fmt: skip
    for reaction in msg.reactions or ():
        reactor = _user_id(reaction.user)
        if reactor is None:
            continue
        kind = reaction.reaction_type or "like"
        events.append(
            EventRecord(
                f"teams:reaction:{scope.team_id}:{msg.id}:{person_key(reactor)}:{kind}", "teams", "reaction",
                person_key(reactor), reaction.created_date_time or created, target_key=actor, object_id=thread,
                **where,
            )
        )  # fmt: skip
    if scope.class_id and msg.body is not None:
        links.extend(FormLink(f, scope.class_id, "channel_link") for f in form_ids_in_text(msg.body.content))
    return author


def ours(pages, person_key) -> list:
    return [parse_message_page(raw, scope, person_key) for scope, raw in pages]


def typed(pages, person_key) -> list:
    return [typed_events(raw, scope, person_key) for scope, raw in pages]


def best_cpu(fn, pages, person_key, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        fn(pages, person_key)
        best = min(best, time.process_time() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    pages = asyncio.run(capture_pages())
    person_key = PersonKeys(Pseudonymizer(key_from_text(KEY)))
    # Same output both ways, or the comparison means nothing.
    for (_, _), mine, (evs, links) in zip(pages, ours(pages, person_key), typed(pages, person_key), strict=True):
        assert mine.events == evs and mine.form_links == links, "the typed path read different events"
    messages = sum(p.messages for p in ours(pages, person_key))
    events = sum(len(p.events) for p in ours(pages, person_key))
    t_ours = best_cpu(ours, pages, person_key, args.rounds)
    t_typed = best_cpu(typed, pages, person_key, max(1, args.rounds - 1))
    ratio = t_typed / t_ours
    print(f"pages: {len(pages)}  messages (posts+replies): {messages}  events: {events}")
    print(
        f"ours  (orjson + parse_message_page): {t_ours * 1000:9.1f} ms CPU  {t_ours / messages * 1e6:8.1f} us/message"
    )
    per_msg = t_typed / messages * 1e6
    print(f"typed (kiota JsonParseNode + msgraph models): {t_typed * 1000:9.1f} ms CPU  {per_msg:8.1f} us/message")
    verdict = "met" if ratio >= TARGET_RATIO else "NOT met"
    print(f"ratio typed/ours: {ratio:.1f}x  (target >= {TARGET_RATIO:.0f}x: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
