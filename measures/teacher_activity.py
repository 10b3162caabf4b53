"""How often PLI teachers converse in their community channels (PRODUCT.md §4; Fresno Figure 9).

A teacher is *active* on a day when they posted or replied in a community channel that day (reactions are
not conversation). In a period P the first matching category wins:

- ``daily``: active on at least 80% of P's school days (and P has a school day);
- ``weekly``: active in every school week of P (an ISO week of P with at least one school day);
- ``monthly``: active in every month of P that has a school day;
- ``rarely``: any other activity in P;
- ``none``: no activity in P.

Activity on a weekend or holiday counts for weekly, monthly and rarely, never for the daily share, which is
counted over school days only. A community's distribution covers its teacher members' activity in that
community's channel; the district's covers every teacher member's activity in any community channel.
"""

from __future__ import annotations

import numpy as np

from measures.periods import Period, months_in, weeks_in
from measures.prepare import Prepared

CATEGORIES = ("daily", "weekly", "monthly", "rarely", "none")
DAILY_SHARE = 0.8


def classify(active: np.ndarray, p: Prepared, period: Period) -> np.ndarray:
    """Category index (into CATEGORIES) per column of ``active`` (bool[n_days, people])."""
    a, b = p.day(period.start), p.day(period.end)
    window = active[a : b + 1]
    school = p.school[a : b + 1]
    n_school = int(school.sum())
    any_active = window.any(axis=0)
    daily = (window[school].sum(axis=0) >= DAILY_SHARE * n_school) & (n_school > 0)

    def every(ranges) -> np.ndarray:
        ok = np.ones(window.shape[1], dtype=bool)
        counted = 0
        for lo, hi in ranges:
            x, y = p.day(lo), p.day(hi)
            if not p.school[x : y + 1].any():
                continue
            counted += 1
            ok &= active[x : y + 1].any(axis=0)
        return ok & (counted > 0)

    weekly = every(weeks_in(period.start, period.end))
    monthly = every(months_in(period.start, period.end))
    out = np.full(window.shape[1], CATEGORIES.index("none"), dtype=np.int8)
    out[any_active] = CATEGORIES.index("rarely")
    out[monthly & any_active] = CATEGORIES.index("monthly")
    out[weekly & any_active] = CATEGORIES.index("weekly")
    out[daily & any_active] = CATEGORIES.index("daily")
    return out


def distribution_counts(p: Prepared, period: Period) -> tuple[list[tuple[str, str]], np.ndarray]:
    """Scopes (every community with teacher members, then the district) and their counts per category."""
    scopes: list[tuple[str, str]] = []
    rows = []
    if len(p.m_person):
        cats = classify(p.m_bits, p, period)
        table = np.zeros((len(p.community_ids), len(CATEGORIES)), dtype=np.int64)
        np.add.at(table, (p.m_community, cats), 1)
        present = np.flatnonzero(table.sum(axis=1))
        scopes += [("community", str(p.community_ids[c])) for c in present]
        rows.append(table[present])
    d = classify(p.d_bits, p, period) if len(p.d_person) else np.empty(0, np.int8)
    scopes.append(("district", "all"))
    rows.append(np.bincount(d, minlength=len(CATEGORIES)).astype(np.int64)[None, :])
    return scopes, np.vstack(rows)
