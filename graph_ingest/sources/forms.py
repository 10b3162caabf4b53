"""Microsoft Forms responses from the audit log, mapped to classes.

Graph has no API for form responses. The audit log query API returns one record per
``SubmitResponse``/``CreateResponse`` (graph.md §1e); each gives a responder, a form id and a time. A
form belongs to a class when the class's assignments link it or its channels posted it
(``form_classes``); a response counts for a class only if the responder is enrolled there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from graph_ingest.records import EventRecord, PersonKey, parse_time

RESPONSE_OPERATIONS = {"submitresponse", "createresponse"}


_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True, slots=True)
class FormResponse:
    record_id: str
    form_id: str
    responder_id: str | None  # AAD object id, when the record names one (auditData.ResponderId)
    upn: str | None  # the record's userId / userPrincipalName
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
        upn = rec.get("userPrincipalName") or rec.get("userId") or audit.get("UserId")
        rid = audit.get("ResponderId") or rec.get("userId")
        responder_id = str(rid) if rid and _GUID.match(str(rid)) else None
        when = parse_time(rec.get("createdDateTime"))
        if upn and str(upn).startswith("urn:forms:"):
            continue  # anonymous or external responders cannot be tied to a student
        if not form_id or when is None or not (responder_id or (upn and "@" in str(upn))):
            continue
        out.append(FormResponse(rec["id"], form_id, responder_id, str(upn) if upn else None, when))
    return out


def response_events(
    responses: list[FormResponse],
    form_classes: Mapping[str, set[str]],
    enrolled: Mapping[str, set[str]],
    person_key: PersonKey,
    key_by_upn: Callable[[str], str | None] = lambda _upn: None,
) -> tuple[list[EventRecord], int]:
    """Events for responses whose form is linked to a class the responder is enrolled in.

    The responder is the record's object id when it has one, else its UPN looked up through the roster
    (``key_by_upn``, which compares keyed hashes of UPNs). ``enrolled`` maps a person key to their class
    ids. Returns the events and how many responses could not be placed in any class (reported in the
    run record, never guessed).
    """
    events, unplaced = [], 0
    for r in responses:
        key = person_key(r.responder_id) if r.responder_id else key_by_upn(r.upn or "")
        classes = form_classes.get(r.form_id, set()) & enrolled.get(key, set()) if key else set()
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
