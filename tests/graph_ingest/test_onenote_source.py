"""OneNote edits are attributed through section groups, never guessed."""

from graph_ingest.sources.onenote import names_index, page_edits, parse_sections, student_groups

KEY = "k:{}".format


def section(sid, group, by, at):
    return {
        "id": sid,
        "parentSectionGroup": {"id": group},
        "lastModifiedBy": {"user": {"id": by}},
        "lastModifiedDateTime": at,
    }


def page(pid, sid, at):
    return {"id": pid, "parentSection": {"id": sid}, "lastModifiedDateTime": at}


GROUPS = {
    "value": [
        {"id": "g-ana", "displayName": "Ana López"},
        {"id": "g-collab", "displayName": "_Collaboration Space"},
        {"id": "g-lib", "displayName": "_Content Library"},
    ]
}


def test_a_students_own_section_group_is_matched_by_name_in_memory():
    owners, collab = student_groups(GROUPS, names_index({"ana-id": "ana lópez", "ben-id": "Ben Okafor"}))
    assert owners == {"g-ana": "ana-id"}
    assert collab == {"g-collab"}


def test_two_students_with_the_same_name_are_told_apart_by_the_groups_last_editor_or_not_at_all():
    groups = {
        "value": [
            {"id": "g1", "displayName": "Sam Lee", "lastModifiedBy": {"user": {"id": "sam-2"}}},
            {"id": "g2", "displayName": "Sam Lee", "lastModifiedBy": {"user": {"id": "teacher"}}},
        ]
    }
    owners, _ = student_groups(groups, names_index({"sam-1": "Sam Lee", "sam-2": "Sam Lee"}))
    assert owners == {"g1": "sam-2"}


def test_pages_are_attributed_to_the_group_owner_or_the_collaboration_spaces_last_editor():
    sections = parse_sections(
        {
            "value": [
                section("s-ana", "g-ana", "teacher", "2026-11-16T18:00:00Z"),
                section("s-col", "g-collab", "ben-id", "2026-11-17T19:00:00Z"),
                section("s-lib", "g-lib", "teacher", "2026-11-10T19:00:00Z"),
            ]
        }
    )
    pages = {
        "value": [
            page("p1", "s-ana", "2026-11-16T18:00:00Z"),
            page("p2", "s-col", "2026-11-17T19:00:00Z"),  # the section's latest edit: Ben
            page("p3", "s-col", "2026-11-12T19:00:00Z"),  # an older collaboration edit: author unknown
            page("p4", "s-lib", "2026-11-10T19:00:00Z"),  # teacher material
        ]
    }
    edits = page_edits(
        pages, class_id="c", sections=sections, owners={"g-ana": "ana-id"}, collab_groups={"g-collab"}, person_key=KEY
    )
    assert [(e.kind, e.actor_key) for e in edits.events] == [
        ("notebook_edit", "k:ana-id"),
        ("collab_edit", "k:ben-id"),
    ]
    assert edits.unattributed == 1
