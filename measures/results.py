"""Every measure of PRODUCT.md §4 for every scope and period, as a table that has passed disclosure control.

Class measures (n = |S| unless stated):

- ``fa_reach``, ``fa_monthly_reach``, ``tool_reach.<t>``, ``participation``, ``peer_reach``,
  ``onenote_collab_reach``: share of S.
- ``tool_days.<t>``: mean distinct school days with an event of t over the students who used t in P
  (n = those users; a student whose only use fell on a weekend or holiday is a user with 0 school days);
  ``tool_days_per_student.<t>``: the same days summed over S, divided by |S|.
- ``feedback_turnaround``: median hours from submission to return over submissions returned in P
  (n = students with such a submission).
- ``density`` = L / (n(n−1)) with L the directed student-to-student ties; ``reciprocity`` = ties whose
  reverse tie also exists / L (the "overall reciprocity" of networkx, Garlaschelli & Loffredo 2004).
- ``centralization``: Freeman's degree centralization (Freeman 1979, "Centrality in social networks:
  conceptual clarification", Social Networks 1:215–239, eq. 6) on the UNDIRECTED, unweighted student
  subgraph including isolated students: C = Σ_i (d_max − d_i) / ((n−1)(n−2)), where d_i is the number of
  distinct students i has a tie with in either direction. A star scores 1, a ring, a complete graph or an
  empty graph 0. Undefined (no data) for n < 3.
- ``teacher_share``: acts (replies, reactions, mentions, weighted by count) in which a class teacher is
  actor or target, over all acts in the class.
- ``isolated``: number of students in S with no act to or from anyone in the class in P.

Group scopes (``community``, ``school`` with ``{school}/pli`` and ``{school}/non_pli`` parts,
``district`` with ``all``/``pli``/``non_pli``, ``teacher`` = that teacher's classes) pool their classes'
enrolments: numerators and denominators are summed, turnaround is the median over the pooled submissions
and centralization (which does not pool) is the median of the classes' values. A student in two classes
counts twice; that is what keeps every total exactly the sum of its parts (see measures/disclosure.py).

Comparisons: ``<measure>.median`` at ``community`` and ``district`` (``pli``, ``non_pli``, ``all``) scope is
the median over the classes whose own figure is shown; n is the students behind those classes.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from measures import disclosure as dc
from measures.components import COUNT_COLUMNS, class_components
from measures.figures import Figure, Suppression
from measures.frames import TOOLS, ActivityFrames
from measures.periods import Period
from measures.prepare import Prepared, prepare
from measures.teacher_activity import CATEGORIES, distribution_counts
from pli_pulse.school_calendar import SchoolCalendar

MEASURES: tuple[str, ...] = (
    "fa_reach",
    "fa_monthly_reach",
    *(f"tool_reach.{t}" for t in TOOLS),
    *(f"tool_days.{t}" for t in TOOLS),
    *(f"tool_days_per_student.{t}" for t in TOOLS),
    "feedback_turnaround",
    "participation",
    "peer_reach",
    "density",
    "reciprocity",
    "centralization",
    "teacher_share",
    "isolated",
    "onenote_collab_reach",
)
SHARES = frozenset(
    {
        "fa_reach",
        "fa_monthly_reach",
        *(f"tool_reach.{t}" for t in TOOLS),
        "participation",
        "peer_reach",
        "density",
        "reciprocity",
        "centralization",
        "teacher_share",
        "onenote_collab_reach",
    }
)
DISTRIBUTION = tuple(f"teacher_activity.{c}" for c in CATEGORIES)
DISTRIBUTION_TOTAL = "teacher_activity.teachers"
COMPARISON_SCOPES = (("community", None), ("district", "pli"), ("district", "non_pli"), ("district", "all"))
RESULT_COLUMNS = ("scope", "scope_id", "period", "measure", "value", "n", "suppressed")


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def measure_arrays(c: pd.DataFrame, turnaround: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values, n) of shape (rows, len(MEASURES)) from a components table."""
    n = c["n"].to_numpy(float)
    cols: list[tuple[np.ndarray, np.ndarray]] = [(_div(c["fa"], n), n), (_div(c["fa_monthly"], n), n)]
    cols += [(_div(c[f"reach.{t}"], n), n) for t in TOOLS]
    cols += [(_div(c[f"days.{t}"], c[f"reach.{t}"]), c[f"reach.{t}"].to_numpy(float)) for t in TOOLS]
    cols += [(_div(c[f"days.{t}"], n), n) for t in TOOLS]
    cols += [
        (turnaround, c["fb_students"].to_numpy(float)),
        (_div(c["talk"], n), n),
        (_div(c["peer"], n), n),
        (_div(c["ties"], c["pairs"]), n),
        (_div(c["mutual"], c["ties"]), n),
        (c["central"].to_numpy(float), n),
        (_div(c["teacher_acts"], c["acts"]), n),
        (np.where(n > 0, c["isolated"].to_numpy(float), np.nan), n),
        (_div(c["collab"], n), n),
    ]
    values = np.column_stack([np.asarray(v, float) for v, _ in cols])
    ns = np.column_stack([np.asarray(m, float) for _, m in cols]).astype(np.int64)
    return values, ns


