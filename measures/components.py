"""Additive per-class counts for one period, from which every class and group measure is a ratio.

Keeping counts (students reached, days summed, ties, acts) rather than ratios lets a community, school or
the district pool its classes exactly, and lets disclosure control reason about totals and parts.

Who is in S (PRODUCT.md §4 "students enrolled in the class during P"): every student enrolment whose
[joined_on, left_on) interval overlaps P by at least one day. A mid-period joiner is therefore in S, and in
n, for the whole period: leaving them out would hide exactly the students a teacher is trying to reach.
For ``fa_monthly_reach`` a month only counts against a student if they were enrolled on at least one of its
school days inside the window, so a student who joined in November is not failed for October, and one who
left on the first (a Sunday) of November owes nothing for November.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from measures.frames import TOOLS
from measures.periods import Period, fa_monthly_window, months_in
from measures.prepare import Prepared

#: column order of the components table
COUNT_COLUMNS = (
    "n",
    "fa",
    "fa_monthly",
    *(f"reach.{t}" for t in TOOLS),
    *(f"days.{t}" for t in TOOLS),
    "talk",
    "collab",
    "peer",
    "ties",
    "mutual",
    "pairs",
    "acts",
    "teacher_acts",
    "isolated",
    "fb_students",
)


def enrolled(p: Prepared, a: int, b: int) -> np.ndarray:
    """Student enrolments in S for day indices [a, b]."""
    return (p.s_join <= b) & (p.s_left > a)


def enrolled_on_school_day(p: Prepared, a: int, b: int) -> np.ndarray:
    """Student enrolments enrolled on at least one school day in [a, b] (prefix sums, no loop)."""
    before = np.concatenate([[0], np.cumsum(p.school)])  # before[i] = school days in [0, i)
    lo = np.clip(np.maximum(p.s_join, a), 0, p.n_days)
    hi = np.clip(np.minimum(p.s_left, b + 1), 0, p.n_days)  # exclusive
    return (hi > lo) & (before[np.maximum(hi, lo)] - before[lo] > 0)


def class_components(p: Prepared, period: Period) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(counts per class code, returned-submission hours per class) for one period."""
    a, b = p.day(period.start), p.day(period.end)
    S = enrolled(p, a, b)
    Sf = S.astype(float)
    nc = p.n_classes
    school = p.school[a : b + 1]
    out: dict[str, np.ndarray] = {"n": np.bincount(p.s_class, weights=Sf, minlength=nc)}

    def any_in(channel: str, lo: int = a, hi: int = b) -> np.ndarray:
        return p.bits[channel][lo : hi + 1].any(axis=0) & S

    for t in TOOLS:
        used = any_in(t)
        out[f"reach.{t}"] = np.bincount(p.s_class, weights=used, minlength=nc)
        days = p.bits[t][a : b + 1][school].sum(axis=0, dtype=np.int32) * S
        out[f"days.{t}"] = np.bincount(p.s_class, weights=days, minlength=nc)
    out["fa"] = np.bincount(p.s_class, weights=any_in("fa"), minlength=nc)
    out["fa_monthly"] = np.bincount(p.s_class, weights=_monthly(p, period, S), minlength=nc)
    out["talk"] = np.bincount(p.s_class, weights=any_in("talk"), minlength=nc)
    out["collab"] = np.bincount(p.s_class, weights=any_in("collab"), minlength=nc)
    out.update(_network(p, a, b, S, out["n"]))
    fb = (p.r_day >= a) & (p.r_day <= b)
    fb &= S[p.r_student]
    hours = pd.DataFrame({"class": p.s_class[p.r_student[fb]], "hours": p.r_hours[fb]})
    who = np.zeros(p.n_students, dtype=bool)
    who[p.r_student[fb]] = True
    out["fb_students"] = np.bincount(p.s_class, weights=who, minlength=nc)
    counts = pd.DataFrame({c: out[c] for c in COUNT_COLUMNS})
    counts["central"] = out["central"]
    return counts, hours


def _monthly(p: Prepared, period: Period, S: np.ndarray) -> np.ndarray:
    lo, hi = fa_monthly_window(period, p.calendar)
    ok = S.copy()
    required = np.zeros(p.n_students, dtype=np.int32)
    for ms, me in months_in(lo, hi):
        a, b = p.day(ms), p.day(me)
        if not p.school[a : b + 1].any():
            continue  # a month with no school day in the window asks nothing of anyone
        member = enrolled_on_school_day(p, a, b)
        required += member
        ok &= ~member | p.bits["fa"][a : b + 1].any(axis=0)
    return ok & (required > 0)


def _network(p: Prepared, a: int, b: int, S: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    nc, ns = p.n_classes, p.n_students
    # acts are sorted by day: the period's are one slice (bounds in the array's own type, or numpy copies it)
    lo, hi = np.searchsorted(p.e_day, np.array([a, b + 1], dtype=p.e_day.dtype))
    src, dst = p.e_src[lo:hi], p.e_dst[lo:hi]
    acts = p.day_acts[a : b + 1].sum(axis=0, dtype=np.int64).astype(float)
    teacher_acts = p.day_teacher_acts[a : b + 1].sum(axis=0, dtype=np.int64).astype(float)
    # isolated: an enrolled student who is neither source nor target of any act in P (teachers included)
    # one slot more than there are students, at the end: an end that is not a student (-1) marks that slot, so
    # the period's acts are scattered as they are, with no filtered copies (8M acts for a district's term)
    tied = np.zeros(ns + 1, dtype=bool)
    tied[src] = True
    tied[dst] = True
    isolated = np.bincount(p.s_class, weights=S & ~tied[:ns], minlength=nc)
    # student subgraph: distinct ties present in P with both ends in S (same class by construction), as tie
    # codes: a week's few hundred thousand, not a pass over every tie of the term (2.5M in a district)
    marked = np.zeros(len(p.tie_u) + 1, dtype=bool)  # the last slot, as above, takes the acts with no tie
    marked[p.e_tie[lo:hi]] = True
    present = np.flatnonzero(marked[:-1])
    u = p.tie_u[present]
    both = S[u] & S[p.tie_v[present]]
    present, u = present[both], u[both]
    ties = np.bincount(p.s_class[u], minlength=nc).astype(float)
    marked[:] = False
    marked[present] = True  # now: present in P with both ends in S; the reverse of a tie without one is -1
    mutual = np.bincount(p.s_class[u[marked[p.tie_rev[present]]]], minlength=nc).astype(float)
    pair = np.zeros(len(p.pair_x), dtype=bool)
    pair[p.tie_pair[present]] = True
    pairs = np.flatnonzero(pair)
    degree = np.bincount(np.concatenate([p.pair_x[pairs], p.pair_y[pairs]]), minlength=ns)
    peer = np.bincount(p.s_class, weights=(degree > 0) & S, minlength=nc)
    dmax = np.zeros(nc)
    np.maximum.at(dmax, p.s_class, degree * S)
    dsum = np.bincount(p.s_class, weights=degree * S, minlength=nc)
    with np.errstate(divide="ignore", invalid="ignore"):
        central = np.where(n >= 3, (n * dmax - dsum) / ((n - 1) * (n - 2)), np.nan)
    return {
        "acts": acts,
        "teacher_acts": teacher_acts,
        "isolated": isolated,
        "ties": ties,
        "mutual": mutual,
        "pairs": n * (n - 1),
        "peer": peer,
        "central": central,
    }
