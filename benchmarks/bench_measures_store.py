"""Benchmark: the product's recompute after an ingest, from a SQLite store, with and without the saved state.

The synthetic district of bench_measures (``synthesise``) is written to a SQLite store in two ingest runs:
run 1 holds every event before the last school week, run 2 the last week's events, the submissions made in
that week, and feedback returned that week on half the unreturned work of the two weeks before. Printed:

- the weekly recompute (the week, its month, the term) from scratch from the store after run 1, which also
  saves the prepared state (measures/snapshot.py);
- the recompute after run 2 as the product runs it after an ingest: it folds only run 2 into the saved state and
  recomputes the periods run 2 touched (late feedback reaches back two weeks) and the current ones, with where
  its time went. It runs ``--repeat`` times (3 by default): first right after ingesting run 2, in the same
  process, as ``pli-pulse ingest`` does, then again from the state as it was after run 1, because on the
  project machine the same run varies by half a second or more (how much fresh memory the host must map). Every
  run is printed with its steps, then the median;
- the from-scratch recompute of the same periods on the same final store (the baseline), the ratio
  incremental/from-scratch, and the figures of both checked identical;
- the cost of the store checks on their own (roster fingerprint, events per run).

Run ``python -m benchmarks.bench_measures_store`` (2M events) or ``--events 20000000`` for district scale.
Building the 20M store takes about 6 minutes: ``--cache DIR`` keeps it as it is after run 1 and starts from it
on the next run with the same arguments.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select, update

from benchmarks.bench_measures import CALENDAR, synthesise
from graph_ingest.state import finish_run, start_run
from measures import snapshot
from measures.materialise import recompute
from measures.periods import current_week
from measures.report import results_from_store
from pli_pulse.config import Settings
from store import schema
from store.db import make_engine, upgrade


def _text(s: pd.Series) -> list:
    values = s.astype(object).to_numpy()
    return [None if v is None or v != v else str(v) for v in values]


def _times(s: pd.Series) -> list:
    """UTC timestamps in the text form SQLAlchemy writes to SQLite, None for NaT."""
    raw = s.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")
    out = pd.Series(np.datetime_as_string(raw, unit="us")).str.replace("T", " ", regex=False)
    return [None if np.isnat(r) else t for r, t in zip(raw, out, strict=True)]


def _insert(conn, table, columns: list[str], rows) -> None:
    marks = ", ".join("?" for _ in columns)
    conn.executemany(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", rows)


def _upsert_submissions(conn, sub: pd.DataFrame, run_id: int) -> None:
    """As graph_ingest/writer.py's ``upsert_submissions``: stamped with the run when new or really changed."""
    cols = ["submission_id", "assignment_id", "class_id", "student_key", "submitted_at", "returned_at", "status"]
    returned = _times(sub["returned_at"])
    rows = zip(
        _text(sub["submission_id"]),
        _text(sub["assignment_id"]),
        _text(sub["class_id"]),
        _text(sub["student_key"]),
        _times(sub["submitted_at"]),
        returned,
        ["returned" if r is not None else "submitted" for r in returned],
        [run_id] * len(sub),
        strict=True,
    )
    marks = ", ".join("?" for _ in range(len(cols) + 1))
    changed = " OR ".join(f"submissions.{c} IS NOT excluded.{c}" for c in ("submitted_at", "returned_at", "status"))
    conn.executemany(
        f"INSERT INTO submissions ({', '.join(cols)}, run_id) VALUES ({marks}) ON CONFLICT (submission_id) DO UPDATE "
        "SET submitted_at = excluded.submitted_at, returned_at = excluded.returned_at, status = excluded.status, "
        f"run_id = excluded.run_id WHERE {changed}",
        list(rows),
    )


def _write_events(engine, events: pd.DataFrame, run_id: int, offset: int) -> None:
    cols = ["source_id", "class_id", "community_id", "tool", "kind", "actor_key", "target_key", "object_id"]
    cols += ["occurred_at", "run_id"]
    rows = zip(
        [f"ev-{offset + i}" for i in range(len(events))],
        _text(events["class_id"]),
        _text(events["community_id"]),
        _text(events["tool"]),
        _text(events["kind"]),
        _text(events["actor_key"]),
        _text(events["target_key"]),
        _text(events["object_id"]),
        _times(events["occurred_at"]),
        [run_id] * len(events),
        strict=True,
    )
    raw = engine.raw_connection()
    try:
        _insert(raw.cursor(), schema.activity_events, cols, rows)
        raw.commit()
    finally:
        raw.close()


