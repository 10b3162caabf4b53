"""Forms responses from the audit log count for a class only when the form and the student both belong to it."""

from graph_ingest.sources.forms import parse_audit_records, response_events

KEY = "k:{}".format


def record(rid, op, user, form, when="2026-11-17T18:00:00Z"):
    return {"id": rid, "operation": op, "userId": user, "createdDateTime": when, "auditData": {"FormId": form}}


def test_only_response_operations_become_responses_and_anonymous_ones_are_dropped():
    doc = {
        "value": [
            record("1", "SubmitResponse", "ana", "F1"),
            record("2", "CreateResponse", "ben", "F1"),
            record("3", "ViewForm", "ana", "F1"),
            record("4", "SubmitResponse", "urn:forms:anonymous#x@forms.office.com", "F1"),
        ]
    }
    assert [(r.record_id, r.responder) for r in parse_audit_records(doc)] == [("1", "ana"), ("2", "ben")]


def test_a_response_is_placed_in_the_class_that_links_the_form_and_enrols_the_student():
    responses = parse_audit_records(
        {"value": [record("1", "SubmitResponse", "ana", "F1"), record("2", "SubmitResponse", "cy", "F1")]}
    )
    events, unplaced = response_events(
        responses,
        form_classes={"F1": {"bio-1", "bio-2"}},
        enrolled={"k:ana": {"bio-2", "math-1"}, "k:cy": {"art-1"}},
        person_key=KEY,
    )
    assert [(e.class_id, e.actor_key, e.object_id, e.kind) for e in events] == [
        ("bio-2", "k:ana", "F1", "form_response")
    ]
    assert unplaced == 1
