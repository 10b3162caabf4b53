"""Microsoft Forms responses from the audit log, mapped to classes.

Graph has no API for form responses. The audit log query API returns one record per
``SubmitResponse``/``CreateResponse`` (graph.md §1e); each gives a responder, a form id and a time. A
form belongs to a class when the class's assignments link it or its channels posted it
(``form_classes``); a response counts for a class only if the responder is enrolled there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from graph_ingest.records import EventRecord, PersonKey, parse_time

RESPONSE_OPERATIONS = {"submitresponse", "createresponse"}


@dataclass(frozen=True, slots=True)
class FormResponse:
    record_id: str
    form_id: str
    responder: str  # AAD object id (or UPN when the record carries no object id)
    responded_at: datetime


def _form_id(audit: Mapping) -> str | None:
    for key in ("FormId", "formId", "FormID"):
        if audit.get(key):
            return str(audit[key])
    return None


def parse_audit_records(doc: dict) -> list[FormResponse]:
    out = []
    for rec in doc.get("value", ()):
        if (rec.get("operation") or "").lower() not in RESPONSE_OPERATIONS:
            continue
        audit = rec.get("auditData") or {}
        form_id = _form_id(audit)
        responder = rec.get("userId") or audit.get("ResponderId") or rec.get("userPrincipalName")
        when = parse_time(rec.get("createdDateTime"))
        if not form_id or not responder or when is None:
            continue  # anonymous or external responders cannot be tied to a student
        if str(responder).startswith("urn:forms:"):
            continue
        out.append(FormResponse(rec["id"], form_id, str(responder), when))
    return out


def response_events(
    responses: list[FormResponse],
    form_classes: Mapping[str, set[str]],
    enrolled: Mapping[str, set[str]],
    person_key: PersonKey,
) -> tuple[list[EventRecord], int]:
    """Events for responses whose form is linked to a class the responder is enrolled in.

    ``enrolled`` maps a person key to their class ids. Returns the events and how many responses
    could not be placed in any class (reported in the run record, never guessed).
    """
    events, unplaced = [], 0
    for r in responses:
        key = person_key(r.responder)
        classes = form_classes.get(r.form_id, set()) & enrolled.get(key, set())
        if not classes:
            unplaced += 1
            continue
        for class_id in sorted(classes):
            events.append(
                EventRecord(
                    f"forms:response:{r.record_id}:{class_id}",
                    "forms",
                    "form_response",
                    key,
                    r.responded_at,
                    class_id=class_id,
                    object_id=r.form_id,
                )
            )
    return events, unplaced