def _write_roster(engine, frames) -> None:
    en, cls, cm = frames.enrollments, frames.classes, frames.community_members
    persons = pd.DataFrame({"k": _text(en["person_key"]), "r": en["role"].to_numpy()}).drop_duplicates("k")
    communities = sorted({c for c in _text(cls["community_id"]) if c})
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        schools = sorted(set(cls["school_id"]))
        _insert(cur, schema.schools, ["school_id", "display_name"], [(s, s) for s in schools])
        _insert(
            cur,
            schema.classes,
            ["class_id", "school_id", "display_name", "is_pli"],
            [(c, s, c, bool(p)) for c, s, p in zip(cls["class_id"], cls["school_id"], cls["is_pli"], strict=True)],
        )
        _insert(
            cur,
            schema.people,
            ["person_key", "role", "aad_object_id", "display_name"],
            [
                (k, r, k if r == "teacher" else None, k if r == "teacher" else None)
                for k, r in persons.itertuples(False)
            ],
        )
        _insert(
            cur,
            schema.memberships,
            ["class_id", "person_key", "role"],
            list(zip(_text(en["class_id"]), _text(en["person_key"]), en["role"].tolist(), strict=True)),
        )
        _insert(cur, schema.communities, ["community_id", "display_name"], [(c, c) for c in communities])
        _insert(
            cur,
            schema.community_classes,
            ["community_id", "class_id"],
            [(c, k) for c, k in zip(_text(cls["community_id"]), cls["class_id"], strict=True) if c],
        )
        _insert(
            cur,
            schema.community_members,
            ["community_id", "person_key", "role"],
            list(zip(_text(cm["community_id"]), _text(cm["person_key"]), cm["role"].tolist(), strict=True)),
        )
        asg = frames.assignments
        _insert(
            cur,
            schema.assignments,
            ["assignment_id", "class_id", "has_forms_resource"],
            list(
                zip(
                    _text(asg["assignment_id"]), _text(asg["class_id"]), asg["has_forms_resource"].tolist(), strict=True
                )
            ),
        )
        raw.commit()
    finally:
        raw.close()


def _ingest(engine, events: pd.DataFrame, submissions: pd.DataFrame, offset: int) -> int:
    run = start_run(engine, "incremental")
    _write_events(engine, events, run, offset)
    raw = engine.raw_connection()
    try:
        _upsert_submissions(raw.cursor(), submissions, run)
        raw.commit()
    finally:
        raw.close()
    finish_run(engine, run, "succeeded", {})
    return run


def _table(engine) -> pd.DataFrame:
    t = results_from_store(engine)
    return t.sort_values(["scope", "scope_id", "period", "measure"]).reset_index(drop=True)


def _steps(steps: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f} s" for k, v in steps.items())


def _cached_store(args) -> str:
    return f"run1-{args.events}-{args.students}-{args.classes}-{args.seed}"


