"""Properties of the whole engine on random small districts (hypothesis)."""

from __future__ import annotations

import os
from datetime import date, timedelta

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from measures.frames import ActivityFrames
from measures.periods import parse_period
from measures.prepare import prepare
from measures.results import SHARES, build_scopes, compute_results
from tests.measures.world import AS_OF, CALENDAR, World, at

KINDS = [
    ("teams", "post"),
    ("teams", "reply"),
    ("teams", "reaction"),
    ("teams", "mention"),
    ("assignments", "submission"),
    ("forms", "form_response"),
    ("onenote", "notebook_edit"),
    ("onenote", "collab_edit"),
]
PERIODS = ["2026-W45", "2026-11", "term"]


@st.composite
def districts(draw):
    w = World()
    n_classes = draw(st.integers(1, 4))
    people: dict[str, list[str]] = {}
    for c in range(n_classes):
        cid = f"C{c}"
        people[cid] = w.klass(
            cid,
            draw(st.integers(0, 14)),
            school=f"school-{c % 2}",
            pli=draw(st.booleans()),
            community=draw(st.sampled_from(["community-1", "community-2", None])),
        )
        people[cid].append(f"teacher-{cid}")
        w.member("community-1", f"teacher-{cid}")
    for _ in range(draw(st.integers(0, 60))):
        cid = f"C{draw(st.integers(0, n_classes - 1))}"
        tool, kind = draw(st.sampled_from(KINDS))
        actor = draw(st.sampled_from(people[cid]))
        target = draw(st.sampled_from(people[cid])) if kind in ("reply", "reaction", "mention") else None
        day = date(2026, 10, 26) + timedelta(days=draw(st.integers(0, 40)))
        w.event(cid, tool, kind, actor, at(day, draw(st.integers(0, 23))), target=target)
    w.assignment("C0", "a-forms", forms=True)
    w.assignment("C0", "a-plain")
    for _ in range(draw(st.integers(0, 10))):
        student = draw(st.sampled_from(people["C0"]))
        day = date(2026, 10, 26) + timedelta(days=draw(st.integers(0, 40)))
        returned = at(day + timedelta(days=draw(st.integers(0, 5)))) if draw(st.booleans()) else None
        w.submission("C0", draw(st.sampled_from(["a-forms", "a-plain"])), student, at(day), returned)
    for _ in range(draw(st.integers(0, 10))):
        day = date(2026, 10, 19) + timedelta(days=draw(st.integers(0, 55)))
        w.talk("community-1", f"teacher-C{draw(st.integers(0, n_classes - 1))}", at(day))
    return w


def _compute(frames: ActivityFrames, min_n: int) -> pd.DataFrame:
    periods = [parse_period(p, CALENDAR, AS_OF) for p in PERIODS]
    table = compute_results(frames, CALENDAR, periods, as_of=AS_OF, min_n=min_n)
    return table.sort_values(["scope", "scope_id", "period", "measure"]).reset_index(drop=True)


#: PLI_HYPOTHESIS_EXAMPLES=400 for a deeper local search; CI keeps the suite fast.
FAST = settings(
    max_examples=int(os.environ.get("PLI_HYPOTHESIS_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@FAST
@given(w=districts(), min_n=st.integers(1, 10))
def test_no_figure_under_min_n_is_shown_and_every_share_lies_in_zero_to_one(w, min_n):
    table = _compute(w.frames(), min_n)
    shown = table[table["suppressed"].isna()]
    assert shown["value"].notna().all()
    assert (shown["n"] >= min_n).all()
    assert table.loc[table["suppressed"].notna(), "value"].isna().all()
    base = shown["measure"].str.removesuffix(".median")
    shares = shown[base.isin(SHARES)]["value"]
    assert ((shares >= 0) & (shares <= 1)).all()


@FAST
@given(w=districts(), seed=st.integers(0, 2**31 - 1))
def test_measures_do_not_depend_on_row_order_or_duplicated_rows(w, seed):
    f = w.frames()
    rng = np.random.default_rng(seed)

    def shuffle_dup(df: pd.DataFrame) -> pd.DataFrame:
        if df.empty:
            return df
        dup = df.iloc[rng.integers(0, len(df), size=len(df) // 2 + 1)]
        both = pd.concat([df, dup])
        return both.iloc[rng.permutation(len(both))].reset_index(drop=True)

    g = ActivityFrames(
        events=shuffle_dup(f.events),
        enrollments=shuffle_dup(f.enrollments),
        submissions=shuffle_dup(f.submissions),
        assignments=shuffle_dup(f.assignments),
        classes=shuffle_dup(f.classes),
        community_members=shuffle_dup(f.community_members),
    )
    pd.testing.assert_frame_equal(_compute(f, 1), _compute(g, 1))


@FAST
@given(w=districts(), min_n=st.integers(2, 10))
def test_no_suppressed_figure_can_be_solved_from_a_shown_total_and_its_shown_parts(w, min_n):
    frames = w.frames()
    table = _compute(frames, min_n)
    scopes = build_scopes(prepare(frames, CALENDAR, AS_OF))
    ent = {
        (s, i): k for k, (s, i) in enumerate(zip(scopes.entities["scope"], scopes.entities["scope_id"], strict=True))
    }
    rel = scopes.relations
    grouped = table[table["scope"] != "teacher"].groupby(["period", "measure"])
    teacher_rows = table[table["scope"] == "teacher"]
    for (period, measure), rows in grouped:
        if measure.startswith("teacher_activity") or measure.endswith(".median"):
            continue
        rows = pd.concat(
            [rows, teacher_rows[(teacher_rows["period"] == period) & (teacher_rows["measure"] == measure)]]
        )
        unknown = np.zeros(len(scopes.entities), dtype=bool)
        no_data = np.zeros(len(scopes.entities), dtype=bool)
        for s, i, r in zip(rows["scope"], rows["scope_id"], rows["suppressed"], strict=True):
            unknown[ent[(s, i)]] = r in ("small_n", "complementary")
            no_data[ent[(s, i)]] = r == "no_data"
        for t in range(len(rel)):
            parts = rel.parts[rel.ptr[t] : rel.ptr[t + 1]]
            if no_data[rel.totals[t]] or no_data[parts].all():
                continue  # a table without a number in it has nothing to solve for
            assert unknown[parts].sum() + unknown[rel.totals[t]] != 1, (period, measure, t)
