"""The typed frames the measures are computed from, and the loader that reads them from the store.

The measures layer works on pandas DataFrames so that it runs the same on a store, on the simulator's ground
truth and on a synthetic benchmark. Columns (key columns may be ``str`` or ``category``; categoricals are
kept, which is what makes district-scale runs cheap):

``events``            class_id | community_id (one of them set), tool ∈ teams|assignments|forms|onenote,
                      kind ∈ post|reply|reaction|mention|submission|feedback_returned|form_response|
                      notebook_edit|collab_edit, actor_key, target_key (None when the act has no person
                      target), object_id, occurred_at (tz-aware, UTC)
``enrollments``       class_id, person_key, role ∈ student|teacher, joined_on (date or None = since the term
                      began), left_on (date or None; the first day the person is NO LONGER in the class)
``submissions``       submission_id, assignment_id, class_id, student_key, submitted_at, returned_at (tz-aware;
                      returned_at = feedback or points returned, None if not yet)
``assignments``       assignment_id, class_id, has_forms_resource (bool)
``classes``           class_id, school_id, is_pli (bool), community_id (None if in no community)
``community_members`` community_id, person_key, role ∈ teacher|coach
``community_classes`` optional: community_id, class_id, when a class sits in several communities; by default it
                      is read off ``classes.community_id``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

import pandas as pd
from sqlalchemy import Engine, func, select

from store import columnar, schema

EVENT_COLUMNS = ("class_id", "community_id", "tool", "kind", "actor_key", "target_key", "object_id", "occurred_at")
ENROLLMENT_COLUMNS = ("class_id", "person_key", "role", "joined_on", "left_on")
SUBMISSION_COLUMNS = ("submission_id", "assignment_id", "class_id", "student_key", "submitted_at", "returned_at")
ASSIGNMENT_COLUMNS = ("assignment_id", "class_id", "has_forms_resource")
CLASS_COLUMNS = ("class_id", "school_id", "is_pli", "community_id")
COMMUNITY_MEMBER_COLUMNS = ("community_id", "person_key", "role")
COMMUNITY_CLASS_COLUMNS = ("community_id", "class_id")

TOOLS = schema.TOOLS
EVENT_KINDS = schema.EVENT_KINDS


class FramesError(ValueError):
    """Input frames that do not have the documented shape."""


def _check(name: str, df: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise FramesError(f"{name} frame lacks columns {missing}; it needs {list(columns)} (see measures/frames.py)")


def _utc(name: str, s: pd.Series) -> pd.Series:
    if not isinstance(s.dtype, pd.DatetimeTZDtype):
        if len(s) and s.notna().any() and not pd.api.types.is_datetime64_any_dtype(s):
            s = pd.to_datetime(s, utc=False)
        if not isinstance(s.dtype, pd.DatetimeTZDtype):
            if s.notna().any():
                raise FramesError(f"{name} holds naive timestamps: every timestamp must carry its time zone")
            return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]")
    return s if str(s.dt.tz) == "UTC" else s.dt.tz_convert("UTC")


def _dates(s: pd.Series) -> pd.Series:
    """Dates as datetime64[D]-like day numbers are easiest downstream; keep python dates / NaT here."""
    return pd.to_datetime(s, errors="raise").dt.normalize() if len(s) else pd.Series([], dtype="datetime64[ns]")


@dataclass(frozen=True)
class ActivityFrames:
    events: pd.DataFrame
    enrollments: pd.DataFrame
    submissions: pd.DataFrame
    assignments: pd.DataFrame
    classes: pd.DataFrame
    community_members: pd.DataFrame
    community_classes: pd.DataFrame | None = None

    def normalised(self) -> ActivityFrames:
        """Check columns and types once at the edge, so the computation can trust them."""
        _check("events", self.events, EVENT_COLUMNS)
        _check("enrollments", self.enrollments, ENROLLMENT_COLUMNS)
        _check("submissions", self.submissions, SUBMISSION_COLUMNS)
        _check("assignments", self.assignments, ASSIGNMENT_COLUMNS)
        _check("classes", self.classes, CLASS_COLUMNS)
        _check("community_members", self.community_members, COMMUNITY_MEMBER_COLUMNS)
        ev = self.events.loc[:, list(EVENT_COLUMNS)]  # copy-on-write: no 20M-row copy unless a column changes
        ev["occurred_at"] = _utc("events.occurred_at", ev["occurred_at"])
        bad_tool = ~ev["tool"].isin(TOOLS)
        bad_kind = ~ev["kind"].isin(EVENT_KINDS)
        if bad_tool.any() or bad_kind.any():
            raise FramesError(
                f"events hold unknown tools {sorted(set(ev.loc[bad_tool, 'tool']))} or kinds "
                f"{sorted(set(ev.loc[bad_kind, 'kind']))}; allowed tools {TOOLS}, kinds {EVENT_KINDS}"
            )
        en = self.enrollments.loc[:, list(ENROLLMENT_COLUMNS)].copy()
        en["joined_on"] = _dates(en["joined_on"])
        en["left_on"] = _dates(en["left_on"])
        en = en.drop_duplicates(["class_id", "person_key", "role"])
        sub = self.submissions.loc[:, list(SUBMISSION_COLUMNS)].copy()
        sub["submitted_at"] = _utc("submissions.submitted_at", sub["submitted_at"])
        sub["returned_at"] = _utc("submissions.returned_at", sub["returned_at"])
        sub = sub.drop_duplicates("submission_id")
        asg = self.assignments.loc[:, list(ASSIGNMENT_COLUMNS)].drop_duplicates("assignment_id").copy()
        asg["has_forms_resource"] = asg["has_forms_resource"].fillna(False).astype(bool)
        cls = self.classes.loc[:, list(CLASS_COLUMNS)].drop_duplicates("class_id").copy()
        cls["is_pli"] = cls["is_pli"].fillna(False).astype(bool)
        cm = self.community_members.loc[:, list(COMMUNITY_MEMBER_COLUMNS)].drop_duplicates().copy()
        cc = self.community_classes
        if cc is None:
            cc = cls.loc[cls["community_id"].notna(), ["community_id", "class_id"]]
        else:
            _check("community_classes", cc, COMMUNITY_CLASS_COLUMNS)
            cc = cc.loc[:, list(COMMUNITY_CLASS_COLUMNS)]
        cc = cc.drop_duplicates().reset_index(drop=True)
        return replace(
            self,
            events=ev,
            enrollments=en.reset_index(drop=True),
            submissions=sub.reset_index(drop=True),
            assignments=asg.reset_index(drop=True),
            classes=cls.reset_index(drop=True),
            community_members=cm.reset_index(drop=True),
            community_classes=cc,
        )


def empty_frames() -> ActivityFrames:
    def frame(cols):
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})

    return ActivityFrames(
        events=frame(EVENT_COLUMNS),
        enrollments=frame(ENROLLMENT_COLUMNS),
        submissions=frame(SUBMISSION_COLUMNS),
        assignments=frame(ASSIGNMENT_COLUMNS),
        classes=frame(CLASS_COLUMNS),
        community_members=frame(COMMUNITY_MEMBER_COLUMNS),
    )


def _read(conn, stmt, columns) -> pd.DataFrame:
    """Rows to a frame column by column: faster than ``from_records`` on a million rows."""
    rows = conn.execute(stmt).all()
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    return pd.DataFrame({c: pd.Series(list(v)) for c, v in zip(columns, values, strict=True)})


def _read_events(engine: Engine, conn, stmt) -> pd.DataFrame:
    """SQLite: in chunks into categoricals (store/columnar.py); PostgreSQL: psycopg's typed rows."""
    frame = columnar.read_frame(engine, stmt, times=("occurred_at",))
    return _read(conn, stmt, EVENT_COLUMNS) if frame is None else frame


