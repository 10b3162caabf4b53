from __future__ import annotations

import copy
import json
from pathlib import Path

from cards.catalog import demo_cards
from cards.validate import SCHEMA_FILE, validate_card

DIGEST = demo_cards()["digest"]
SHARED_SCHEMA = Path(__file__).resolve().parents[3] / "shared/schemas/adaptive-cards/1.5.0"


def _digest():
    return copy.deepcopy(DIGEST)


def test_the_bundled_schema_is_the_unmodified_official_1_5_schema():
    ours = json.loads(SCHEMA_FILE.read_text())
    assert ours["definitions"]["AdaptiveCard"]["additionalProperties"] is False
    official = SHARED_SCHEMA / "adaptive-card.json"
    if official.exists():
        assert SCHEMA_FILE.read_bytes() == official.read_bytes()


def test_a_valid_digest_with_mentions_refresh_and_full_width_passes():
    assert validate_card(_digest()) == []


def test_unknown_msteams_keys_are_rejected_not_silently_stripped():
    card = _digest()
    card["msteams"]["originator"] = "x"
    assert any("unknown keys ['originator']" in p for p in validate_card(card))


def test_msteams_width_must_be_full():
    card = _digest()
    card["msteams"]["width"] = "Wide"
    assert "msteams/width: 'Wide' is not one of ['Full', 'full']" in validate_card(card)


def test_a_mention_entity_whose_text_is_not_in_the_card_is_reported():
    card = _digest()
    card["msteams"]["entities"].append(
        {"type": "mention", "text": "<at>Nobody</at>", "mentioned": {"id": "x", "name": "Nobody"}}
    )
    assert any("'<at>Nobody</at>' is not in any TextBlock" in p for p in validate_card(card))


def test_an_at_tag_in_text_without_an_entity_is_reported():
    card = _digest()
    card["body"].append({"type": "TextBlock", "text": "hi <at>Someone</at>"})
    assert any("no msteams entity" in p for p in validate_card(card))


def test_a_malformed_entity_is_reported():
    card = _digest()
    card["msteams"]["entities"][0]["mentioned"] = {"id": ""}
    assert any("mentioned: must have exactly a non-empty string id and name" in p for p in validate_card(card))


def test_schema_errors_name_the_element_and_the_problem():
    card = _digest()
    card["body"][0]["size"] = "Huge"
    card["body"].append({"type": "ProgressBar"})
    problems = validate_card(card)
    assert "schema: /body/0/size: 'Huge' is not one of ['default', 'small', 'medium', 'large', 'extraLarge']" in (
        problems
    )
    assert any(p.endswith("unknown type 'ProgressBar'") for p in problems)


def test_an_unknown_property_is_rejected_by_the_strict_schema():
    card = _digest()
    card["body"][0]["wrapp"] = True
    assert any("'wrapp' was unexpected" in p for p in validate_card(card))


def test_teams_limits_outside_the_schema_are_checked():
    card = _digest()
    card["refresh"]["userIds"] = [f"u{i}" for i in range(61)]
    card["actions"] = card["actions"] * 7
    card["body"].append({"type": "TextBlock", "text": "x" * 41_000})
    card["version"] = "1.6"
    problems = validate_card(card)
    assert any(p.startswith("refresh/userIds: 61 ids") for p in problems)
    assert any(p.startswith("actions: 7 top-level actions") for p in problems)
    assert any(p.startswith("size: ") for p in problems)
    assert any(p.startswith("version: '1.6'") for p in problems)