def _copy_store(src: Path, dst: Path) -> None:
    """The SQLite file and the measures state saved beside it (made together, so their tokens match)."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "store.sqlite3", dst / "store.sqlite3")
    shutil.copytree(src / "state", dst / "state", dirs_exist_ok=True)
    os.sync()  # the copy's dirty pages flushed now, not during the first fsync of the measured recompute


def _incremental(engine, settings, as_of):
    report = recompute(engine, settings, incremental=True, as_of=as_of)  # it plans its periods
    assert not report.state.rebuilt, report.state.reason
    return report


@contextmanager
def _state_kept(engine, settings):
    """Yields a function that puts the saved state, file and token, back as it is now: the next incremental
    recompute then folds the same runs again, as the first did. (The figures it rewrites are the same.)"""
    path = snapshot.state_path(settings)
    kept = path.with_name("kept-" + path.name)  # taken before run 2 is ingested: the state after run 1
    shutil.copyfile(path, kept)
    snaps = schema.measure_snapshots
    with engine.connect() as conn:
        row = conn.execute(select(snaps.c.token, snaps.c.saved_at).where(snaps.c.name == snapshot.NAME)).one()

    def put_back() -> None:
        shutil.copyfile(kept, path)
        with engine.begin() as conn:
            token = update(snaps).where(snaps.c.name == snapshot.NAME)
            conn.execute(token.values(token=row.token, saved_at=row.saved_at))
        os.sync()

    try:
        yield put_back
    finally:
        kept.unlink()


def _daily(engine, settings, ev, late, sub, sub_late, returned_now, sub2):
    """The last week as nightly ingests: each school day's events and submissions in a run of its own (the week's
    late feedback comes with the first), each followed by the recompute the product runs, as of that day."""
    tz = CALENDAR.timezone
    ev_day = ev["occurred_at"].dt.tz_convert(tz).dt.date.to_numpy()
    sub_day = sub["submitted_at"].dt.tz_convert(tz).dt.date.to_numpy()
    days = sorted(set(ev_day[late]))
    offset, report = int((~late).sum()), None
    for i, day in enumerate(days):
        todays = late & (ev_day == day)
        subs = sub.loc[sub_late & (sub_day == day)]
        if i == 0:
            subs = pd.concat([subs, sub2.loc[sub2["submission_id"].isin(sub.loc[returned_now, "submission_id"])]])
        _ingest(engine, ev.loc[todays], subs, offset)
        offset += int(todays.sum())
        report = recompute(engine, settings, incremental=True, as_of=day)
        assert not report.state.rebuilt, report.state.reason
        print(
            f"nightly run after {day}: {report.seconds:.2f} s (fold {report.state.events_read:,} events and "
            f"{report.state.submissions_read:,} submissions; {len(report.periods)} periods) "
            f"[{_steps(report.state.steps)}, {_steps(report.steps)}]"
        )
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--students", type=int, default=75_000)
    parser.add_argument("--classes", type=int, default=3_000)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--dir", type=Path, default=None, help="where the SQLite store goes (default: a temp dir)")
    parser.add_argument(
        "--cache", type=Path, default=None, help="keep the store as it is after run 1 here, and start from it next time"
    )
    parser.add_argument("--daily", action="store_true", help="ingest the last week as one run per school day")
    parser.add_argument("--repeat", type=int, default=3, help="incremental recomputes after run 2 (median shown)")
    args = parser.parse_args(argv)

    work = Path(args.dir or tempfile.mkdtemp(prefix="bench-measures-store-"))
    url = f"sqlite:///{work / 'store.sqlite3'}"
    settings = Settings(
        database_url=url,
        calendar_term_start=CALENDAR.term_start,
        calendar_term_end=CALENDAR.term_end,
        calendar_holidays=sorted(CALENDAR.holidays),
        calendar_timezone=CALENDAR.timezone,
        measures_state_dir=work / "state",
    )
    as_of = CALENDAR.term_end

    started = time.perf_counter()
    frames = synthesise(args.events, args.students, args.classes, args.seed)
    ev, sub = frames.events, frames.submissions.copy()
    sub["submission_id"] = sub["submission_id"].astype(str)
    week_start = pd.Timestamp(current_week(CALENDAR, as_of).start, tz=CALENDAR.timezone).tz_convert("UTC")
    late = (ev["occurred_at"] >= week_start).to_numpy()
    sub_late = (sub["submitted_at"] >= week_start).to_numpy()
    # Run 2 also sees feedback returned this week on half the unreturned work of the two weeks before.
    recent = (~sub_late) & (sub["submitted_at"] >= week_start - pd.Timedelta(days=14)).to_numpy()
    rng = np.random.default_rng(args.seed)
    returned_now = recent & sub["returned_at"].isna().to_numpy() & (rng.random(len(sub)) < 0.5)
    sub1 = sub.loc[~sub_late].copy()
    sub2 = sub.loc[sub_late | returned_now].copy()
    sub2.loc[returned_now[sub_late | returned_now], "returned_at"] = week_start + pd.Timedelta(hours=20)

    cache = args.cache / _cached_store(args) if args.cache else None
    built = "from the cache " + str(cache) if cache and cache.exists() else ""
    if built:
        _copy_store(cache, work)
        engine = make_engine(url)
        upgrade(engine)  # a cache from an older schema: a migration that forgets the state shows as a rebuild
        if snapshot.load(settings)[0] is None:  # a state saved by an older format: made again, once, and kept
            t = time.perf_counter()
            recompute(engine, settings, incremental=False, as_of=as_of)
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            _copy_store(work, cache)
            built += f" (its saved state, from an older format, made again in {time.perf_counter() - t:.0f} s)"
    else:
        engine = make_engine(url)
        upgrade(engine)
        _write_roster(engine, frames)
        _ingest(engine, ev.loc[~late], sub1, 0)
        built = f"built in {time.perf_counter() - started:.0f} s"
    print(
        f"SQLite store: {len(ev):,} events ({int((~late).sum()):,} in run 1, {int(late.sum()):,} in run 2 = the week "
        f"of {week_start.date()}), {len(sub):,} submissions ({int(returned_now.sum()):,} returned in run 2), "
        f"{args.students:,} students, {args.classes:,} classes; {built}"
    )
    if cache is None or not cache.exists():
        first = recompute(engine, settings, incremental=False, as_of=as_of)  # saves the state; every period
        size = snapshot.state_path(settings).stat().st_size / 1e6
        print(
            f"after run 1, from scratch ({len(first.periods)} periods): {first.seconds:.1f} s "
            f"[{_steps(first.state.steps)}, {_steps(first.steps)}]; saved state {size:.0f} MB"
        )
        if cache is not None:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            _copy_store(work, cache)

    if args.daily:
        inc = _daily(engine, settings, ev, late, sub, sub_late, returned_now, sub2)
        as_of = CALENDAR.term_end
    else:
        with _state_kept(engine, settings) as put_back:
            _ingest(engine, ev.loc[late], sub2, int((~late).sum()))
            runs = [_incremental(engine, settings, as_of)]  # as `pli-pulse ingest` runs it, after the ingest
            for _ in range(1, max(1, args.repeat)):
                put_back()
                runs.append(_incremental(engine, settings, as_of))
        for i, run in enumerate(runs):
            where = "in the process that ingested run 2" if i == 0 else "again, from the state as after run 1"
            steps = f"{_steps(run.state.steps)}, {_steps(run.steps)}"
            print(f"  incremental run {i + 1}, {where}: {run.seconds:.2f} s [{steps}]")
        inc = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
        print(
            f"after run 2, incremental, as the product runs it after an ingest (fold {inc.state.events_read:,} new "
            f"events and {inc.state.submissions_read:,} new or changed submissions of run {inc.state.runs_folded}; "
            f"{len(inc.periods)} periods planned: {', '.join(inc.periods)}): {inc.seconds:.2f} s, the median of "
            f"the {len(runs)} runs above"
        )
    inc_table = _table(engine)

    t = time.perf_counter()
    snapshot.roster_fingerprint(engine)
    roster_s = time.perf_counter() - t
    t = time.perf_counter()
    snapshot.run_counts(engine)
    counts_s = time.perf_counter() - t
    print(
        f"store checks on the thread: roster fingerprint {roster_s:.2f} s; events per run, which the events "
        f"generation replaced (migration 0009), would take {counts_s:.2f} s"
    )

    # Every stored period, not only those planned: a period the planner missed would differ here.
    base = recompute(engine, settings, periods=sorted(set(inc_table["period"])), incremental=False, as_of=as_of)
    base_table = _table(engine)
    same = base_table.equals(inc_table)
    if not same:
        keys = ["scope", "scope_id", "period", "measure"]
        both = inc_table.merge(base_table, on=keys, how="outer", suffixes=("", " from scratch"), indicator=True)
        differ = both[(both["_merge"] != "both") | (both["value"].fillna(-1) != both["value from scratch"].fillna(-1))]
        print(f"{len(differ):,} figures differ from the from-scratch computation, for example:")
        print(differ.head(12).to_string())
    print(
        f"after run 2, from scratch (baseline, every stored period: {len(base.periods)}): {base.seconds:.1f} s "
        f"[{_steps(base.state.steps)}, "
        f"{_steps(base.steps)}]; ratio incremental/from-scratch = {inc.seconds / base.seconds:.2f}; "
        f"figures identical: {same}"
    )
    engine.dispose()
    if args.dir is None:
        shutil.rmtree(work)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