def _read_submissions(engine: Engine, conn, stmt) -> pd.DataFrame:
    frame = columnar.read_frame(engine, stmt, times=("submitted_at", "returned_at"), unique=("submission_id",))
    return _read(conn, stmt, SUBMISSION_COLUMNS) if frame is None else frame


def _event_select():
    ev = schema.activity_events.c
    return select(
        ev.class_id, ev.community_id, ev.tool, ev.kind, ev.actor_key, ev.target_key, ev.object_id, ev.occurred_at
    )


def _submission_select():
    sb = schema.submissions.c
    return select(sb.submission_id, sb.assignment_id, sb.class_id, sb.student_key, sb.submitted_at, sb.returned_at)


def _utc_columns(events: pd.DataFrame, submissions: pd.DataFrame) -> None:
    # Read as UTC (store/columnar.py) or as psycopg's aware datetimes; naive ones were written as UTC.
    for frame, cols in ((events, ["occurred_at"]), (submissions, ["submitted_at", "returned_at"])):
        for col in cols:
            s = pd.to_datetime(frame[col])
            frame[col] = s.dt.tz_localize("UTC") if s.dt.tz is None else s.dt.tz_convert("UTC")


def _roster_tables(conn) -> dict[str, pd.DataFrame]:
    """The roster as stored (classes, memberships, community links and members), one frame per table."""
    t = schema
    m, c, cc, cm = t.memberships.c, t.classes.c, t.community_classes.c, t.community_members.c
    return {
        "enrollments": _read(
            conn, select(m.class_id, m.person_key, m.role, m.joined_on, m.left_on), ENROLLMENT_COLUMNS
        ),
        "classes": _read(conn, select(c.class_id, c.school_id, c.is_pli), ("class_id", "school_id", "is_pli")),
        "community_classes": _read(conn, select(cc.community_id, cc.class_id), COMMUNITY_CLASS_COLUMNS),
        "community_members": _read(conn, select(cm.community_id, cm.person_key, cm.role), COMMUNITY_MEMBER_COLUMNS),
    }