@dataclass(frozen=True)
class Scopes:
    """Entities (classes first, row = class code), their class members, and the total/parts tables."""

    entities: pd.DataFrame  # scope, scope_id
    member_entity: np.ndarray  # group entity row per (group, class) edge
    member_class: np.ndarray
    relations: dc.Relations


def build_scopes(p: Prepared) -> Scopes:
    rows: list[tuple[str, str]] = [("class", str(c)) for c in p.class_ids]
    index: dict[tuple[str, str], int] = {}
    members: dict[int, list[int]] = {}

    def entity(scope: str, scope_id: str) -> int:
        key = (scope, scope_id)
        if key not in index:
            index[key] = len(rows)
            rows.append(key)
            members[index[key]] = []
        return index[key]

    classes = np.arange(p.n_classes)
    for code in np.unique(p.cc_community):
        e = entity("community", str(p.community_ids[code]))
        members[e] = sorted(set(p.cc_class[p.cc_community == code].tolist()))
    tables: list[tuple[int, list[int]]] = []
    school_parts: dict[str, list[int]] = {"pli": [], "non_pli": []}
    schools: list[int] = []
    for school in sorted(set(p.class_school.tolist())):
        in_school = classes[p.class_school == school]
        s = entity("school", school)
        members[s] = in_school.tolist()
        schools.append(s)
        parts = []
        for label, mask in (("pli", p.class_pli[in_school]), ("non_pli", ~p.class_pli[in_school])):
            if mask.any():
                e = entity("school", f"{school}/{label}")
                members[e] = in_school[mask].tolist()
                parts.append(e)
                school_parts[label].append(e)
                tables.append((e, members[e]))
        tables.append((s, parts))
        tables.append((s, members[s]))
    if p.n_classes:
        whole = entity("district", "all")
        members[whole] = classes.tolist()
        tables.append((whole, schools))
        halves = []
        for label, mask in (("pli", p.class_pli), ("non_pli", ~p.class_pli)):
            if mask.any():
                e = entity("district", label)
                members[e] = classes[mask].tolist()
                halves.append(e)
                tables.append((e, school_parts[label]))
                tables.append((e, members[e]))
        tables.append((whole, halves))
    for person in np.unique(p.t_person):
        e = entity("teacher", str(p.persons[person]))
        members[e] = sorted(set(p.t_class[p.t_person == person].tolist()))
    for e, cls in members.items():
        if rows[e][0] in ("community", "teacher"):
            tables.append((e, cls))
    member_entity = np.array([e for e, cls in members.items() for _ in cls], dtype=np.int64)
    member_class = np.array([c for cls in members.values() for c in cls], dtype=np.int64)
    entities = pd.DataFrame(rows, columns=["scope", "scope_id"])
    return Scopes(entities, member_entity, member_class, dc.Relations.from_lists(tables))


