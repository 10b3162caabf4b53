from __future__ import annotations

from dataclasses import replace

from cards.demo_data import cmp, digest_view, private_section
from cards.digest import MAX_CLASS_ROWS, build_digest_card
from cards.validate import MAX_CARD_BYTES, card_size, validate_card
from cards.views import ActivityBand, DigestClassRow, TeacherRef
from measures.figures import Figure, Suppression

from .helpers import LONG_TITLE, actions, texts


def test_only_opted_in_classes_get_a_row_and_the_rest_are_counted_not_named():
    view = digest_view()
    secret = replace(view.classes[3], class_name="Secret Class Not Opted In")
    assert not secret.opted_in
    view = replace(view, classes=(*view.classes[:3], secret, *view.classes[4:]))
    blob = "\n".join(texts(build_digest_card(view)))
    assert "Secret Class Not Opted In" not in blob
    assert "2 classes are not shown: not opted in." in blob


def test_each_opted_in_teacher_is_mentioned_with_a_matching_entity_and_no_one_else_is():
    view = digest_view()
    card = build_digest_card(view)
    entities = card["msteams"]["entities"]
    opted = {c.teacher.id for c in view.classes if c.opted_in}
    assert {e["mentioned"]["id"] for e in entities} == opted
    blob = "\n".join(texts(card))
    for e in entities:
        assert e["type"] == "mention" and e["text"] == f"<at>{e['mentioned']['name']}</at>"
        assert e["text"] in blob
    assert validate_card(card) == []


def test_two_teachers_with_one_name_get_one_mention_and_a_plain_name_not_an_ambiguous_pair():
    view = digest_view()
    twin = replace(view.classes[1], teacher=TeacherRef("other-id", view.classes[0].teacher.name))
    card = build_digest_card(replace(view, classes=(view.classes[0], twin)))
    assert [e["mentioned"]["id"] for e in card["msteams"]["entities"]] == [view.classes[0].teacher.id]


def test_refresh_targets_every_teacher_of_a_small_community_with_the_private_verb():
    view = digest_view()
    card = build_digest_card(view)
    assert card["refresh"]["action"]["verb"] == "digestPrivate"
    assert card["refresh"]["userIds"] == [t.id for t in view.teachers]
    assert "Show my classes" not in [a["title"] for a in card["actions"]]


def test_a_community_over_60_teachers_caps_user_ids_at_60_and_offers_show_my_classes():
    view = digest_view("large")
    assert len(view.teachers) == 65
    card = build_digest_card(view)
    assert card["refresh"]["userIds"] == [t.id for t in view.teachers[:60]]
    button = next(a for a in card["actions"] if a["title"] == "Show my classes")
    assert button["type"] == "Action.Submit" and button["data"]["verb"] == "digestPrivate"
    assert validate_card(card) == []


def test_the_private_view_adds_the_teachers_own_classes_only_when_asked():
    view = digest_view()
    public = "\n".join(texts(build_digest_card(view)))
    private = "\n".join(texts(build_digest_card(view, private_section(view.teachers[1], "My Own Class"))))
    assert "Your classes (only you see this)" in private and "My Own Class" in private
    assert "only you see this" not in public and "My Own Class" not in public


def test_exemplars_are_matched_to_the_communitys_weakest_measure():
    card = build_digest_card(digest_view())
    ids = [a["url"] for a in actions(card) if a["type"] == "Action.OpenUrl" and "exemplars" in a["url"]]
    blob = "\n".join(texts(card))
    assert "Exemplars for peer collaboration" in blob  # peer reach 33% against a 44% district median
    assert "Think–pair–share in the class channel" in blob and "Gallery walk" in blob
    assert "Exit-ticket quiz" not in blob
    assert len(ids) == 2


def test_teacher_activity_bars_are_as_wide_as_their_share_and_say_the_count_in_words():
    card = build_digest_card(digest_view())
    blob = "\n".join(texts(card))
    for words in ("5 teachers", "2 teachers", "1 teacher", "0 teachers"):
        assert words in blob
    weights = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "Column" and node.get("style") == "accent":
                weights.append(node["width"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(card)
    assert [w for w in weights if w in (62, 25, 12)] == [62, 25, 12]  # 5, 2 and 1 of 8 teachers


def test_many_long_named_classes_are_truncated_with_and_n_more_and_stay_under_40_kb():
    view = digest_view("large", class_name=LONG_TITLE, teacher_name=LONG_TITLE, community_name=LONG_TITLE)
    rows = tuple(
        DigestClassRow(
            f"c{i}", LONG_TITLE, TeacherRef(f"t{i}", f"{LONG_TITLE} {i}"), True, cmp(0.5), cmp(0.5), cmp(0.5)
        )
        for i in range(400)
    )
    card = build_digest_card(replace(view, classes=rows, highlights=(LONG_TITLE,) * 50))
    assert card_size(card) <= MAX_CARD_BYTES
    assert f"and {400 - MAX_CLASS_ROWS} more classes: open the dashboard for all" in texts(card)
    assert validate_card(card) == []


def test_the_private_view_of_a_large_community_needs_no_show_my_classes_button():
    view = digest_view("large")
    card = build_digest_card(view, private_section(view.teachers[64]))
    assert "Show my classes" not in [a["title"] for a in card["actions"]]
    assert card["refresh"]["action"]["verb"] == "digestPrivate"


def test_the_private_view_shows_no_trend_for_a_suppressed_class_figure():
    view = digest_view()
    lines = texts(build_digest_card(view, private_section(view.teachers[1])))
    hidden = [t for t in lines if t.startswith("FA reach: suppressed")]
    assert hidden == ["FA reach: suppressed (fewer than 10 students)"]


def test_an_empty_community_still_gets_a_valid_digest_that_says_how_to_share_rows():
    view = replace(digest_view(), classes=(), teachers=(), exemplars=(), highlights=(), dashboard=None)
    card = build_digest_card(view)
    assert validate_card(card) == []
    assert "No teacher has shared class rows yet. Send **opt in** to the bot to share yours." in texts(card)
    assert card["refresh"]["userIds"] == [] and "actions" not in card
    assert "entities" not in card["msteams"]


def test_one_suppressed_activity_band_takes_the_smallest_shown_band_with_it():
    view = digest_view()
    bands = tuple(
        ActivityBand(b.band, Figure(None, 2, Suppression.SMALL_N)) if b.band == "weekly" else b for b in view.activity
    )
    card = build_digest_card(replace(view, activity=bands))
    blob = "\n".join(texts(card))
    assert "5 teachers" in blob and "1 teacher" in blob  # daily and monthly stay
    assert texts(card).count("0 teachers") == 1  # of the two empty bands, one is hidden with the weekly band
    assert blob.count("suppressed (fewer than 10 teachers)") == 1
    assert blob.count("suppressed (hidden so a small group cannot be worked out from the totals)") == 1
    assert validate_card(card) == []
