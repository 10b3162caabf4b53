"""Deleting one person's data everywhere, on request (PRODUCT.md §5).

A person is named by their AAD object id. Teachers and coaches are stored under that id; students
only under its keyed hash, so both keys are searched. The report lists every table touched and how
many rows went, so the district can answer the request in writing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, delete, or_, select, update

from pli_pulse.pseudonym import Pseudonymizer
from store import schema as s


@dataclass
class ForgetReport:
    aad_object_id: str
    matched_role: str | None
    removed: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.removed.values())


def forget_person(engine: Engine, aad_object_id: str, pseudonymizer: Pseudonymizer) -> ForgetReport:
    keys = [aad_object_id, pseudonymizer.student(aad_object_id)]
    with engine.begin() as conn:
        row = conn.execute(select(s.people.c.role).where(s.people.c.person_key.in_(keys))).first()
        report = ForgetReport(aad_object_id, row.role if row else None)

        def gone(name: str, stmt) -> None:
            n = conn.execute(stmt).rowcount or 0
            report.removed[name] = report.removed.get(name, 0) + n

        ev = s.activity_events.c
        gone(
            "activity_events",
            delete(s.activity_events).where(or_(ev.actor_key.in_(keys), ev.target_key.in_(keys))),
        )
        gone("submissions", delete(s.submissions).where(s.submissions.c.student_key.in_(keys)))
        gone("memberships", delete(s.memberships).where(s.memberships.c.person_key.in_(keys)))
        gone("community_members", delete(s.community_members).where(s.community_members.c.person_key.in_(keys)))
        gone("teacher_optins", delete(s.teacher_optins).where(s.teacher_optins.c.person_key.in_(keys)))
        gone("exemplar_votes", delete(s.exemplar_votes).where(s.exemplar_votes.c.person_key.in_(keys)))
        gone(
            "measure_results",
            delete(s.measure_results).where(
                s.measure_results.c.scope == "teacher", s.measure_results.c.scope_id.in_(keys)
            ),
        )
        # An exemplar a coach wrote stays useful to the community; only its authorship is removed.
        n = conn.execute(update(s.exemplars).where(s.exemplars.c.author_key.in_(keys)).values(author_key=None)).rowcount
        report.removed["exemplars (authorship removed)"] = n or 0
        gone("people", delete(s.people).where(s.people.c.person_key.in_(keys)))
    report.removed = {k: v for k, v in report.removed.items()}
    return report