def read_roster(engine: Engine) -> dict[str, pd.DataFrame]:
    with engine.connect() as conn:
        return _roster_tables(conn)


def _assemble(events, submissions, assignments, roster: dict[str, pd.DataFrame]) -> ActivityFrames:
    _utc_columns(events, submissions)
    community_classes = roster["community_classes"]
    first = community_classes.sort_values(["class_id", "community_id"]).drop_duplicates("class_id")
    classes = roster["classes"].merge(first, on="class_id", how="left")
    classes["community_id"] = classes["community_id"].astype(object).where(classes["community_id"].notna(), None)
    return ActivityFrames(
        events=events,
        enrollments=roster["enrollments"],
        submissions=submissions,
        assignments=assignments,
        classes=classes,
        community_members=roster["community_members"],
        community_classes=community_classes,
    ).normalised()


def _assignments(conn, *, forms_only: bool = False) -> pd.DataFrame:
    a = schema.assignments.c
    stmt = select(a.assignment_id, a.class_id, a.has_forms_resource)
    return _read(conn, stmt.where(a.has_forms_resource) if forms_only else stmt, ASSIGNMENT_COLUMNS)


def frames_from_store(engine: Engine, *, since: date | None = None, until: date | None = None) -> ActivityFrames:
    """Read the frames with SQLAlchemy Core from either backend.

    ``since``/``until`` bound the events and submissions read (UTC dates, inclusive; widen by a day on each
    side of a district date range, because a district date straddles two UTC dates).
    """
    ev, sb = schema.activity_events.c, schema.submissions.c
    ev_stmt, sub_stmt = _event_select(), _submission_select()
    if since is not None:
        lo = pd.Timestamp(since, tz="UTC").to_pydatetime()
        ev_stmt = ev_stmt.where(ev.occurred_at >= lo)
        sub_stmt = sub_stmt.where((sb.submitted_at >= lo) | (sb.returned_at >= lo))
    if until is not None:
        hi = (pd.Timestamp(until, tz="UTC") + pd.Timedelta(days=1)).to_pydatetime()
        ev_stmt = ev_stmt.where(ev.occurred_at < hi)
        sub_stmt = sub_stmt.where(sb.submitted_at < hi)
    with engine.connect() as conn:
        events = _read_events(engine, conn, ev_stmt)
        roster = _roster_tables(conn)
        submissions = _read_submissions(engine, conn, sub_stmt)
        assignments = _assignments(conn)
    return _assemble(events, submissions, assignments, roster)


def submission_run_counts(engine: Engine) -> dict[int | None, int]:
    """Submissions per ingest run that wrote or last changed them (None: stored before runs were recorded)."""
    sb = schema.submissions.c
    with engine.connect() as conn:
        rows = conn.execute(select(sb.run_id, func.count()).group_by(sb.run_id)).all()
    return {(None if r is None else int(r)): int(n) for r, n in rows}


def submission_ids_for_runs(engine: Engine, run_ids: Iterable[int]) -> pd.Index:
    run_ids = sorted(set(run_ids))
    if not run_ids:
        return pd.Index([], dtype=object)
    sb = schema.submissions.c
    with engine.connect() as conn:
        ids = conn.execute(select(sb.submission_id).where(sb.run_id.in_(run_ids))).scalars().all()
    return pd.Index(ids, dtype=object)


def frames_for_runs(engine: Engine, run_ids: Iterable[int]) -> ActivityFrames:
    """What the given ingest runs stored (their events, and the submissions they wrote or last changed), with
    every assignment that has a Forms quiz (all a fold uses them for): a batch to fold into a state.

    Reads by ``run_id`` (ix_activity_events_run_id, ix_submissions_run_id), so the cost follows the new runs,
    not the store. The roster frames are left empty: a batch is folded into a state prepared with the store's
    roster.
    """
    run_ids = sorted(set(run_ids))
    ev, sb = schema.activity_events.c, schema.submissions.c
    empty = empty_frames()
    with engine.connect() as conn:
        if run_ids:
            events = _read_events(engine, conn, _event_select().where(ev.run_id.in_(run_ids)))
            submissions = _read_submissions(engine, conn, _submission_select().where(sb.run_id.in_(run_ids)))
        else:
            events, submissions = empty.events, empty.submissions
        assignments = _assignments(conn, forms_only=True)
    roster = {
        "enrollments": empty.enrollments,
        "classes": empty.classes.drop(columns="community_id"),
        "community_classes": pd.DataFrame({c: pd.Series([], dtype=object) for c in COMMUNITY_CLASS_COLUMNS}),
        "community_members": empty.community_members,
    }
    return _assemble(events, submissions, assignments, roster)
