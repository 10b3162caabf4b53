"""Computed figures kept in ``measure_results``, so cards, the bot and the tab answer in milliseconds.

``recompute`` writes whole periods: every scope and measure of a period is replaced in one transaction,
because complementary suppression links the figures of a period and a half-updated period could pair a
new total with an old part. Incremental mode recomputes only the periods that new data touched (the
weeks and months containing new or late-arriving events and submissions), the current week and month,
and the term to date, from the saved prepared term plus only the ingest runs that ended since
(measures/snapshot.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy import Engine, delete, or_, select

from measures.disclosure import min_n_from, suppress_figures
from measures.figures import Figure, pack, unpack
from measures.periods import (
    Period,
    all_periods,
    current_week,
    month_label,
    parse_period,
    periods_touched,
    previous_label,
    today_in_district,
)
from measures.results import MEASURES, compute_results
from measures.snapshot import StateReport, prepared_state
from pli_pulse.gc_pause import fewer_gc_passes
from pli_pulse.school_calendar import SchoolCalendar
from store import schema
from store.upsert import upsert_tuples

COMPARISONS = {
    "community_median": "community",
    "district_pli_median": "pli",
    "district_non_pli_median": "non_pli",
}


@dataclass(frozen=True)
class RecomputeReport:
    periods: tuple[str, ...]
    rows: int
    seconds: float
    incremental: bool
    #: how the prepared term was obtained: rebuilt or folded, events read, steps
    state: StateReport | None = None
    #: seconds per step after the state: compute the figures, write them
    steps: dict[str, float] = field(default_factory=dict)


def _with_current(dates: Iterable[date], calendar: SchoolCalendar, as_of: date) -> list[Period]:
    """The periods drawing on ``dates``, and the current week, month and term, which every recompute refreshes."""
    dates = set(dates)
    if as_of >= calendar.term_start:
        dates.add(min(as_of, calendar.term_end))
    return periods_touched(dates, calendar, as_of)


RESULT_FIELDS = ("scope", "scope_id", "period", "figures", "computed_at")


def _rows(table: pd.DataFrame, computed_at: datetime) -> list[tuple]:
    """One row per scope and period, its figures packed (measures/figures.py), in RESULT_FIELDS order."""
    values = table["value"].astype(object).where(table["value"].notna(), None).tolist()
    reasons = table["suppressed"].astype(object).where(table["suppressed"].notna(), None).tolist()
    keys = zip(*(table[c].astype(object).tolist() for c in ("scope", "scope_id", "period")), strict=True)
    grouped: dict[tuple, dict] = {}
    for key, measure, value, n, reason in zip(
        keys, table["measure"].tolist(), values, table["n"].astype("int64").tolist(), reasons, strict=True
    ):
        grouped.setdefault(key, {})[measure] = (None if reason is not None else value, n, reason)
    return [(*key, pack(figures), computed_at) for key, figures in grouped.items()]


def write_results(engine: Engine, table: pd.DataFrame, periods: Iterable[str], computed_at: datetime) -> int:
    """Replace the given periods' rows with ``table`` in one transaction; returns the rows (scope and period)."""
    periods = list(periods)
    mr = schema.measure_results
    with engine.begin() as conn:
        if periods:
            conn.execute(delete(mr).where(mr.c.period.in_(periods)))
        rows = _rows(table, computed_at)
        upsert_tuples(conn, mr, RESULT_FIELDS, rows, ["figures", "computed_at"])
        return len(rows)


def recompute(
    engine: Engine,
    settings,
    periods: Sequence[str] | None = None,
    incremental: bool = True,
    *,
    as_of: date | None = None,
) -> RecomputeReport:
    """Compute and store the figures of the planned periods. ``periods`` (labels) overrides the plan.

    The term is prepared from the saved state plus the ingest runs that ended since (measures/snapshot.py),
    or from every event of the store when there is no valid state or ``incremental`` is False; either way the
    figures are those of a from-scratch computation. The periods: after a fold, those the folded runs' dates
    reach and the current ones; after a rebuild, every period, because what made it rebuild (a roster change,
    forget, retention) can change any period.

    With ``periods`` given, the state is not saved: the runs it would hold as folded may touch other periods,
    which the next recompute without labels must still plan.
    """
    with fewer_gc_passes():
        return _recompute(engine, settings, periods, incremental, as_of)


def _recompute(engine: Engine, settings, periods: Sequence[str] | None, incremental: bool, as_of: date | None):
    started = time.perf_counter()
    calendar = SchoolCalendar.from_settings(settings)
    as_of = as_of or today_in_district(calendar)
    term = prepared_state(engine, settings, calendar, as_of, incremental=incremental)
    if periods:
        planned = [parse_period(label, calendar, as_of) for label in periods]
    elif term.report.touched is not None:
        # Folded: exactly the runs new since the state, so their dates are the periods to redo.
        planned = _with_current(term.report.touched, calendar, as_of)
    else:
        planned = all_periods(calendar, as_of)
    steps: dict[str, float] = {}
    rows = 0
    if not periods:
        term.start_saving(settings)  # written meanwhile, put in place only once the figures are stored
    try:
        if planned:
            t = time.perf_counter()
            table = compute_results(term.prepared, calendar, planned, as_of=as_of, min_n=min_n_from(settings))
            steps["compute"] = time.perf_counter() - t
            t = time.perf_counter()
            write_results(engine, table, [str(p) for p in planned], datetime.now(UTC))
            rows = len(table)  # figures, each with its n or its reason
            steps["write results"] = time.perf_counter() - t
    except BaseException:
        term.abandon()
        raise
    if not periods:
        term.keep(engine, settings)  # only now: a crash before this folds the same runs again next time
    labels = tuple(str(p) for p in planned)
    return RecomputeReport(labels, rows, time.perf_counter() - started, incremental, term.report, steps)


