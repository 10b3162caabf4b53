"""Benchmark: the measures engine at district scale, and its core aggregations against DuckDB in the same run.

A seeded synthetic district (default 75,000 students, 3,000 classes, 20M events over one term) is generated
with numpy. Printed:

- full recompute (every week, month and the term, all scopes, disclosure control) and the incremental
  weekly recompute (current week, its month, the term), with the process's peak RSS;
- the three core aggregations computed the engine's way (integer codes, day bitmaps, bincount; no
  ``nunique``) and by DuckDB SQL over the very same integer columns, with the ratio pandas/DuckDB:
  (1) distinct school days per student and tool, averaged per class over users,
  (2) monthly reach per tool (distinct students per class, month and tool),
  (3) the weekly count table (events per class, ISO week and tool).
  Both sides start from the same already-converted local day numbers, and the results are checked equal.

Run ``python -m benchmarks.bench_measures`` (full size) or ``--events 2000000`` for a quick run.
"""

from __future__ import annotations

import argparse
import resource
import time
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

from measures.frames import EVENT_KINDS, TOOLS, ActivityFrames
from measures.periods import all_periods, parse_period
from measures.prepare import add_activity, bitmaps, prepare
from measures.results import compute_results
from pli_pulse.school_calendar import SchoolCalendar

CALENDAR = SchoolCalendar(
    term_start=date(2026, 8, 17),
    term_end=date(2026, 12, 18),
    holidays=frozenset({date(2026, 9, 7), date(2026, 11, 11), date(2026, 11, 26), date(2026, 11, 27)}),
)
#: (tool, kind, share of events)
MIX = (
    ("teams", "post", 0.15),
    ("teams", "reply", 0.20),
    ("teams", "reaction", 0.15),
    ("teams", "mention", 0.05),
    ("assignments", "submission", 0.10),
    ("forms", "form_response", 0.15),
    ("onenote", "notebook_edit", 0.15),
    ("onenote", "collab_edit", 0.05),
)


def peak_rss_mb() -> float:
    """Peak RSS of the whole process so far (includes generating the synthetic input)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def reset_peak() -> float:
    """Reset the kernel's peak-RSS mark (Linux clear_refs 5) and return the current RSS, so the next
    peak belongs to the computation alone (with its input frames resident), not to the generator."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        pass
    return _status_mb("VmRSS")


def peak_since_reset_mb() -> float:
    return _status_mb("VmHWM")


def _keys(prefix: str, n: int) -> np.ndarray:
    return np.array([f"{prefix}{i:07d}" for i in range(n)], dtype=object)


