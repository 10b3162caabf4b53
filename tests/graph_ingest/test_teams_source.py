"""Channel messages become posts, replies, reactions and mentions, with nothing of their content."""

import orjson

from graph_ingest.records import EventRecord
from graph_ingest.sources.teams import Scope, parse_message_page

SCOPE = Scope(team_id="team-1", channel_id="19:abc@thread.tacv2", class_id="class-1")
KEY = "k:{}".format


def fixture(shared_dir, name):
    return (shared_dir / "fixtures" / "graph" / name).read_bytes()


def test_the_published_list_page_gives_one_post_per_person_message_and_its_mention(shared_dir):
    page = parse_message_page(fixture(shared_dir, "channel-messages-list.json"), SCOPE, KEY)
    kinds = sorted(e.kind for e in page.events)
    assert kinds == ["mention", "post", "post"]  # the system event is skipped
    mention = next(e for e in page.events if e.kind == "mention")
    assert mention.actor_key == "k:8ea0e38b-efb3-4757-924a-5f94061cf8c2"
    assert mention.target_key == "k:ef1c916a-3135-4417-ba27-8eb7bd084193"
    assert page.next_link and page.next_link.startswith("https://")
    assert page.messages == 3


def test_replies_point_at_the_thread_starter(shared_dir):
    page = parse_message_page(fixture(shared_dir, "channel-message-replies.json"), SCOPE, KEY, root_author="starter")
    replies = [e for e in page.events if e.kind == "reply"]
    assert replies and all(e.target_key == "k:starter" for e in replies)
    assert all(e.object_id == "1616989510408" for e in replies)


def test_the_delta_page_keeps_its_next_link_for_the_caller_to_follow(shared_dir):
    page = parse_message_page(fixture(shared_dir, "channel-messages-delta-initial.json"), SCOPE, KEY)
    assert page.next_link and "skiptoken" in page.next_link.lower()
    assert page.delta_link is None
    assert {e.kind for e in page.events} == {"post"}


def expanded_thread():
    def msg(mid, author, reply_to=None, **extra):
        return {
            "id": mid,
            "replyToId": reply_to,
            "messageType": "message",
            "createdDateTime": "2026-11-17T17:05:00.123Z",
            "from": {"user": {"id": author, "displayName": "Secret Name"}},
            "body": {"contentType": "html", "content": "<p>private words</p>"},
            "mentions": [],
            "reactions": [],
            **extra,
        }

    root = msg(
        "100",
        "ana",
        body={
            "contentType": "html",
            "content": 'Quiz: <a href="https://forms.office.com/Pages/ResponsePage.aspx?id=FORM42">go</a>',
        },
        reactions=[
            {"reactionType": "like", "createdDateTime": "2026-11-17T18:00:00Z", "user": {"user": {"id": "ben"}}},
            {"reactionType": "heart", "createdDateTime": "2026-11-17T18:01:00Z", "user": {"user": {"id": "ben"}}},
        ],
        mentions=[
            {"id": 0, "mentionText": "Cy", "mentioned": {"user": {"id": "cy"}}},
            {"id": 1, "mentionText": "Cy", "mentioned": {"user": {"id": "cy"}}},
            {"id": 2, "mentionText": "General", "mentioned": {"conversation": {"id": "19:x"}}},
        ],
    )
    root["replies"] = [msg("101", "ben", "100"), msg("102", "cy", "100")]
    root["replies@odata.nextLink"] = "https://graph.example/v1.0/teams/t/channels/c/messages/100/replies?$skiptoken=x"
    return orjson.dumps({"value": [root], "@odata.deltaLink": "https://graph.example/delta?$deltatoken=1"})


def test_an_expanded_thread_gives_replies_reactions_mentions_and_the_form_link():
    page = parse_message_page(expanded_thread(), SCOPE, KEY)
    by_kind = {}
    for e in page.events:
        by_kind.setdefault(e.kind, []).append(e)
    assert len(by_kind["post"]) == 1
    assert sorted(e.actor_key for e in by_kind["reply"]) == ["k:ben", "k:cy"]
    assert {e.target_key for e in by_kind["reply"]} == {"k:ana"}
    assert sorted(e.source_id for e in by_kind["reaction"]) == [
        "teams:reaction:team-1:100:k:ben:heart",
        "teams:reaction:team-1:100:k:ben:like",
    ]
    assert [e.target_key for e in by_kind["mention"]] == ["k:cy"]  # duplicates and channel mentions dropped
    assert [(f.form_id, f.seen_via) for f in page.form_links] == [("FORM42", "channel_link")]
    assert page.reply_links == [("100", "ana", root_next := page.reply_links[0][2])] and "replies" in root_next
    assert page.delta_link.endswith("deltatoken=1")


def test_no_content_survives_parsing():
    page = parse_message_page(expanded_thread(), SCOPE, KEY)
    dumped = orjson.dumps([e.row() for e in page.events]).decode()
    assert "private words" not in dumped and "Secret Name" not in dumped and "Quiz" not in dumped
    assert set(EventRecord._fields) == {
        "source_id", "tool", "kind", "actor_key", "occurred_at", "class_id", "community_id", "target_key", "object_id",
    }  # fmt: skip


def test_parsing_the_same_page_twice_gives_the_same_source_ids():
    a = parse_message_page(expanded_thread(), SCOPE, KEY)
    b = parse_message_page(expanded_thread(), SCOPE, KEY)
    assert [e.source_id for e in a.events] == [e.source_id for e in b.events]
    assert len({e.source_id for e in a.events}) == len(a.events)


def test_timestamps_are_aware_utc():
    page = parse_message_page(expanded_thread(), SCOPE, KEY)
    assert all(e.occurred_at.utcoffset().total_seconds() == 0 for e in page.events)