def _grouped_median(groups: np.ndarray, values: np.ndarray, n_groups: int, presorted: bool = False) -> np.ndarray:
    """Median of ``values`` per group index, NaN for empty groups; one sort, no Python loop.

    ``presorted``: values are already ascending, so a stable (radix) sort by group is enough.
    """
    out = np.full(n_groups, np.nan)
    missing = np.isnan(values)
    if missing.any():
        groups, values = groups[~missing], values[~missing]
    if not len(values):
        return out
    if presorted:  # in 16 bits where the groups fit, a stable sort is a radix sort
        order = np.argsort(groups.astype(np.int16, copy=False) if n_groups <= 2**15 else groups, kind="stable")
    else:
        order = np.lexsort((values, groups))
    g, v = groups[order], values[order]
    if g[0] < 0 or g[-1] >= n_groups:  # g ascending: its ends bound every code
        raise ValueError(f"group codes must lie in 0..{n_groups - 1}")
    bounds = np.arange(n_groups + 1)
    if n_groups < np.iinfo(g.dtype).max:
        bounds = bounds.astype(g.dtype)  # searched in g's own type, or numpy would copy g to match
    starts = np.searchsorted(g, bounds)  # g ascending: each group's run
    counts = np.diff(starts)
    has = counts > 0
    lo = starts[:-1][has] + (counts[has] - 1) // 2
    hi = starts[:-1][has] + counts[has] // 2
    out[has] = (v[lo] + v[hi]) / 2.0
    return out


def _per_member(h_class: np.ndarray, h_val: np.ndarray, scopes: Scopes, n_classes: int, n_ent: int):
    """(group entity, value) once for every group entity the value's class belongs to, in the values' order.

    A district's term repeats 600,000 returned submissions about six times: the entity codes are built in 16
    or 32 bits and the values repeated directly, rather than through int64 row and offset arrays (about 400 MB
    of fresh memory for one median, most of the time it took).
    """
    order = np.argsort(scopes.member_class, kind="stable")
    mc = scopes.member_class[order]
    me = scopes.member_entity[order].astype(np.int16 if n_ent <= 2**15 else np.int32)
    bounds = np.searchsorted(mc, np.arange(n_classes + 1))  # class c's entities: bounds[c] to bounds[c + 1]
    lo = bounds[h_class]
    reps = bounds[h_class + 1] - lo
    total = int(reps.sum())
    step = np.int32 if total < 2**31 else np.int64
    # copy k of value i takes entity me[lo[i] + k]: position minus where value i's copies start, plus lo[i]
    at = np.arange(total, dtype=step)
    at -= np.repeat((np.cumsum(reps) - reps - lo).astype(step), reps)
    return me[at], np.repeat(h_val, reps)


def entity_arrays(p: Prepared, scopes: Scopes, period: Period) -> tuple[np.ndarray, np.ndarray]:
    """(values, n) for every entity in one period, shape (entities, len(MEASURES))."""
    counts, hours = class_components(p, period)
    n_ent = len(scopes.entities)
    total = np.zeros((n_ent, len(COUNT_COLUMNS)))
    cls_counts = counts.loc[:, list(COUNT_COLUMNS)].to_numpy(float)
    total[: p.n_classes] = cls_counts
    np.add.at(total, scopes.member_entity, cls_counts[scopes.member_class])
    pooled = pd.DataFrame(total, columns=list(COUNT_COLUMNS))
    central = np.full(n_ent, np.nan)
    central[: p.n_classes] = counts["central"].to_numpy(float)
    group_central = _grouped_median(scopes.member_entity, central[scopes.member_class], n_ent)
    central[p.n_classes :] = group_central[p.n_classes :]
    pooled["central"] = central
    # turnaround: median per class, and per group over the pooled submissions of its classes
    h_class = hours["class"].to_numpy(np.int64)
    h_val = hours["hours"].to_numpy(float)
    turnaround = _grouped_median(h_class, h_val, n_ent, presorted=True)
    if len(h_class) and len(scopes.member_class):
        ents, vals = _per_member(h_class, h_val, scopes, p.n_classes, n_ent)
        group_t = _grouped_median(ents, vals, n_ent, presorted=True)
        turnaround[p.n_classes :] = group_t[p.n_classes :]
    return measure_arrays(pooled, turnaround)


