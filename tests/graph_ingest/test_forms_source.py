"""Forms responses from the audit log count for a class only when the form and the student both belong to it."""

from graph_ingest.sources.forms import parse_audit_records, response_events

KEY = "k:{}".format


ANA = "11111111-1111-4111-8111-111111111111"
CY = "33333333-3333-4333-8333-333333333333"


def record(rid, op, upn, form, when="2026-11-17T18:00:00Z", responder=None):
    audit = {"FormId": form, **({"ResponderId": responder} if responder else {})}
    return {
        "id": rid,
        "operation": op,
        "userId": upn,
        "userPrincipalName": upn,
        "createdDateTime": when,
        "auditData": audit,
    }


def test_only_response_operations_become_responses_and_anonymous_ones_are_dropped():
    doc = {
        "value": [
            record("1", "SubmitResponse", "ana@d.edu", "F1", responder=ANA),
            record("2", "CreateResponse", "ben@d.edu", "F1"),
            record("3", "ViewForm", "ana@d.edu", "F1"),
            record("4", "SubmitResponse", "urn:forms:anonymous#x@forms.office.com", "F1"),
        ]
    }
    assert [(r.record_id, r.responder_id, r.upn) for r in parse_audit_records(doc)] == [
        ("1", ANA, "ana@d.edu"),
        ("2", None, "ben@d.edu"),
    ]


def test_a_response_is_placed_in_the_class_that_links_the_form_and_enrols_the_student():
    responses = parse_audit_records(
        {
            "value": [
                record("1", "SubmitResponse", "ana@d.edu", "F1", responder=ANA),
                record("2", "SubmitResponse", "cy@d.edu", "F1", responder=CY),
                record("3", "SubmitResponse", "dee@d.edu", "F1"),
            ]
        }
    )
    events, unplaced = response_events(
        responses,
        form_classes={"F1": {"bio-1", "bio-2"}},
        enrolled={f"k:{ANA}": {"bio-2", "math-1"}, f"k:{CY}": {"art-1"}, "k:dee": {"bio-1"}},
        person_key=KEY,
        key_by_upn={"dee@d.edu": "k:dee"}.get,
    )
    assert [(e.class_id, e.actor_key, e.object_id, e.kind) for e in events] == [
        ("bio-2", f"k:{ANA}", "F1", "form_response"),
        ("bio-1", "k:dee", "F1", "form_response"),
    ]
    assert unplaced == 1