def read_figures(engine: Engine, scope: str, scope_id: str, period: str) -> dict[str, Figure]:
    mr = schema.measure_results.c
    stmt = select(mr.figures).where(mr.scope == scope, mr.scope_id == scope_id, mr.period == period)
    with engine.connect() as conn:
        text = conn.execute(stmt).scalar()
    return unpack(text) if text is not None else {}


def read_class_figures(engine: Engine, class_id: str, period: str) -> dict[str, Figure]:
    """A class's figures and comparisons: ``m``, ``m.previous``, ``m.community_median``,
    ``m.district_pli_median`` and ``m.district_non_pli_median`` for every class measure ``m``."""
    mr = schema.measure_results.c
    cc = schema.community_classes.c
    with engine.connect() as conn:
        community = conn.execute(
            select(cc.community_id).where(cc.class_id == class_id).order_by(cc.community_id).limit(1)
        ).scalar()
        wanted = [("class", class_id, period, "")]
        prev = previous_label(period)
        if prev:
            wanted.append(("class", class_id, prev, ".previous"))
        if community:
            wanted.append(("community", community, period, ".community_median"))
        wanted += [("district", "pli", period, ".district_pli_median")]
        wanted += [("district", "non_pli", period, ".district_non_pli_median")]
        conds = [(mr.scope == s) & (mr.scope_id == i) & (mr.period == p) for s, i, p, _ in wanted]
        rows = conn.execute(select(mr.scope, mr.scope_id, mr.period, mr.figures).where(or_(*conds))).all()
    suffix = {(s, i, p): x for s, i, p, x in wanted}
    out: dict[str, Figure] = {}
    for s, i, p, text in rows:
        x = suffix[(s, i, p)]
        for m, fig in unpack(text).items():
            if s != "class":
                if not m.endswith(".median"):
                    continue
                m = m.removesuffix(".median")
            out[m + x] = fig
    return out


def opted_in_classes(engine: Engine, community_id: str) -> set[str]:
    """Classes of the community whose teacher chose to show class rows in the channel."""
    cc, m, opt = schema.community_classes.c, schema.memberships.c, schema.teacher_optins.c
    stmt = (
        select(cc.class_id)
        .join(schema.memberships, (m.class_id == cc.class_id) & (m.role == "teacher"))
        .join(
            schema.teacher_optins,
            (opt.person_key == m.person_key) & (opt.community_id == cc.community_id) & opt.show_class_rows,
        )
        .where(cc.community_id == community_id)
    )
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(stmt)}


def read_community_table(
    engine: Engine, community_id: str, period: str, shown_classes: set[str] | None = None
) -> tuple[dict[str, Figure], dict[str, dict[str, Figure]]]:
    """The channel card's table: the community total and the opted-in class rows, per measure.

    Classes not shown are unknown parts of the total, so complementary suppression runs again over this
    view (measures/disclosure.py): hiding one row must not let it be worked out from the others.
    """
    cc = schema.community_classes.c
    with engine.connect() as conn:
        members = [r[0] for r in conn.execute(select(cc.class_id).where(cc.community_id == community_id))]
    shown = opted_in_classes(engine, community_id) if shown_classes is None else set(shown_classes)
    total = read_figures(engine, "community", community_id, period)
    mr = schema.measure_results.c
    stmt = select(mr.scope_id, mr.figures).where(mr.scope == "class", mr.scope_id.in_(members), mr.period == period)
    with engine.connect() as conn:
        per_class = {c: {} for c in members} | {c: unpack(text) for c, text in conn.execute(stmt)}
    hidden = {c for c in members if c not in shown}
    out_total: dict[str, Figure] = {}
    rows: dict[str, dict[str, Figure]] = {c: {} for c in members if c in shown}
    for measure in MEASURES:
        if measure not in total:
            continue
        parts = {c: per_class[c][measure] for c in members if measure in per_class[c]}
        t, p = suppress_figures(total[measure], parts, hidden & set(parts))
        out_total[measure] = t
        for c, fig in p.items():
            rows[c][measure] = fig
    return out_total, rows


def current_labels(calendar: SchoolCalendar, as_of: date) -> list[str]:
    """The current week, its month and the term: what an incremental run always refreshes."""
    week = current_week(calendar, as_of)
    return [week.label, month_label(week.end), "term"]


__all__ = [
    "RecomputeReport",
    "current_labels",
    "read_class_figures",
    "read_community_table",
    "read_figures",
    "recompute",
    "write_results",
]