def _long(entities: pd.DataFrame, periods: Sequence[Period], measures: Sequence[str], values, ns, codes):
    """Flatten (entity, period, measure) matrices; suppressed values are dropped here, not later."""
    n_e, n_p, n_m = len(entities), len(periods), len(measures)
    e_idx = np.repeat(np.arange(n_e), n_p * n_m)
    p_idx = np.tile(np.repeat(np.arange(n_p), n_m), n_e)
    m_idx = np.tile(np.arange(n_m), n_e * n_p)
    codes = codes.reshape(-1)
    reasons = pd.Categorical.from_codes(
        np.where(codes == dc.SHOWN, -1, codes - 1),
        categories=[Suppression.SMALL_N.value, Suppression.COMPLEMENTARY.value, Suppression.NO_DATA.value],
    )
    labels = [str(x) for x in periods]
    return pd.DataFrame(
        {
            "scope": pd.Categorical(entities["scope"].to_numpy()[e_idx]),
            "scope_id": pd.Categorical(entities["scope_id"].to_numpy()[e_idx]),
            "period": pd.Categorical.from_codes(p_idx, categories=pd.Index(labels).unique())
            if len(set(labels)) == len(labels)
            else pd.Categorical(np.array(labels, dtype=object)[p_idx]),
            "measure": pd.Categorical.from_codes(m_idx, categories=list(measures)),
            "value": np.where(codes == dc.SHOWN, values.reshape(-1), np.nan),
            "n": ns.reshape(-1).astype(np.int64),
            "suppressed": reasons,
        }
    )


def _distribution_rows(p: Prepared, periods: Sequence[Period], min_n: int) -> pd.DataFrame:
    """Every distribution (scope x period) as one (total, categories) table, suppressed in one pass."""
    measures = [DISTRIBUTION_TOTAL, *DISTRIBUTION]
    scope, scope_id, period_of, counts = [], [], [], []
    for period in periods:
        scopes, table = distribution_counts(p, period)
        scope += [s for s, _ in scopes]
        scope_id += [i for _, i in scopes]
        period_of += [str(period)] * len(scopes)
        counts.append(table)
    table = np.vstack(counts) if counts else np.zeros((0, len(DISTRIBUTION)), np.int64)
    totals = table.sum(axis=1)
    cells = np.column_stack([totals, table]).astype(float)  # (tables, 1 + categories)
    n = np.repeat(totals[:, None], cells.shape[1], axis=1)
    small = (cells > 0) & (cells < min_n)
    small[:, 0] = False
    width = cells.shape[1]
    codes = dc.primary_codes(cells.reshape(-1), n.reshape(-1), min_n, small.reshape(-1))
    starts = np.arange(len(table)) * width
    relations = dc.Relations(
        totals=starts,
        ptr=np.arange(len(table) + 1) * (width - 1),
        parts=(starts[:, None] + np.arange(1, width)[None, :]).reshape(-1),
    )
    codes = dc.complementary(codes, cells.reshape(-1), n.reshape(-1), relations)
    reasons = np.array([None, *(r.value for r in (Suppression.SMALL_N, Suppression.COMPLEMENTARY,
                                                   Suppression.NO_DATA))], dtype=object)  # fmt: skip
    return pd.DataFrame(
        {
            "scope": np.repeat(np.array(scope, dtype=object), width),
            "scope_id": np.repeat(np.array(scope_id, dtype=object), width),
            "period": np.repeat(np.array(period_of, dtype=object), width),
            "measure": np.tile(np.array(measures, dtype=object), len(table)),
            "value": np.where(codes == dc.SHOWN, cells.reshape(-1), np.nan),
            "n": n.reshape(-1).astype(np.int64),
            "suppressed": reasons[codes],
        }
    )


MIN_CLASSES_FOR_MEDIAN = 3


