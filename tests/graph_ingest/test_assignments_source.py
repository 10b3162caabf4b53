"""Assignments give submission and return times and Forms quizzes; grades never leave the parser."""

import orjson

from graph_ingest.sources.assignments import parse_assignments, parse_submissions

KEY = "k:{}".format


def load(shared_dir, name):
    return orjson.loads((shared_dir / "fixtures" / "graph" / name).read_bytes())


def test_the_published_submission_page_gives_its_return_time_but_no_grade(shared_dir):
    page = parse_submissions(
        load(shared_dir, "education-submissions-expand-outcomes.json"), class_id="c", assignment_id="a", person_key=KEY
    )
    returned = [s for s in page.submissions if s.returned_at is not None]
    assert returned
    first = page.submissions[0]
    assert first.student_key == "k:80cefd93-8d88-40e2-b5d3-67898383e226"
    assert first.returned_at.isoformat().startswith("2021-10-13T15:57:00.034986")
    ret = next(e for e in page.events if e.kind == "feedback_returned")
    assert ret.actor_key == "k:f3a5344e-dbde-48b0-be24-b5b62a243836" and ret.target_key == first.student_key
    assert "points" not in repr(page).lower().replace("published", "")


def test_the_published_assignment_list_parses_with_resources(shared_dir):
    page = parse_assignments(load(shared_dir, "education-assignments-list-expand-resources.json"), "class-1")
    assert page.assignments and not any(a.has_forms_resource for a in page.assignments)


def test_a_forms_link_resource_marks_the_assignment_as_a_forms_quiz():
    doc = {
        "value": [
            {
                "id": "a1",
                "classId": "class-1",
                "status": "assigned",
                "assignedDateTime": "2026-11-16T16:00:00Z",
                "dueDateTime": "2026-11-18T07:59:00Z",
                "resources": [
                    {
                        "id": "r1",
                        "resource": {
                            "@odata.type": "#microsoft.graph.educationLinkResource",
                            "displayName": "Exit ticket",
                            "link": "https://forms.office.com/Pages/ResponsePage.aspx?id=QUIZ9",
                        },
                    }
                ],
            }
        ]
    }
    page = parse_assignments(doc, "class-1")
    (a,) = page.assignments
    assert a.has_forms_resource and a.form_id == "QUIZ9"
    assert [(f.form_id, f.class_id, f.seen_via) for f in page.form_links] == [("QUIZ9", "class-1", "assignment")]


def test_published_points_without_a_return_time_still_count_as_returned_feedback():
    doc = {
        "value": [
            {
                "id": "s1",
                "status": "submitted",
                "submittedDateTime": "2026-11-16T18:00:00Z",
                "recipient": {"userId": "stu"},
                "outcomes": [
                    {
                        "@odata.type": "#microsoft.graph.educationPointsOutcome",
                        "lastModifiedDateTime": "2026-11-17T20:00:00Z",
                        "points": {"points": 9.0},
                        "publishedPoints": {"points": 9.0, "gradedDateTime": "2026-11-17T19:30:00Z"},
                    }
                ],
            }
        ]
    }
    page = parse_submissions(doc, class_id="c", assignment_id="a", person_key=KEY)
    (s,) = page.submissions
    assert s.returned_at.isoformat() == "2026-11-17T19:30:00+00:00"
    assert "9.0" not in repr(page)
    assert sorted(e.kind for e in page.events) == ["feedback_returned", "submission"]


def test_an_unsubmitted_assignment_gives_no_submission_event():
    doc = {"value": [{"id": "s2", "status": "working", "recipient": {"userId": "stu"}}]}
    page = parse_submissions(doc, class_id="c", assignment_id="a", person_key=KEY)
    assert page.events == [] and page.submissions[0].submitted_at is None
