"""Assignments and submissions: who submitted, when, and when feedback came back. Never the grade.

A Forms quiz is recognised from an assignment resource's URL on the Forms hosts (Graph has no Forms
resource type). Outcomes are read only to learn *whether and when* feedback or points were returned;
the feedback text and points themselves are dropped here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from graph_ingest.forms_links import form_id_from_url
from graph_ingest.records import AssignmentRecord, EventRecord, FormLink, PersonKey, SubmissionRecord, parse_time


def _resource_form_id(resource: dict) -> str | None:
    inner = resource.get("resource") or resource  # list items wrap the resource; $expand may not
    for value in inner.values():
        if isinstance(value, str) and value.startswith("https://"):
            fid = form_id_from_url(value)
            if fid:
                return fid
    return None


@dataclass
class AssignmentPage:
    assignments: list[AssignmentRecord] = field(default_factory=list)
    form_links: list[FormLink] = field(default_factory=list)


def parse_assignments(doc: dict, class_id: str) -> AssignmentPage:
    page = AssignmentPage()
    for a in doc.get("value", ()):
        if a.get("@removed"):
            continue
        form_id = next((f for f in map(_resource_form_id, a.get("resources") or ()) if f), None)
        page.assignments.append(
            AssignmentRecord(
                assignment_id=a["id"],
                class_id=a.get("classId") or class_id,
                has_forms_resource=form_id is not None,
                form_id=form_id,
                assigned_at=parse_time(a.get("assignedDateTime")),
                due_at=parse_time(a.get("dueDateTime")),
                status=a.get("status"),
            )
        )
        if form_id:
            page.form_links.append(FormLink(form_id, class_id, "assignment"))
    return page


def _returned_at(sub: dict):
    """When feedback or points reached the student: the return time, else the newest published outcome."""
    returned = parse_time(sub.get("returnedDateTime"))
    if returned is not None:
        return returned
    times = []
    for outcome in sub.get("outcomes") or ():
        for key in ("publishedFeedback", "publishedPoints"):
            published = outcome.get(key)
            if published:
                t = parse_time(published.get("feedbackDateTime") or published.get("gradedDateTime"))
                times.append(t or parse_time(outcome.get("lastModifiedDateTime")))
    times = [t for t in times if t is not None]
    return max(times) if times else None


@dataclass
class SubmissionPage:
    submissions: list[SubmissionRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)


def parse_submissions(doc: dict, *, class_id: str, assignment_id: str, person_key: PersonKey) -> SubmissionPage:
    page = SubmissionPage()
    for sub in doc.get("value", ()):
        student = (sub.get("recipient") or {}).get("userId")
        if not student:
            continue  # group submissions carry no single student
        key = person_key(student)
        submitted = parse_time(sub.get("submittedDateTime"))
        returned = _returned_at(sub)
        page.submissions.append(
            SubmissionRecord(sub["id"], assignment_id, class_id, key, submitted, returned, sub.get("status"))
        )
        if submitted is not None:
            page.events.append(
                EventRecord(
                    f"assignments:submission:{sub['id']}",
                    "assignments",
                    "submission",
                    key,
                    submitted,
                    class_id=class_id,
                    object_id=assignment_id,
                )
            )
        if returned is not None:
            returner = ((sub.get("returnedBy") or {}).get("user") or {}).get("id")
            page.events.append(
                EventRecord(
                    f"assignments:returned:{sub['id']}",
                    "assignments",
                    "feedback_returned",
                    person_key(returner) if returner else key,
                    returned,
                    class_id=class_id,
                    target_key=key,
                    object_id=assignment_id,
                )
            )
    return page
