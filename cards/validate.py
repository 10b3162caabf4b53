"""Strict validation of a card against the official Adaptive Card 1.5 JSON Schema, as Teams will receive it.

The schema rejects unknown root properties, and Teams needs one: ``msteams`` (mentions, full width). We check that
extension ourselves (only ``entities`` and ``width``, each of the documented shape, every mention used in the text and
every ``<at>`` in the text backed by an entity), then strip it and validate the rest against
``#/definitions/AdaptiveCard`` with Draft 6 (the schema's own draft). Teams limits that the schema cannot express are
checked too: size, top-level action count and refresh userIds. The JS renderer catches a few more things (duplicate
ids, unlabelled required inputs), so ``cards.render`` checks those when it renders.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft6Validator
from jsonschema.exceptions import ValidationError, best_match

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
SCHEMA_FILE = SCHEMA_DIR / "adaptive-card-1.5.0.json"
HOST_CONFIGS = {
    "light": SCHEMA_DIR / "microsoft-teams-light.json",
    "dark": SCHEMA_DIR / "microsoft-teams-dark.json",
}
#: Older Teams docs give 40 KB for a bot message, newer ones 100 KB ("keep within 80 KB"); we hold the strict one.
MAX_CARD_BYTES = 40 * 1024
#: Teams host config ``actions.maxActions``.
MAX_ACTIONS = 6
#: User-specific views: "Maximum 60 different users can see a different version of the card".
MAX_REFRESH_USER_IDS = 60
MSTEAMS_KEYS = frozenset({"entities", "width"})
_MENTION_TEXT = re.compile(r"^<at>[^<>]+</at>$")
_AT_SPAN = re.compile(r"<at>(.*?)</at>", re.DOTALL)


class CardValidationError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("card is not valid:\n" + "\n".join(f"  - {p}" for p in problems))


@functools.cache
def _validator() -> Draft6Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    # Validate against the card definition directly: the root anyOf hides every real error behind one message.
    schema.pop("anyOf", None)
    schema["$ref"] = "#/definitions/AdaptiveCard"
    return Draft6Validator(schema)


@functools.cache
def host_config(theme: str) -> dict:
    return json.loads(HOST_CONFIGS[theme].read_text(encoding="utf-8"))


def serialise(card: dict) -> bytes:
    """The bytes a bot sends: compact UTF-8 JSON (what the size limit is measured on)."""
    return json.dumps(card, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def card_size(card: dict) -> int:
    return len(serialise(card))


def display_texts(node: Any) -> Iterator[str]:
    """Every string Teams renders as card text (TextBlock, TextRun, Fact), at any depth."""
    if isinstance(node, dict):
        kind = node.get("type")
        if kind in ("TextBlock", "TextRun") and isinstance(node.get("text"), str):
            yield node["text"]
        if kind is None and isinstance(node.get("title"), str) and isinstance(node.get("value"), str):
            yield node["title"]  # a Fact (its "type" is optional)
            yield node["value"]
        for key, value in node.items():
            if key != "msteams":
                yield from display_texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from display_texts(item)


def _check_msteams(card: dict) -> list[str]:
    problems: list[str] = []
    ext = card.get("msteams")
    entity_texts: set[str] = set()
    if ext is not None:
        if not isinstance(ext, dict):
            return ["msteams: must be an object"]
        unknown = set(ext) - MSTEAMS_KEYS
        if unknown:
            problems.append(f"msteams: unknown keys {sorted(unknown)} (allowed: {sorted(MSTEAMS_KEYS)})")
        if "width" in ext and ext["width"] not in ("Full", "full"):
            problems.append(f"msteams/width: {ext['width']!r} is not one of ['Full', 'full']")
        entities = ext.get("entities", [])
        if not isinstance(entities, list):
            problems.append("msteams/entities: must be an array")
            entities = []
        for i, ent in enumerate(entities):
            where = f"msteams/entities/{i}"
            if not isinstance(ent, dict) or set(ent) != {"type", "text", "mentioned"}:
                problems.append(f"{where}: must have exactly type, text and mentioned")
                continue
            if ent["type"] != "mention":
                problems.append(f"{where}/type: {ent['type']!r} is not 'mention'")
            if not isinstance(ent["text"], str) or not _MENTION_TEXT.match(ent["text"]):
                problems.append(f"{where}/text: {ent['text']!r} is not '<at>Name</at>'")
            elif ent["text"] in entity_texts:
                problems.append(f"{where}/text: {ent['text']!r} is used by two entities (ambiguous)")
            else:
                entity_texts.add(ent["text"])
            who = ent["mentioned"]
            if (
                not isinstance(who, dict)
                or set(who) != {"id", "name"}
                or not all(isinstance(who[k], str) and who[k] for k in ("id", "name"))
            ):
                problems.append(f"{where}/mentioned: must have exactly a non-empty string id and name")
    texts = list(display_texts(card.get("body", [])))
    used: set[str] = set()
    for t in texts:
        for m in _AT_SPAN.finditer(t):
            if m.group(0) not in entity_texts:
                problems.append(f"text has a mention {m.group(0)!r} with no msteams entity (Teams shows it raw)")
            used.add(m.group(0))
        if "<at>" in _AT_SPAN.sub("", t) or "</at>" in _AT_SPAN.sub("", t):
            problems.append(f"text has an unpaired <at> tag: {t[:80]!r}")
    for missing in sorted(entity_texts - used):
        problems.append(f"msteams entity {missing!r} is not in any TextBlock or Fact text (Teams ignores it)")
    return problems


def _path(err: ValidationError) -> str:
    return "/" + "/".join(str(p) for p in err.absolute_path)


def explain(err: ValidationError) -> str:
    """A readable message for one schema error: follows anyOf branches into the one whose element type matched."""
    if not err.context:
        return f"{_path(err)}: {err.message}"
    branches: dict[Any, list[ValidationError]] = {}
    for sub in err.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    instance = err.instance
    if isinstance(instance, dict) and "type" in instance:
        matching = [
            errs
            for errs in branches.values()
            if not any(list(e.relative_path) == ["type"] and e.validator == "enum" for e in errs)
        ]
        if not matching:
            return f"{_path(err)}: unknown type {instance['type']!r}"
        return explain(best_match(matching[0]))
    meaningful = [e for e in err.context if e.validator not in ("type", "pattern")]
    if meaningful:
        return explain(best_match(meaningful))
    return f"{_path(err)}: {err.message}"


def validate_card(card: dict) -> list[str]:
    """Every problem Teams or the schema would have with ``card``; empty when it is fine."""
    problems = _check_msteams(card)
    if card.get("version") != "1.5":
        problems.append(f"version: {card.get('version')!r}, but Teams cards must be '1.5'")
    stripped = copy.copy(card)
    stripped.pop("msteams", None)
    errors = sorted(_validator().iter_errors(stripped), key=lambda e: list(e.absolute_path))
    if errors:
        best = best_match(errors)
        problems.append("schema: " + explain(best))
        problems += ["schema: " + explain(e) for e in errors if e is not best][:9]
    if len(card.get("actions", [])) > MAX_ACTIONS:
        problems.append(f"actions: {len(card['actions'])} top-level actions, Teams shows at most {MAX_ACTIONS}")
    refresh = card.get("refresh")
    if isinstance(refresh, dict) and len(refresh.get("userIds", [])) > MAX_REFRESH_USER_IDS:
        problems.append(f"refresh/userIds: {len(refresh['userIds'])} ids, Teams allows at most {MAX_REFRESH_USER_IDS}")
    size = card_size(card)
    if size > MAX_CARD_BYTES:
        problems.append(f"size: {size} bytes, over the {MAX_CARD_BYTES}-byte limit")
    return problems


def assert_valid_card(card: dict) -> dict:
    problems = validate_card(card)
    if problems:
        raise CardValidationError(problems)
    return card
