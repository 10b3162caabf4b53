"""OneNote class notebooks: edits attributed through section groups, never through page content.

Pages carry no author in Graph (graph.md §1d); sections and section groups carry ``lastModifiedBy``.
So an edit is attributed:
- in a student's own section group (named after the student), to that student: the group's name is
  matched, in memory only, against the class roster's display names and then forgotten;
- in the Collaboration Space, to the section's ``lastModifiedBy`` when the page's modification is the
  section's latest one (the only case Graph can vouch for). Other collaboration edits stay
  unattributed and are counted, not guessed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from graph_ingest.records import EventRecord, PersonKey, parse_time

COLLABORATION_NAMES = {"collaboration space", "espacio de colaboración", "espace de collaboration"}


def _norm(name: str) -> str:
    text = unicodedata.normalize("NFKC", name).casefold().strip()
    return text.lstrip("_").strip()


def is_collaboration_space(name: str) -> bool:
    return _norm(name) in COLLABORATION_NAMES


@dataclass(frozen=True, slots=True)
class SectionInfo:
    section_id: str
    group_id: str | None
    last_modified_by: str | None
    last_modified_at: object


@dataclass
class NotebookEdits:
    events: list[EventRecord] = field(default_factory=list)
    unattributed: int = 0


def student_groups(section_groups: dict, names_to_ids: dict[str, set[str]]) -> tuple[dict[str, str], set[str]]:
    """Map student section-group ids to student AAD ids, and find the Collaboration Space group ids.

    Two students in a class can share a name; then the group's last editor decides, if it is one of
    them, and otherwise the group stays unattributed rather than guessed.
    """
    owners, collab = {}, set()
    for g in section_groups.get("value", ()):
        name = g.get("displayName") or ""
        if is_collaboration_space(name):
            collab.add(g["id"])
            continue
        candidates = names_to_ids.get(_norm(name), set())
        if len(candidates) == 1:
            owners[g["id"]] = next(iter(candidates))
            continue
        editor = ((g.get("lastModifiedBy") or {}).get("user") or {}).get("id")
        if editor in candidates:
            owners[g["id"]] = editor
    return owners, collab


def parse_sections(doc: dict) -> dict[str, SectionInfo]:
    out = {}
    for s in doc.get("value", ()):
        by = ((s.get("lastModifiedBy") or {}).get("user") or {}).get("id")
        group = (s.get("parentSectionGroup") or {}).get("id")
        out[s["id"]] = SectionInfo(s["id"], group, by, parse_time(s.get("lastModifiedDateTime")))
    return out


def page_edits(
    pages: dict,
    *,
    class_id: str,
    sections: dict[str, SectionInfo],
    owners: dict[str, str],
    collab_groups: set[str],
    person_key: PersonKey,
) -> NotebookEdits:
    result = NotebookEdits()
    for p in pages.get("value", ()):
        section = sections.get((p.get("parentSection") or {}).get("id"))
        when = parse_time(p.get("lastModifiedDateTime"))
        if section is None or when is None:
            continue
        if section.group_id in owners:
            actor, kind = owners[section.group_id], "notebook_edit"
        elif section.group_id in collab_groups:
            if section.last_modified_by and section.last_modified_at == when:
                actor, kind = section.last_modified_by, "collab_edit"
            else:
                result.unattributed += 1
                continue
        else:
            continue  # Content Library and Teacher Only: teachers' material, not student activity
        result.events.append(
            EventRecord(
                f"onenote:{kind}:{p['id']}:{p.get('lastModifiedDateTime')}",
                "onenote",
                kind,
                person_key(actor),
                when,
                class_id=class_id,
                object_id=section.section_id,
            )
        )
    return result


def names_index(names_by_id: dict[str, str]) -> dict[str, set[str]]:
    """Normalised display name -> AAD ids, for matching section groups; held in memory for one class only."""
    index: dict[str, set[str]] = {}
    for aad, name in names_by_id.items():
        if name:
            index.setdefault(_norm(name), set()).add(aad)
    return index