def _medians(
    p: Prepared, periods: Sequence[Period], values: np.ndarray, ns: np.ndarray, codes: np.ndarray, min_n: int
) -> pd.DataFrame:
    """Comparison medians over the classes whose own figure is shown.

    A median over one class is that class's value and over two their mean, so either would show another
    teacher's class to anyone who knows their own: fewer than three classes is suppressed (few_classes).
    ``values``, ``ns`` and ``codes`` are the (entities, layers) matrices; classes are the first rows.
    """
    nc = p.n_classes
    shown = codes[:nc] == dc.SHOWN
    v = np.where(shown, values[:nc], np.nan)
    n_shown = np.where(shown, ns[:nc], 0)
    community_codes = np.unique(p.cc_community)
    groups = [("community", str(p.community_ids[c])) for c in community_codes]
    groups += [("district", label) for label in ("pli", "non_pli", "all")]
    n_layers = v.shape[1]
    med = np.full((len(groups), n_layers), np.nan)
    tot = np.zeros((len(groups), n_layers), dtype=np.int64)
    cnt = np.zeros((len(groups), n_layers), dtype=np.int64)
    if len(community_codes):
        row = np.searchsorted(community_codes, p.cc_community)
        keys = (row[:, None] * n_layers + np.arange(n_layers)[None, :]).reshape(-1)
        vals = v[p.cc_class].reshape(-1)
        k = len(community_codes)
        med[:k] = _grouped_median(keys, vals, k * n_layers).reshape(k, n_layers)
        np.add.at(tot, row, n_shown[p.cc_class])
        np.add.at(cnt, row, shown[p.cc_class])
    masks = (p.class_pli, ~p.class_pli, np.ones(nc, dtype=bool))
    for i, mask in enumerate(masks, start=len(groups) - 3):
        if mask.any():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN layer: no shown class, stays NaN
                med[i] = np.nanmedian(v[mask], axis=0)
        tot[i] = n_shown[mask].sum(axis=0)
        cnt[i] = shown[mask].sum(axis=0)
    reason = np.where(
        tot < min_n,
        Suppression.SMALL_N.value,
        np.where(cnt < MIN_CLASSES_FOR_MEDIAN, Suppression.FEW_CLASSES.value, None),
    ).astype(object)
    value = np.where(reason == None, med, np.nan)  # noqa: E711 - elementwise on an object array
    g_idx = np.repeat(np.arange(len(groups)), n_layers)
    layer = np.tile(np.arange(n_layers), len(groups))
    labels = np.array([str(x) for x in periods], dtype=object)
    names = np.array([f"{m}.median" for m in MEASURES], dtype=object)
    return pd.DataFrame(
        {
            "scope": np.array([g[0] for g in groups], dtype=object)[g_idx],
            "scope_id": np.array([g[1] for g in groups], dtype=object)[g_idx],
            "period": labels[layer // len(MEASURES)],
            "measure": names[layer % len(MEASURES)],
            "value": value.reshape(-1).astype(float),
            "n": tot.reshape(-1),
            "suppressed": reason.reshape(-1),
        }
    )


def compute_results(
    frames: ActivityFrames | Prepared,
    calendar: SchoolCalendar,
    periods: Iterable[Period],
    *,
    as_of: date,
    min_n: int,
) -> pd.DataFrame:
    """The disclosure-controlled result table (columns RESULT_COLUMNS) for the given periods.

    A suppressed row has no value (NaN) and its reason; the raw number is not kept anywhere.
    """
    p = frames if isinstance(frames, Prepared) else prepare(frames, calendar, as_of)
    periods = list(periods)
    scopes = build_scopes(p)
    n_e, n_m = len(scopes.entities), len(MEASURES)
    values = np.empty((n_e, len(periods), n_m))
    ns = np.empty((n_e, len(periods), n_m), dtype=np.int64)
    for i, period in enumerate(periods):
        values[:, i, :], ns[:, i, :] = entity_arrays(p, scopes, period)
    flat_v, flat_n = values.reshape(n_e, -1), ns.reshape(n_e, -1)
    codes = dc.primary_codes(flat_v, flat_n, min_n)
    codes = dc.complementary(codes, flat_v, flat_n, scopes.relations)
    table = _long(scopes.entities, periods, MEASURES, values, ns, codes)
    parts = [table, _medians(p, periods, flat_v, flat_n, codes, min_n), _distribution_rows(p, periods, min_n)]
    out = pd.concat([x.astype({"scope": object, "scope_id": object, "period": object, "measure": object,
                               "suppressed": object}) for x in parts], ignore_index=True)  # fmt: skip
    out["suppressed"] = out["suppressed"].where(out["suppressed"].notna(), None)
    return out


def figures_from_rows(rows: pd.DataFrame) -> dict[str, Figure]:
    """{measure: Figure} for the rows of one scope and period."""
    out = {}
    for m, v, n, s in zip(rows["measure"], rows["value"], rows["n"], rows["suppressed"], strict=True):
        hidden = s is not None and not (isinstance(s, float) and np.isnan(s))
        out[str(m)] = Figure(None, int(n), Suppression(s)) if hidden else Figure(float(v), int(n))
    return out
