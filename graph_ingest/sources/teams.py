"""Teams channel messages: posts, replies, reactions and mentions, as metadata.

Input is one page of ``/teams/{team}/channels/{channel}/messages/delta`` (optionally with
``$expand=replies``) or of ``.../messages/{id}/replies``, as bytes. Output is event records and the
Forms links seen in bodies. Bodies, subjects and attachments are read only to find Forms links and are
never returned.

Edges follow PRODUCT.md §4: a reply points at the thread starter, a reaction at the message's author,
a mention at the person mentioned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from graph_ingest.forms_links import form_ids_in_text
from graph_ingest.records import EventRecord, FormLink, PersonKey, parse_time


@dataclass(frozen=True)
class Scope:
    """Where the messages come from: a class team or a teachers' community team."""

    team_id: str
    channel_id: str
    class_id: str | None = None
    community_id: str | None = None


@dataclass
class MessagePage:
    events: list[EventRecord] = field(default_factory=list)
    form_links: list[FormLink] = field(default_factory=list)
    next_link: str | None = None
    delta_link: str | None = None
    #: Threads whose replies did not all fit in the expansion; fetch ``replies@odata.nextLink`` for each.
    reply_links: list[tuple[str, str, str]] = field(default_factory=list)  # (root id, root author, link)
    messages: int = 0


def _user_id(identity_set: dict | None) -> str | None:
    if not identity_set:
        return None
    user = identity_set.get("user")
    return user.get("id") if user else None


def parse_message_page(
    raw: bytes | dict, scope: Scope, person_key: PersonKey, *, root_author: str | None = None
) -> MessagePage:
    """Parse a delta/list page (``root_author`` None) or a replies page (the thread starter's AAD id)."""
    doc = orjson.loads(raw) if isinstance(raw, bytes | str) else raw
    page = MessagePage(next_link=doc.get("@odata.nextLink"), delta_link=doc.get("@odata.deltaLink"))
    for msg in doc.get("value", ()):
        author = _message(page, msg, scope, person_key, root_author)
        if root_author is None:
            for reply in msg.get("replies") or ():
                _message(page, reply, scope, person_key, author)
            more = msg.get("replies@odata.nextLink")
            if more and author:
                page.reply_links.append((msg["id"], author, more))
    return page


def _message(page: MessagePage, msg: dict, scope: Scope, person_key: PersonKey, root_author: str | None) -> str | None:
    """Add the events of one message; return its author's AAD id (None for system messages)."""
    page.messages += 1
    if msg.get("messageType") != "message":
        return None  # system events and unknownFutureValue carry no person's act
    author = _user_id(msg.get("from"))
    if author is None:
        return None  # posted by an app or connector, not a person
    created = parse_time(msg["createdDateTime"])
    msg_id = msg["id"]
    reply_to = msg.get("replyToId")
    thread = reply_to or msg_id
    actor = person_key(author)
    cls, com, team = scope.class_id, scope.community_id, scope.team_id
    events = page.events
    # Records are built positionally (source_id, tool, kind, actor, at, class, community, target, object):
    # this runs once per message, reply, mention and reaction.
    if reply_to:
        target = person_key(root_author) if root_author else None
        events.append(
            EventRecord(f"teams:reply:{team}:{msg_id}", "teams", "reply", actor, created, cls, com, target, thread)
        )
    else:
        events.append(
            EventRecord(f"teams:post:{team}:{msg_id}", "teams", "post", actor, created, cls, com, None, thread)
        )
    seen_mentions = set()
    for mention in msg.get("mentions") or ():
        mentioned = _user_id(mention.get("mentioned"))
        if mentioned is None or mentioned in seen_mentions:
            continue  # a channel or tag mention, or the same person twice in one message
        seen_mentions.add(mentioned)
        key = person_key(mentioned)  # the source id holds person keys, never a student's object id
        events.append(
            EventRecord(
                f"teams:mention:{team}:{msg_id}:{key}", "teams", "mention", actor, created, cls, com, key, thread
            )
        )
    for reaction in msg.get("reactions") or ():
        reactor = _user_id(reaction.get("user"))
        if reactor is None:
            continue
        kind = reaction.get("reactionType") or "like"
        key = person_key(reactor)
        at = parse_time(reaction.get("createdDateTime")) or created
        events.append(
            EventRecord(
                f"teams:reaction:{team}:{msg_id}:{key}:{kind}", "teams", "reaction", key, at, cls, com, actor, thread
            )
        )
    if scope.class_id:
        body = msg.get("body") or {}
        for form_id in form_ids_in_text(body.get("content")):
            page.form_links.append(FormLink(form_id, scope.class_id, "channel_link"))
    return author
