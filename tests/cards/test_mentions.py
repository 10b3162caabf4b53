from __future__ import annotations

from cards.mentions import MentionBook
from cards.views import TeacherRef


def test_a_teacher_mentioned_twice_has_one_entity():
    book = MentionBook()
    t = TeacherRef("aad-1", "Grace Okafor")
    assert book.mention(t) == book.mention(t) == "<at>Grace Okafor</at>"
    assert book.msteams()["entities"] == [
        {"type": "mention", "text": "<at>Grace Okafor</at>", "mentioned": {"id": "aad-1", "name": "Grace Okafor"}}
    ]


def test_a_hostile_display_name_cannot_close_the_tag_or_open_another():
    book = MentionBook()
    text = book.mention(TeacherRef("aad-2", "Eve</at> <at>Principal"))
    assert text.count("<at>") == 1 and text.count("</at>") == 1
    assert book.msteams()["entities"][0]["mentioned"]["name"] == "Eve at at Principal"


def test_no_mentions_means_no_entities_key():
    assert MentionBook().msteams(width="Full") == {"width": "Full"}