def synthesise(n_events: int, n_students: int, n_classes: int, seed: int) -> ActivityFrames:
    """A seeded district: enrolments by class, events spread over the term's days at school-ish hours."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(20, 41, size=n_classes)
    enrol_class = np.repeat(np.arange(n_classes), sizes)
    enrol_student = rng.integers(0, n_students, size=len(enrol_class))
    enrol_student[:n_students] = rng.permutation(n_students)[: min(n_students, len(enrol_class))]
    pair = pd.DataFrame({"c": enrol_class, "s": enrol_student}).drop_duplicates()
    enrol_class, enrol_student = pair["c"].to_numpy(), pair["s"].to_numpy()
    starts = np.concatenate([[0], np.cumsum(np.bincount(enrol_class, minlength=n_classes))[:-1]])
    sizes = np.bincount(enrol_class, minlength=n_classes)
    n_teachers = max(1, n_classes // 2)
    class_teacher = np.arange(n_classes) % n_teachers

    class_keys = _keys("class-", n_classes)
    person_keys = np.concatenate([_keys("s-", n_students), _keys("t-", n_teachers)])
    persons = pd.CategoricalDtype(person_keys)
    classes_dtype = pd.CategoricalDtype(class_keys)
    n_communities = max(1, n_classes // 10)
    is_pli = rng.random(n_classes) < 0.35
    community = np.where(is_pli, np.arange(n_classes) % n_communities, -1)
    community_keys = _keys("community-", n_communities)

    # events: 90% by a student enrolment, 10% by the class teacher
    tool_kind = rng.choice(len(MIX), size=n_events, p=[m[2] for m in MIX])
    row = rng.integers(0, len(enrol_class), size=n_events)
    cls = enrol_class[row]
    by_teacher = rng.random(n_events) < 0.10
    actor = np.where(by_teacher, n_students + class_teacher[cls], enrol_student[row])
    kinds = np.array([EVENT_KINDS.index(m[1]) for m in MIX])[tool_kind]
    tools = np.array([TOOLS.index(m[0]) for m in MIX])[tool_kind]
    has_target = np.isin(kinds, [EVENT_KINDS.index(k) for k in ("reply", "reaction", "mention")])
    other = starts[cls] + (rng.random(n_events) * sizes[cls]).astype(np.int64)
    target = np.where(has_target, enrol_student[other], -1)
    n_days = (CALENDAR.term_end - CALENDAR.term_start).days + 1
    day = rng.integers(0, n_days, size=n_events)
    seconds = rng.integers(7 * 3600, 22 * 3600, size=n_events)  # 07:00-22:00 in the district
    local = np.datetime64(CALENDAR.term_start, "s") + (day * 86400 + seconds).astype("timedelta64[s]")
    occurred = pd.Series(local).dt.tz_localize(CALENDAR.timezone, ambiguous="NaT", nonexistent="shift_forward")
    occurred = occurred.dt.tz_convert("UTC")
    n_objects = max(1, n_events // 200)
    events = pd.DataFrame(
        {
            "class_id": pd.Categorical.from_codes(cls, dtype=classes_dtype),
            "community_id": pd.Categorical.from_codes(np.full(n_events, -1), categories=community_keys),
            "tool": pd.Categorical.from_codes(tools, categories=list(TOOLS)),
            "kind": pd.Categorical.from_codes(kinds, categories=list(EVENT_KINDS)),
            "actor_key": pd.Categorical.from_codes(actor, dtype=persons),
            "target_key": pd.Categorical.from_codes(target, dtype=persons),
            "object_id": pd.Categorical.from_codes(
                rng.integers(0, n_objects, size=n_events), categories=_keys("obj-", n_objects)
            ),
            "occurred_at": occurred,
        }
    )
    # teacher posts in community channels
    n_talk = max(1, n_events // 400)
    talk_teacher = class_teacher[rng.choice(np.flatnonzero(is_pli), size=n_talk)] if is_pli.any() else np.zeros(0)
    talk_day = rng.integers(0, n_days, size=n_talk)
    talk_at = pd.Series(
        np.datetime64(CALENDAR.term_start, "s") + (talk_day * 86400 + 12 * 3600).astype("timedelta64[s]")
    )
    talk = pd.DataFrame(
        {
            "class_id": pd.Categorical.from_codes(np.full(n_talk, -1), dtype=classes_dtype),
            "community_id": pd.Categorical.from_codes(talk_teacher % n_communities, categories=community_keys),
            "tool": pd.Categorical.from_codes(np.zeros(n_talk, int), categories=list(TOOLS)),
            "kind": pd.Categorical.from_codes(np.zeros(n_talk, int), categories=list(EVENT_KINDS)),
            "actor_key": pd.Categorical.from_codes(n_students + talk_teacher, dtype=persons),
            "target_key": pd.Categorical.from_codes(np.full(n_talk, -1), dtype=persons),
            "object_id": pd.Categorical.from_codes(np.zeros(n_talk, int), categories=_keys("obj-", n_objects)),
            "occurred_at": talk_at.dt.tz_localize(CALENDAR.timezone).dt.tz_convert("UTC"),
        }
    )
    events = pd.concat([events, talk], ignore_index=True)

    enrollments = pd.DataFrame(
        {
            "class_id": pd.Categorical.from_codes(
                np.concatenate([enrol_class, np.arange(n_classes)]), dtype=classes_dtype
            ),
            "person_key": pd.Categorical.from_codes(
                np.concatenate([enrol_student, n_students + class_teacher]), dtype=persons
            ),
            "role": ["student"] * len(enrol_class) + ["teacher"] * n_classes,
            "joined_on": pd.NaT,
            "left_on": pd.NaT,
        }
    )
    n_assign = n_classes * 30
    assignments = pd.DataFrame(
        {
            "assignment_id": _keys("a-", n_assign),
            "class_id": class_keys[np.repeat(np.arange(n_classes), 30)],
            "has_forms_resource": rng.random(n_assign) < 0.3,
        }
    )
    n_sub = len(enrol_class) * 12
    srow = rng.integers(0, len(enrol_class), size=n_sub)
    scls = enrol_class[srow]
    submitted = pd.Series(
        np.datetime64(CALENDAR.term_start, "s") + (rng.integers(0, n_days * 86400, size=n_sub)).astype("timedelta64[s]")
    ).dt.tz_localize("UTC")
    back = rng.random(n_sub) < 0.6
    returned = submitted + pd.to_timedelta(rng.exponential(30, size=n_sub), unit="h")
    submissions = pd.DataFrame(
        {
            "submission_id": np.arange(n_sub),
            "assignment_id": assignments["assignment_id"].to_numpy()[scls * 30 + rng.integers(0, 30, size=n_sub)],
            "class_id": pd.Categorical.from_codes(scls, dtype=classes_dtype),
            "student_key": pd.Categorical.from_codes(enrol_student[srow], dtype=persons),
            "submitted_at": submitted,
            "returned_at": returned.where(back),
        }
    )
    classes = pd.DataFrame(
        {
            "class_id": class_keys,
            "school_id": np.array([f"school-{i % 89:02d}" for i in range(n_classes)], dtype=object),
            "is_pli": is_pli,
            "community_id": np.where(community >= 0, community_keys[np.maximum(community, 0)], None),
        }
    )
    members = pd.DataFrame(
        {
            "community_id": community_keys[community[is_pli]],
            "person_key": person_keys[n_students + class_teacher[is_pli]],
            "role": "teacher",
        }
    ).drop_duplicates()
    return ActivityFrames(events, enrollments, submissions, assignments, classes, members)


# --- the three core aggregations, the engine's way and DuckDB's way -------------------------------------------


def engine_aggregations(codes: dict[str, np.ndarray], n_students: int, n_classes: int, school: np.ndarray):
    """Day bitmaps + bincount, as measures/components.py does (one pass per tool, no nunique)."""
    stu, cls_of, tool, day = codes["stu"], codes["stu_class"], codes["tool"], codes["day"]
    n_days = len(school)
    out = {}
    days_rows, reach_rows = [], []
    month_start = np.array([d.day == 1 for d in (CALENDAR.term_start + timedelta(days=i) for i in range(n_days))])
    month_start[0] = True
    m_edges = np.flatnonzero(month_start)
    for t in range(len(TOOLS)):
        sel = tool == t
        bits = bitmaps(n_days, n_students, day[sel], stu[sel])
        users = np.bincount(cls_of, weights=bits.any(axis=0), minlength=n_classes)
        total = np.bincount(cls_of, weights=bits[school].sum(axis=0, dtype=np.int32), minlength=n_classes)
        days_rows.append(np.where(users > 0, total / np.maximum(users, 1), np.nan))
        for m, (lo, hi) in enumerate(zip(m_edges, [*m_edges[1:], n_days], strict=True)):
            active = bits[lo:hi].any(axis=0)
            reach_rows.append((t, m, np.bincount(cls_of, weights=active, minlength=n_classes)))
    out["days"] = np.vstack(days_rows)  # tool x class: mean school days over the students who used the tool
    out["monthly"] = reach_rows
    return out


DUCK_SQL = {
    "days": """
        select tool, cls, sum(d)::double / count(*) as mean_days from (
          select e.tool, e.stu, any_value(e.cls) as cls, count(distinct sd.day) as d
          from ev e left join sd on sd.day = e.day where e.stu >= 0 group by e.tool, e.stu
        ) group by tool, cls
    """,
    "monthly": """
        select e.tool, m.month, e.cls, count(distinct e.stu) as reached
        from ev e join months m on m.day = e.day where e.stu >= 0 group by e.tool, m.month, e.cls
    """,
    "weekly": "select cls, (day + ?) // 7 as week, tool, count(*) as n from ev group by all",
}


def duckdb_aggregations(con):
    out = {}
    out["days"] = con.execute(DUCK_SQL["days"]).fetchnumpy()
    out["monthly"] = con.execute(DUCK_SQL["monthly"]).fetchnumpy()
    out["weekly"] = con.execute(DUCK_SQL["weekly"], [CALENDAR.term_start.weekday()]).fetchnumpy()
    return out


def check_same(ours, duck, n_classes: int) -> None:
    d = duck["days"]
    mine = ours["days"][d["tool"].astype(int), d["cls"].astype(int)]
    assert np.allclose(mine, d["mean_days"]), "days per student and tool differ from DuckDB"
    table = {(t, m): r for t, m, r in ours["monthly"]}
    m = duck["monthly"]
    got = np.array([table[(int(t), int(mm))][int(c)] for t, mm, c in zip(m["tool"][:5000], m["month"][:5000],
                                                                        m["cls"][:5000], strict=True)])  # fmt: skip
    assert np.array_equal(got, m["reached"][:5000]), "monthly reach differs from DuckDB"
    w = duck["weekly"]
    n_weeks = len(ours["weekly"]) // (n_classes * len(TOOLS))
    key = (w["cls"].astype(np.int64) * n_weeks + w["week"].astype(np.int64)) * len(TOOLS) + w["tool"].astype(np.int64)
    assert np.array_equal(ours["weekly"][key], w["n"]), "weekly counts differ from DuckDB"
    assert ours["weekly"].sum() == w["n"].sum()


def timed(fn, *args, repeat: int = 1, **kwargs):
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - started)
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--students", type=int, default=75_000)
    parser.add_argument("--classes", type=int, default=3_000)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--duckdb-threads", type=int, default=2)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    frames = synthesise(args.events, args.students, args.classes, args.seed)
    print(
        f"synthetic district: {len(frames.events):,} events, {args.students:,} students, {args.classes:,} classes, "
        f"{len(frames.submissions):,} submissions; generated in {time.perf_counter() - started:.1f} s, "
        f"RSS so far {peak_rss_mb():,.0f} MB"
    )
    as_of = CALENDAR.term_end
    periods = all_periods(CALENDAR, as_of)
    resident = reset_peak()
    full_s, table = timed(compute_results, frames, CALENDAR, periods, as_of=as_of, min_n=10)
    print(
        f"full recompute: {len(periods)} periods, {len(table):,} figures in {full_s:.1f} s (target <= 60 s); "
        f"peak RSS during it {peak_since_reset_mb():,.0f} MB with the input frames resident ({resident:,.0f} MB "
        f"before it started; target <= 4096 MB)"
    )
    del table
    week = parse_period("2026-W51", CALENDAR, as_of)
    latest = [week, parse_period("2026-12", CALENDAR, as_of), parse_period("term", CALENDAR, as_of)]
    cold_s, table = timed(compute_results, frames, CALENDAR, latest, as_of=as_of, min_n=10)
    print(
        f"weekly recompute from scratch (prepare all events, then week, month, term): {len(table):,} figures "
        f"in {cold_s:.1f} s"
    )
    del table
    # Incremental: a long-running process holds the prepared state of the term so far; the week's new
    # events are folded in (add_activity) and only the week, its month and the term are recomputed.
    cut = pd.Timestamp(week.start, tz=CALENDAR.timezone).tz_convert("UTC")
    new = (frames.events["occurred_at"] >= cut).to_numpy()
    before = replace(frames, events=frames.events[~new])
    batch = replace(frames, events=frames.events[new], submissions=frames.submissions.iloc[:0])
    state = prepare(before, CALENDAR, as_of)

    def incremental():
        add_activity(state, batch)
        return compute_results(state, CALENDAR, latest, as_of=as_of, min_n=10)

    inc_s, table = timed(incremental)
    print(
        f"incremental weekly recompute ({int(new.sum()):,} new events folded into the prepared term, then week, "
        f"month, term): {len(table):,} figures in {inc_s:.1f} s (target <= 5 s)"
    )
    del table

    import duckdb

    p = prepare(frames, CALENDAR, as_of)  # shared: both sides get the same integer codes and local days
    ev = frames.events
    from measures.prepare import KeyLookup, district_days, recode

    cls = recode(ev["class_id"], p.class_ids)
    keep = cls >= 0
    day = district_days(ev["occurred_at"], CALENDAR)[keep]
    cls = cls[keep]
    actor = recode(ev["actor_key"], p.persons)[keep]
    stu = KeyLookup(p.s_class, p.s_person, len(p.persons) + 1).find(cls, actor)
    tool = recode(ev["tool"], pd.Index(TOOLS))[keep]
    inside = (day >= 0) & (day < p.n_days)
    codes = {
        "cls": cls[inside].astype(np.int32),
        "stu": stu[inside].astype(np.int32),
        "tool": tool[inside].astype(np.int8),
        "day": day[inside].astype(np.int32),
    }
    student = codes["stu"] >= 0
    student_codes = {k: v[student] for k, v in codes.items()}
    student_codes["stu_class"] = p.s_class
    con = duckdb.connect()
    con.execute(f"set threads = {args.duckdb_threads}")
    con.register("ev", pd.DataFrame(codes))
    con.register("sd", pd.DataFrame({"day": np.flatnonzero(p.school).astype(np.int32)}))
    days = np.arange(p.n_days)
    month = np.array([(CALENDAR.term_start + timedelta(days=int(i))).month for i in days])
    con.register("months", pd.DataFrame({"day": days.astype(np.int32), "month": month - month[0]}))

    def ours_all():
        out = engine_aggregations(student_codes, p.n_students, p.n_classes, p.school)
        w = (codes["day"] + CALENDAR.term_start.weekday()) // 7
        n_weeks = int(w.max()) + 1
        key = (codes["cls"].astype(np.int64) * n_weeks + w) * len(TOOLS) + codes["tool"]
        out["weekly"] = np.bincount(key, minlength=p.n_classes * n_weeks * len(TOOLS))
        return out

    ours_s, ours = timed(ours_all, repeat=2)
    duck_s, duck = timed(duckdb_aggregations, con, repeat=2)
    check_same(ours, duck, p.n_classes)
    print(
        f"core aggregations on {len(codes['day']):,} events (days per student and tool, monthly reach per tool, "
        f"weekly count table): pandas/numpy {ours_s:.2f} s, DuckDB ({args.duckdb_threads} threads) {duck_s:.2f} s, "
        f"ratio pandas/DuckDB = {ours_s / duck_s:.2f}x (target <= 1.5x); results identical"
    )
    print(f"peak RSS of the whole run: {peak_rss_mb():,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
