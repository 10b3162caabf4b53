"""Every object kind the simulator serves has the keys and value types of Microsoft's published example.

Rule: every key in the fixture must be present in the simulator's object, with a compatible type (null on either
side is compatible: Graph properties are nullable; numbers are int or float; documentation placeholders such as
"Boolean" or ``{"@odata.type": "microsoft.graph.physicalAddress"}`` stand for their type). Extra keys are allowed.
List elements are compared with the fixture element of the same ``@odata.type`` or ``primaryRole``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import SHARED
from tests.simulator.conftest import A1, ANA, K1, K1_GENERAL, app_token, get_json, user_token

FIXTURES = SHARED / "fixtures" / "graph"
PLACEHOLDER_TYPES = {"Boolean": bool, "String": str, "String (timestamp)": str, "Int32": int}
PAGING_KEYS = {"@odata.nextLink", "@odata.deltaLink", "@odata.count"}


def _merge(elements: list[Any]) -> Any:
    """One template from several fixture elements: the first non-null value per key."""
    if not elements or not all(isinstance(e, dict) for e in elements):
        return elements[0] if elements else None
    merged: dict[str, Any] = {}
    for element in elements:
        for key, value in element.items():
            if merged.get(key) is None:
                merged[key] = value
    return merged


def _template_for(fixture_items: list[Any], ours: Any) -> Any:
    if isinstance(ours, dict):
        for discriminator in ("@odata.type", "primaryRole"):
            same = [f for f in fixture_items if isinstance(f, dict) and f.get(discriminator) == ours.get(discriminator)]
            if same and ours.get(discriminator) is not None:
                return _merge(same)
        if any(isinstance(f, dict) and "@odata.type" in f for f in fixture_items) and "@odata.type" in ours:
            return None  # a subtype the fixture does not show (e.g. no rubric outcome served)
    return _merge(fixture_items)


def shape_errors(fixture: Any, ours: Any, path: str = "$") -> list[str]:
    if fixture is None or ours is None:
        return []
    if isinstance(fixture, str) and fixture in PLACEHOLDER_TYPES:
        expected = PLACEHOLDER_TYPES[fixture]
        return (
            []
            if isinstance(ours, expected) and not (expected is int and isinstance(ours, bool))
            else [f"{path}: {fixture} expected, got {ours!r}"]
        )
    if isinstance(fixture, dict):
        if not isinstance(ours, dict):
            return [f"{path}: object expected, got {type(ours).__name__}"]
        if set(fixture) == {"@odata.type"} and not str(fixture["@odata.type"]).startswith("#"):
            return []  # documentation placeholder for a complex type
        errors = []
        for key, value in fixture.items():
            if key not in ours:
                errors.append(f"{path}.{key}: missing")
            else:
                errors += shape_errors(value, ours[key], f"{path}.{key}")
        return errors
    if isinstance(fixture, list):
        if not isinstance(ours, list):
            return [f"{path}: array expected, got {type(ours).__name__}"]
        if not fixture:
            return []
        errors = []
        for i, item in enumerate(ours):
            template = _template_for(fixture, item)
            errors += shape_errors(template, item, f"{path}[{i}]")
        return errors
    if isinstance(fixture, bool):
        return [] if isinstance(ours, bool) else [f"{path}: boolean expected, got {ours!r}"]
    if isinstance(fixture, int | float):
        return (
            []
            if isinstance(ours, int | float) and not isinstance(ours, bool)
            else [f"{path}: number expected, got {ours!r}"]
        )
    if isinstance(fixture, str):
        return [] if isinstance(ours, str) else [f"{path}: string expected, got {ours!r}"]
    return [f"{path}: unexpected fixture value {fixture!r}"]


def test_shape_check_catches_a_missing_key_and_a_wrong_type():
    fixture = {"value": [{"id": "1", "n": 3, "flag": True, "nested": {"a": "x"}}]}
    assert shape_errors(fixture, {"value": [{"id": "1", "n": 3.5, "flag": False, "nested": {"a": "y"}}]}) == []
    errors = shape_errors(fixture, {"value": [{"id": 1, "flag": "yes", "nested": {}}]})
    assert errors == [
        "$.value[0].id: string expected, got 1",
        "$.value[0].n: missing",
        "$.value[0].flag: boolean expected, got 'yes'",
        "$.value[0].nested.a: missing",
    ]


def _load(name: str) -> dict[str, Any]:
    if not FIXTURES.exists():
        pytest.skip(f"../shared is not next to this checkout ({SHARED})")
    return json.loads((FIXTURES / name).read_text())


POST0 = "1788274800000"  # first K1 post (2026-09-01T15:00Z), it has replies
CASES = [
    ("channel-messages-list.json", f"/teams/{K1}/channels/{K1_GENERAL}/messages?$top=3", "app"),
    ("channel-message-replies.json", f"/teams/{K1}/channels/{K1_GENERAL}/messages/{POST0}/replies", "app"),
    ("channel-messages-delta-initial.json", f"/teams/{K1}/channels/{K1_GENERAL}/messages/delta?$top=2", "app"),
    ("education-classes-list.fixed.json", "/education/classes", "app"),
    ("education-class-members.fixed.json", f"/education/classes/{K1}/members", "app"),
    ("education-assignments-list.json", f"/education/classes/{K1}/assignments", "app"),
    (
        "education-assignments-list-expand-resources.json",
        f"/education/classes/{K1}/assignments?$expand=resources",
        "app",
    ),
    ("education-assignments-delta-page1.json", f"/education/classes/{K1}/assignments/delta?$top=1", "app"),
    (
        "education-submissions-expand-outcomes.json",
        f"/education/classes/{K1}/assignments/{A1}/submissions?$expand=outcomes",
        "app",
    ),
    ("onenote-pages-list.json", f"/groups/{K1}/onenote/pages", "user"),
    (
        "forms-user-activity-user-detail.beta.json",
        "BETA/reports/getFormsUserActivityUserDetail(period='D7')?$format=application/json&$top=2",
        "app",
    ),
]


@pytest.mark.parametrize(("fixture_name", "url", "who"), CASES, ids=[c[0] for c in CASES])
async def test_served_collection_has_every_fixture_key_with_a_compatible_type(tenant, fixture_name, url, who):
    token = await (app_token(tenant) if who == "app" else user_token(tenant))
    if url.startswith("BETA"):
        url = tenant.beta_base_url + url[4:]
    status, body, _ = await get_json(tenant, url, token)
    assert status == 200, body
    fixture = _load(fixture_name)
    assert body["value"], "the simulator served an empty collection; nothing to compare"
    for key in set(fixture) - PAGING_KEYS - {"value"}:
        assert key in body, f"top-level {key} missing"
    assert shape_errors(fixture["value"], body["value"]) == []
    if "@odata.nextLink" in fixture:  # the request above asks for a small page so that a nextLink is due
        assert body["@odata.nextLink"].startswith(tenant.graph_base_url.rsplit("/", 1)[0] + "/")


async def test_education_user_has_every_key_of_the_documented_user(tenant):
    status, body, _ = await get_json(tenant, f"/education/users/{ANA}", await app_token(tenant))
    assert status == 200, body
    assert shape_errors(_load("education-user-get.json")["value"], body) == []
