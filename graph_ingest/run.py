"""One ingest run: roster, then Teams, Assignments, Forms and OneNote, into the store.

Every source writes page by page with its cursor in the same transaction, so a run can be killed at
any point and simply started again. The run record holds, per source, the requests, 429s, retries,
pages and events, and the duration.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.education.classes.item.assignments.assignments_request_builder import (
    AssignmentsRequestBuilder,
)
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import Engine, select

from graph_ingest.batch import BatchItem, batch_get
from graph_ingest.collect_teams import collect_channel, saved_cursors, scope_key
from graph_ingest.errors import DelegatedTokenRequired, Fatal, IngestError, Skippable
from graph_ingest.fetch import GraphFetcher, SourceStats
from graph_ingest.paging import pages
from graph_ingest.people import PersonKeys
from graph_ingest.sources import assignments as asg
from graph_ingest.sources import forms, onenote, roster
from graph_ingest.sources.pli_roster import PliRosterRow
from graph_ingest.sources.teams import Scope
from graph_ingest.state import finish_run, last_sweeps, load_cursors, save_sweeps, start_run
from graph_ingest.writer import write_page_async
from store import schema as s
from store.upsert import upsert

log = logging.getLogger("pli_pulse.ingest")

SOURCES = ("roster", "teams", "assignments", "forms", "onenote")
SWEEPS = ("roster", "channels", "submissions", "onenote")
SWEEP_SOURCE = {"roster": "roster", "channels": "teams", "submissions": "assignments", "onenote": "onenote"}
AUDIT_OVERLAP = timedelta(days=1)


@dataclass
class IngestOptions:
    sources: tuple[str, ...] = SOURCES
    full: bool = False  # ignore saved cursors and read everything again
    since: datetime | None = None  # lower bound for a first read of channel messages and audit records
    term_start: date | None = None
    today: date | None = None  # district date of this run (first-seen date for new members)
    audit_poll_s: float = 1.0
    #: The end of the window this run collects (audit-log queries need an explicit end). Real runs use the
    #: wall clock; the simulated tenant's demo and tests pass its simulated "now".
    now: datetime | None = None
    #: Submissions have no delta in Graph v1.0: they are re-listed for assignments due within this many
    #: days of now, and for assignments with work still waiting for feedback.
    submission_window_days: int = 21
    #: Sources Graph offers no delta for (the roster, channel lists, open assignments' submissions, OneNote)
    #: are swept in full at most this often; between sweeps a run makes only delta and cursor calls.
    sweep_every: timedelta = timedelta(hours=6)


@dataclass
class SourceOutcome:
    status: str = "ok"  # ok | skipped | failed
    message: str = ""
    scopes: int = 0
    skipped_scopes: int = 0
    duration_s: float = 0.0


@dataclass
class IngestSummary:
    run_id: int
    mode: str
    status: str
    duration_s: float
    sources: dict[str, dict] = field(default_factory=dict)
    retention: dict[str, int] = field(default_factory=dict)  # rows purged as older than the retention period

    def as_dict(self) -> dict:
        return {
            "retention_purged": self.retention,
            "run_id": self.run_id,
            "mode": self.mode,
            "status": self.status,
            "duration_s": round(self.duration_s, 3),
            "sources": self.sources,
        }


ONENOTE_TOP = 100  # the documented maximum page size; the default of 20 would cost five times the requests


def top(builder, n: int = ONENOTE_TOP) -> RequestConfiguration:
    """A request configuration asking ``builder`` for ``n`` items per page, through its own query-parameter type."""
    params_type = next(v for k, v in vars(type(builder)).items() if k.endswith("GetQueryParameters"))
    return RequestConfiguration(query_parameters=params_type(top=n))


def open_assignments(engine: Engine, class_id: str, now: datetime, window_days: int) -> set[str]:
    """Assignments whose submissions may still change: recently due, or with work awaiting feedback."""
    since = now - timedelta(days=window_days)
    a, sub = s.assignments.c, s.submissions.c
    with engine.connect() as conn:
        recent = conn.execute(
            select(a.assignment_id).where(a.class_id == class_id, (a.due_at.is_(None)) | (a.due_at >= since))
        ).scalars()
        waiting = conn.execute(
            select(sub.assignment_id).where(
                sub.class_id == class_id, sub.submitted_at.is_not(None), sub.returned_at.is_(None)
            )
        ).scalars()
        return set(recent) | set(waiting)


class Progressor:
    """A rich progress bar on a terminal; a structured log line every few steps otherwise."""

    def __init__(self, enabled: bool | None = None):
        self.tty = sys.stderr.isatty() if enabled is None else enabled
        self._progress = (
            Progress(
                TextColumn("{task.description:<12}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            if self.tty
            else None
        )

    def __enter__(self):
        if self._progress:
            self._progress.start()
        return self

    def __exit__(self, *exc):
        if self._progress:
            self._progress.stop()

    def track(self, name: str, total: int) -> Callable[[], None]:
        if self._progress:
            task = self._progress.add_task(name, total=total)
            return lambda: self._progress.advance(task)
        done = [0]
        step = max(1, total // 10)

        def advance():
            done[0] += 1
            if done[0] % step == 0 or done[0] == total:
                log.info("ingest progress", extra={"source": name, "done": done[0], "total": total})

        return advance


#: Channels read at once. Graph allows about 20 channel-message requests per second per tenant, so 16 in flight
#: keep that budget busy at real latencies; more only adds idle pooled connections, which httpcore re-checks
#: (a socket call each) on every request.
CHANNELS_IN_FLIGHT = 16


async def gather_bounded(items: Iterable, fn: Callable[[object], Awaitable], limit: int = 16) -> list:
    """Run ``fn`` over items with at most ``limit`` in flight; exceptions are returned, not raised."""
    sem = asyncio.Semaphore(limit)

    async def one(item):
        async with sem:
            try:
                return await fn(item)
            except IngestError as exc:
                return exc

    return await asyncio.gather(*(one(i) for i in items))


@dataclass
class Roster:
    """What the later sources need to know about the roster, in memory for one run."""

    class_ids: list[str]
    teams: dict[str, str]  # class id -> team id (the same id for class teams)
    enrolled: dict[str, set[str]]  # person key -> class ids
    community_ids: list[str]
    student_names: dict[str, dict[str, str]]  # class id -> {aad id: display name}, never stored


class Ingest:
    def __init__(
        self,
        *,
        engine: Engine,
        client,
        fetcher: GraphFetcher,
        person_keys: PersonKeys,
        pli_roster: list[PliRosterRow],
        options: IngestOptions,
        delegated_fetcher: GraphFetcher | None = None,
        delegated_refusal: DelegatedTokenRequired | None = None,
        delegated_client=None,
        progress: Progressor | None = None,
    ):
        self.engine = engine
        self.client = client
        self.fetcher = fetcher
        self.keys = person_keys
        self.pli = pli_roster
        self.opt = options
        self.delegated_fetcher = delegated_fetcher
        self.delegated_refusal = delegated_refusal  # why no delegated client could be made, if one was wanted
        self.delegated_client = delegated_client
        self.progress = progress or Progressor(False)
        self.run_id: int | None = None
        self.outcomes: dict[str, SourceOutcome] = {}
        self.sweeps: set[str] = set(SWEEPS)  # decided per run by _sweeps_due

    async def get(self, request, *, source: str, service: str, scope: str | None = None) -> dict:
        return await self.fetcher.get_json(request, source=source, service=service, scope=scope)

    async def all_values(
        self, request, *, source: str, service: str, scope: str | None = None, fetcher: GraphFetcher | None = None
    ) -> list[dict]:
        """Every item of every page from ``request`` (through ``fetcher``, the app-only one by default)."""
        values: list[dict] = []
        fetcher = fetcher or self.fetcher

        async def get(r):
            return await fetcher.get_json(r, source=source, service=service, scope=scope)

        async for page in pages(get, request):
            values.extend(page.doc.get("value", ()))
        return values

    # ---- roster ---------------------------------------------------------------------------------------
    def roster_from_store(self) -> Roster:
        """Between sweeps: the roster as the last sweep stored it (student names are not stored, nor needed)."""
        with self.engine.connect() as conn:
            class_ids = sorted(conn.execute(select(s.classes.c.class_id)).scalars())
            enrolled: dict[str, set[str]] = {}
            for row in conn.execute(
                select(s.memberships.c.person_key, s.memberships.c.class_id).where(s.memberships.c.left_on.is_(None))
            ):
                enrolled.setdefault(row.person_key, set()).add(row.class_id)
            staff = conn.execute(select(s.people.c.aad_object_id).where(s.people.c.role != "student")).scalars()
            self.keys.add_staff(a for a in staff if a)
            communities = sorted(conn.execute(select(s.communities.c.community_id)).scalars())
        self.outcomes["roster"].message = "stored roster used (read in full at most every sweep interval)"
        return Roster(class_ids, {c: c for c in class_ids}, enrolled, communities, {})

    async def roster(self) -> Roster:
        src = "roster"
        if "roster" not in self.sweeps:
            return self.roster_from_store()
        cls_values = await self.all_values(
            self.client.education.classes.to_get_request_information(), source=src, service="education"
        )
        classes = roster.parse_classes({"value": cls_values})
        school_values = await self.all_values(
            self.client.education.schools.to_get_request_information(), source=src, service="education"
        )
        schools = roster.parse_schools({"value": school_values})
        school_of: dict[str, str] = {}

        async def school_classes(school):
            ids = await self.all_values(
                self.client.education.schools.by_education_school_id(
                    school.school_id
                ).classes.to_get_request_information(),
                source=src,
                service="education",
            )
            for c in ids:
                school_of[c["id"]] = school.school_id

        await gather_bounded(schools, school_classes)
        pli = {r.class_id: r for r in self.pli}
        staff = {r.teacher_aad_id for r in self.pli}
        members: dict[str, list[roster.Member]] = {}
        names: dict[str, dict[str, str]] = {}
        advance = self.progress.track("roster", len(classes))

        async def class_members(c: roster.ClassInfo):
            b = self.client.education.classes.by_education_class_id(c.class_id)
            teacher_ids = {
                t["id"]
                for t in await self.all_values(b.teachers.to_get_request_information(), source=src, service="education")
            }
            raw = await self.all_values(b.members.to_get_request_information(), source=src, service="education")
            parsed = roster.parse_members({"value": raw}, teacher_ids=teacher_ids)
            members[c.class_id] = parsed
            names[c.class_id] = {u["id"]: u.get("displayName") or "" for u in raw if u["id"] not in teacher_ids}
            staff.update(m.aad_id for m in parsed if m.role == "teacher")
            advance()

        failures = [r for r in await gather_bounded(classes, class_members) if isinstance(r, Exception)]
        for f in failures:
            if isinstance(f, Fatal):
                raise f
        self.keys.add_staff(staff)
        today = self.opt.today or datetime.now(UTC).date()
        with self.engine.begin() as conn:
            known = {
                (r.class_id, r.person_key)
                for r in conn.execute(select(s.memberships.c.class_id, s.memberships.c.person_key))
            }
            first_run = not known
            upsert(
                conn,
                s.schools,
                [
                    {"school_id": x.school_id, "display_name": x.display_name, "external_id": x.external_id}
                    for x in schools
                ],
                update=["display_name"],
            )
            upsert(
                conn,
                s.classes,
                [
                    {
                        "class_id": c.class_id,
                        "school_id": school_of.get(c.class_id),
                        "display_name": c.display_name,
                        "subject": c.subject,
                        "grade": c.grade,
                        "is_pli": c.class_id in pli,
                        "cohort": pli[c.class_id].cohort if c.class_id in pli else None,
                        "partner_school": pli[c.class_id].partner_school if c.class_id in pli else None,
                        "updated_at": datetime.now(UTC),
                    }
                    for c in classes
                ],
                update=[
                    "school_id",
                    "display_name",
                    "subject",
                    "grade",
                    "is_pli",
                    "cohort",
                    "partner_school",
                    "updated_at",
                ],
            )
            people, rows = {}, []
            for class_id, ms in members.items():
                for m in ms:
                    key = self.keys(m.aad_id)
                    if m.role == "teacher":
                        people[key] = {
                            "person_key": key,
                            "role": "teacher",
                            "aad_object_id": m.aad_id,
                            "display_name": m.display_name,
                            "upn_key": None,
                        }
                    else:
                        upn_key = self.keys.pseudonymizer.upn(m.upn) if m.upn else None
                        people.setdefault(
                            key,
                            {
                                "person_key": key,
                                "role": "student",
                                "aad_object_id": None,
                                "display_name": None,
                                "upn_key": upn_key,
                            },
                        )
                    joined = None if first_run or (class_id, key) in known else today
                    rows.append(
                        {"class_id": class_id, "person_key": key, "role": m.role, "joined_on": joined, "left_on": None}
                    )
            for r in self.pli:
                people.setdefault(
                    r.teacher_aad_id,
                    {
                        "person_key": r.teacher_aad_id,
                        "role": "teacher",
                        "aad_object_id": r.teacher_aad_id,
                        "display_name": r.teacher_name,
                        "upn_key": None,
                    },
                )
            upsert(
                conn,
                s.people,
                [{**p, "created_at": datetime.now(UTC)} for p in people.values()],
                update=["display_name"],
            )
            upsert(conn, s.memberships, [r for r in rows if (r["class_id"], r["person_key"]) not in known])
            current = {(r["class_id"], r["person_key"]) for r in rows}
            for class_id, key in known - current:  # left the class since the last run
                conn.execute(
                    s.memberships.update()
                    .where(
                        s.memberships.c.class_id == class_id,
                        s.memberships.c.person_key == key,
                        s.memberships.c.left_on.is_(None),
                    )
                    .values(left_on=today)
                )
            communities = {r.community_id: r.community_name for r in self.pli}
            upsert(
                conn,
                s.communities,
                [{"community_id": cid, "display_name": name, "team_id": cid} for cid, name in communities.items()],
                update=["display_name"],
            )
            upsert(
                conn,
                s.community_classes,
                [{"community_id": r.community_id, "class_id": r.class_id} for r in self.pli if r.class_id in members],
            )
            upsert(
                conn,
                s.community_members,
                [{"community_id": r.community_id, "person_key": r.teacher_aad_id, "role": "teacher"} for r in self.pli],
            )
        enrolled: dict[str, set[str]] = {}
        for class_id, ms in members.items():
            for m in ms:
                enrolled.setdefault(self.keys(m.aad_id), set()).add(class_id)
        self.outcomes[src].scopes = len(classes)
        self.outcomes[src].skipped_scopes = len(failures)
        return Roster(
            class_ids=[c.class_id for c in classes],
            teams={c.class_id: c.class_id for c in classes},
            enrolled=enrolled,
            community_ids=sorted({r.community_id for r in self.pli}),
            student_names=names,
        )

    # ---- teams ----------------------------------------------------------------------------------------
    async def teams(self, ros: Roster) -> None:
        src = "teams"
        cursors = {} if self.opt.full else saved_cursors(self.engine)
        team_scopes: list[tuple[str, str | None, str | None]] = [(t, c, None) for c, t in ros.teams.items()]
        team_scopes += [(cid, None, cid) for cid in ros.community_ids]

        async def channels(item):
            team_id, class_id, community_id = item
            values = await self.all_values(
                self.client.teams.by_team_id(team_id).channels.to_get_request_information(),
                source=src,
                service="teams",
                scope=team_id,
            )
            return [Scope(team_id, ch["id"], class_id=class_id, community_id=community_id) for ch in values]

        if "channels" in self.sweeps:
            found = await gather_bounded(team_scopes, channels)
        else:  # between sweeps, the channels are the ones whose delta links we hold
            kind = {team: (cls, com) for team, cls, com in team_scopes}
            by_team: dict[str, list[Scope]] = {}
            for key in cursors:
                team, _, channel = key.partition("/")
                if team in kind:
                    by_team.setdefault(team, []).append(Scope(team, channel, class_id=kind[team][0],
                                                              community_id=kind[team][1]))  # fmt: skip
            found = list(by_team.values())
        scopes = [sc for r in found if not isinstance(r, Exception) for sc in r]
        skipped = [r for r in found if isinstance(r, Exception)]
        advance = self.progress.track("teams", len(scopes))
        stats = self.fetcher.stats_for(src)

        async def one(scope: Scope):
            result = await collect_channel(
                engine=self.engine,
                fetcher=self.fetcher,
                client=self.client,
                scope=scope,
                person_key=self.keys,
                run_id=self.run_id,
                cursor=cursors.get(scope_key(scope)),
                since=self.opt.since,
            )
            stats.events += result.events
            advance()
            return result

        results = await gather_bounded(scopes, one, limit=CHANNELS_IN_FLIGHT)
        errors = [r for r in results if isinstance(r, Exception)] + skipped
        self._scope_errors(src, len(scopes), errors)

    # ---- assignments ----------------------------------------------------------------------------------
    async def assignments(self, ros: Roster) -> None:
        """Assignments by delta per class; submissions (no delta exists in v1.0) in $batch calls of 20.

        Submissions are read for the assignments that changed since the last run and for the ones still
        open: due within ``submission_window_days`` of now, or with work waiting for feedback.
        """
        src = "assignments"
        stats = self.fetcher.stats_for(src)
        cursors = {} if self.opt.full else load_cursors(self.engine, src)
        now = self.opt.now or datetime.now(UTC)
        advance = self.progress.track("assignments", len(ros.class_ids))
        base = self.client.request_adapter.base_url

        async def one(class_id: str):
            b = self.client.education.classes.by_education_class_id(class_id).assignments
            cursor = cursors.get(class_id)
            changed: set[str] | None = None  # None: everything is new to us
            delta_link = None
            async for page in pages(
                lambda r: self.get(r, source=src, service="assignments"), cursor or b.delta.to_get_request_information()
            ):
                if cursor is not None:
                    changed = (changed or set()) | {a["id"] for a in page.doc.get("value", ()) if "id" in a}
                delta_link = page.delta_link or delta_link
            fresh = []
            if changed is None or changed:
                q = AssignmentsRequestBuilder.AssignmentsRequestBuilderGetQueryParameters(expand=["resources"])
                values = await self.all_values(
                    b.to_get_request_information(RequestConfiguration(query_parameters=q)),
                    source=src,
                    service="assignments",
                )
                listed = asg.parse_assignments({"value": values}, class_id)
                fresh = [a for a in listed.assignments if changed is None or a.assignment_id in changed]
                await write_page_async(self.engine, run_id=self.run_id, assignments=fresh, form_links=listed.form_links)
            if changed is None:  # first read of this class: every assignment's submissions
                targets = sorted(a.assignment_id for a in fresh)
            elif "submissions" in self.sweeps:
                targets = sorted(
                    changed | open_assignments(self.engine, class_id, now, self.opt.submission_window_days)
                )
            else:  # between sweeps, only the assignments the delta says changed
                targets = sorted(changed)
            items = [
                BatchItem(aid, f"/education/classes/{class_id}/assignments/{aid}/submissions?$expand=outcomes")
                for aid in targets
            ]
            results = await batch_get(self.fetcher, base, items, source=src, service="assignments")
            for aid in targets:
                result = results.get(aid)
                if result is None or result.status == 404:
                    continue  # deleted since the list was read
                if result.status != 200:
                    raise Skippable(f"submissions of assignment {aid} answered HTTP {result.status}")
                subs = list(result.body.get("value", ()))
                if result.body.get("@odata.nextLink"):
                    subs += await self.all_values(result.body["@odata.nextLink"], source=src, service="assignments")
                parsed = asg.parse_submissions(
                    {"value": subs}, class_id=class_id, assignment_id=aid, person_key=self.keys
                )
                await self.write_counted(stats, events=parsed.events, submissions=parsed.submissions)
            if delta_link:  # saved last: a crash before this point re-reads the same changes next time
                await write_page_async(self.engine, run_id=self.run_id, cursor=(src, class_id, delta_link))
            advance()

        results = await gather_bounded(ros.class_ids, one, limit=16)
        self._scope_errors(src, len(ros.class_ids), [r for r in results if isinstance(r, Exception)])

    # ---- forms ----------------------------------------------------------------------------------------
    async def forms(self, ros: Roster) -> None:
        src = "forms"
        stats = self.fetcher.stats_for(src)
        now = self.opt.now or datetime.now(UTC)
        saved = None if self.opt.full else load_cursors(self.engine, src).get("audit")
        if saved:  # audit records can arrive late: re-read a day of overlap; the upserts make it harmless
            start = datetime.fromisoformat(saved) - AUDIT_OVERLAP
        else:
            start = self.opt.since or datetime.combine(
                self.opt.term_start or (now.date() - timedelta(days=90)), datetime.min.time(), UTC
            )
        body = {
            "displayName": f"PLI Pulse Forms responses {start:%Y-%m-%d}",
            "filterStartDateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "filterEndDateTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "recordTypeFilters": ["microsoftForms"],
            "operationFilters": ["SubmitResponse", "CreateResponse"],
        }
        query = await self.post_json(f"{self.client.request_adapter.base_url}/security/auditLog/queries", body, src)
        query_url = f"{self.client.request_adapter.base_url}/security/auditLog/queries/{query['id']}"
        for _ in range(600):
            status = (await self.get(query_url, source=src, service="audit")).get("status")
            if status == "succeeded":
                break
            if status in {"failed", "cancelled"}:
                raise Fatal(f"audit query {status}", "The Forms audit-log query did not finish; run the ingest again.")
            await asyncio.sleep(self.opt.audit_poll_s)
        values = await self.all_values(f"{query_url}/records", source=src, service="audit")
        responses = forms.parse_audit_records({"value": values})
        with self.engine.connect() as conn:
            form_classes: dict[str, set[str]] = {}
            for row in conn.execute(select(s.form_classes.c.form_id, s.form_classes.c.class_id)):
                form_classes.setdefault(row.form_id, set()).add(row.class_id)
            by_upn = {
                row.upn_key: row.person_key
                for row in conn.execute(
                    select(s.people.c.upn_key, s.people.c.person_key).where(s.people.c.upn_key.is_not(None))
                )
            }
        events, unplaced = forms.response_events(
            responses,
            form_classes,
            ros.enrolled,
            self.keys,
            key_by_upn=lambda upn: by_upn.get(self.keys.pseudonymizer.upn(upn)) if upn else None,
        )
        await self.write_counted(stats, events=events, cursor=(src, "audit", now.isoformat()))
        self.outcomes[src].scopes = len(responses)
        if unplaced:
            self.outcomes[src].message = f"{unplaced} responses to forms not linked to the responder's classes"

    async def post_json(self, url: str, body: dict, source: str) -> dict:
        import orjson
        from kiota_abstractions.method import Method
        from kiota_abstractions.request_information import RequestInformation

        info = RequestInformation()
        info.http_method = Method.POST
        info.url = url
        info.headers.try_add("Content-Type", "application/json")
        info.content = orjson.dumps(body)
        return await self.get(info, source=source, service="audit")

    # ---- onenote --------------------------------------------------------------------------------------
    async def onenote(self, ros: Roster) -> None:
        src = "onenote"
        if "onenote" not in self.sweeps:
            self.outcomes[src].message = "up to date: class notebooks are swept in full at most every sweep interval"
            return
        if self.delegated_fetcher is None and self.delegated_refusal is not None:
            raise self.delegated_refusal
        fetcher = self.delegated_fetcher or self.fetcher
        client = self.delegated_client or self.client
        stats = fetcher.stats_for(src)
        advance = self.progress.track("onenote", len(ros.class_ids))

        async def one(class_id: str):
            on = client.groups.by_group_id(class_id).onenote

            async def values(req):
                items = await self.all_values(req, source=src, service="onenote", scope=class_id, fetcher=fetcher)
                return {"value": items}

            groups = await values(on.section_groups.to_get_request_information(top(on.section_groups)))
            names = onenote.names_index(ros.student_names.get(class_id, {}))
            owners, collab = onenote.student_groups(groups, names)
            sections = onenote.parse_sections(await values(on.sections.to_get_request_information(top(on.sections))))
            page_doc = await values(on.pages.to_get_request_information(top(on.pages)))
            edits = onenote.page_edits(
                page_doc,
                class_id=class_id,
                sections=sections,
                owners=owners,
                collab_groups=collab,
                person_key=self.keys,
            )
            await self.write_counted(stats, events=edits.events)
            advance()
            return edits.unattributed

        results = await gather_bounded(ros.class_ids, one, limit=5)  # OneNote allows 5 concurrent per user
        for r in results:
            if isinstance(r, DelegatedTokenRequired):
                raise r
        self._scope_errors(src, len(ros.class_ids), [r for r in results if isinstance(r, Exception)])

    # ---- bookkeeping ----------------------------------------------------------------------------------
    async def write_counted(self, stats: SourceStats, **page) -> None:
        """Write a page of this run and add its new events to the source's count.

        Added after the await: `stats.events += await ...` reads the total before awaiting, and so loses the
        pages that other classes of the same source wrote meanwhile.
        """
        written = await write_page_async(self.engine, run_id=self.run_id, **page)
        stats.events += written

    def _scope_errors(self, source: str, total: int, errors: list[Exception]) -> None:
        out = self.outcomes[source]
        out.scopes = total
        out.skipped_scopes = len(errors)
        fatal = [e for e in errors if isinstance(e, Fatal)]
        if fatal:
            raise fatal[0]
        if errors:
            out.message = f"{len(errors)} of {total} skipped: {errors[0]}"
            for e in errors[:5]:
                log.warning("scope skipped", extra={"source": source, "reason": str(e)})

    def _sweeps_due(self, now: datetime) -> set[str]:
        """Which non-delta sources are read in full this run; OneNote needs the roster's names, so they go together."""
        if self.opt.full:
            return set(SWEEPS)
        last = last_sweeps(self.engine)
        due = {name for name in SWEEPS if name not in last or now - last[name] >= self.opt.sweep_every}
        if "onenote" in due and "onenote" in self.opt.sources:
            due.add("roster")
        return due

    async def run(self) -> IngestSummary:
        mode = "full" if self.opt.full else "incremental"
        now = self.opt.now or datetime.now(UTC)
        self.sweeps = self._sweeps_due(now)
        self.run_id = start_run(self.engine, mode)
        started = time.perf_counter()
        status = "succeeded"
        with self.progress:
            ros = None
            for source in SOURCES:
                if source not in self.opt.sources and source != "roster":
                    continue
                outcome = self.outcomes[source] = SourceOutcome()
                t0 = time.perf_counter()
                try:
                    if source == "roster":
                        ros = await self.roster()
                    else:
                        await getattr(self, source)(ros)
                except DelegatedTokenRequired as exc:
                    outcome.status, outcome.message = "skipped", exc.user_message
                    log.warning("onenote skipped", extra={"reason": exc.user_message})
                except (Fatal, Skippable) as exc:
                    outcome.status = "failed"
                    outcome.message = getattr(exc, "user_message", str(exc))
                    status = "failed"
                    log.error("source failed", extra={"source": source, "reason": outcome.message})
                    if source == "roster":
                        break
                outcome.duration_s = time.perf_counter() - t0
        if status == "succeeded":
            done = {
                n
                for n in self.sweeps
                if n == "roster" or self.outcomes.get(SWEEP_SOURCE[n], SourceOutcome()).status == "ok"
            }
            save_sweeps(self.engine, done, now)
        summary = IngestSummary(self.run_id, mode, status, time.perf_counter() - started)
        for name, outcome in self.outcomes.items():
            summary.sources[name] = {
                "status": outcome.status,
                "message": outcome.message,
                "scopes": outcome.scopes,
                "skipped_scopes": outcome.skipped_scopes,
                "duration_s": round(outcome.duration_s, 3),
                **self.fetcher.stats_for(name).as_dict(),
            }
            if name == "onenote" and self.delegated_fetcher is not None:
                summary.sources[name].update(self.delegated_fetcher.stats_for(name).as_dict())
        finish_run(self.engine, self.run_id, status, summary.as_dict())
        return summary
