"""The saved term state: folding only new ingest runs gives exactly the figures of a from-scratch recompute."""

from __future__ import annotations

import io
import logging
import os
import pickle
import stat
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from graph_ingest.state import finish_run, start_run
from graph_ingest.writer import upsert_submissions
from measures import snapshot, state_file
from measures.frames import frames_from_store
from measures.materialise import recompute
from measures.periods import all_periods
from measures.report import results_from_store
from measures.results import compute_results
from pli_pulse.config import Settings
from pli_pulse.pseudonym import Pseudonymizer
from store import schema
from store.forget import forget_person
from store.retention import purge_expired
from store.upsert import upsert
from tests.measures.world import CALENDAR, World, at, store_world

AS_OF = date(2026, 11, 20)
MIN_N = 2
P = Pseudonymizer(b"k" * 32)
STUDENT_AAD = "11111111-1111-1111-1111-111111111111"
FORGOTTEN = P.student(STUDENT_AAD)
COLUMNS = ["scope", "scope_id", "period", "measure", "value", "n", "suppressed"]
CHANGED_EVENTS = "stored events or ingest run records were deleted or changed (forget, retention)"


def _settings(engine, tmp_path, calendar=CALENDAR) -> Settings:
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        calendar_term_start=calendar.term_start,
        calendar_term_end=calendar.term_end,
        calendar_holidays=sorted(calendar.holidays),
        calendar_timezone=calendar.timezone,
        privacy_min_n=MIN_N,
        measures_state_dir=tmp_path / "state",
    )


def _roster() -> World:
    """Classes A, B, C in community-1 (4 students each, one of A's is the student who will be forgotten), X."""
    w = World()
    for cid in ("A", "B", "C"):
        w.klass(cid, 4, teacher=f"T-{cid}")
    w.enroll("A", FORGOTTEN)
    w.klass("X", 4, pli=False, community=None, teacher="T-X")
    w.member("community-1", "T-A")
    w.member("community-1", "T-B")
    w.assignment("A", "asg-1")
    w.assignment("B", "asg-2", forms=True)
    return w


def _event(i, class_id, kind, actor, when, target=None, tool="teams", community=None, object_id=None):
    return {
        "source_id": f"ev-{i}",
        "class_id": class_id,
        "community_id": community,
        "tool": tool,
        "kind": kind,
        "actor_key": actor,
        "target_key": target,
        "object_id": object_id or f"obj-{i}",
        "occurred_at": when,
    }


def _week_events(start: int, day: date) -> list[dict]:
    """A week's worth of varied activity: forms, posts, replies between students, OneNote, community talk."""
    d = day
    return [
        _event(start + 0, "A", "form_response", "A-s0", at(d), tool="forms"),
        _event(start + 1, "A", "reply", "A-s1", at(d, 11), target="A-s0"),
        _event(start + 2, "A", "reaction", "A-s0", at(d, 12), target="A-s1"),
        _event(start + 3, "A", "mention", "T-A", at(d, 13), target=FORGOTTEN),
        _event(start + 4, "A", "reply", FORGOTTEN, at(d + timedelta(days=1)), target="A-s2"),
        _event(start + 5, "B", "post", "B-s0", at(d)),
        _event(start + 6, "B", "reply", "B-s1", at(d, 14), target="B-s0"),
        _event(start + 7, "B", "collab_edit", "B-s2", at(d, 15), tool="onenote"),
        _event(start + 8, "C", "notebook_edit", "C-s3", at(d), tool="onenote"),
        _event(start + 9, "C", "form_response", "C-s1", at(d + timedelta(days=1)), tool="forms"),
        _event(start + 10, "X", "form_response", "X-s0", at(d), tool="forms"),
        _event(start + 11, None, "post", "T-A", at(d, 16), community="community-1"),
    ]


def _submission(sid, class_id, asg, student, submitted, returned=None) -> dict:
    return {
        "submission_id": sid,
        "assignment_id": asg,
        "class_id": class_id,
        "student_key": student,
        "submitted_at": submitted,
        "returned_at": returned,
        "status": "returned" if returned else "submitted",
    }


def ingest(engine, events, submissions=(), *, status="succeeded") -> int:
    """One ingest run as graph_ingest writes it: its events carry its run id; "running" leaves it open."""
    run = start_run(engine, "incremental")
    with engine.begin() as conn:
        upsert(conn, schema.activity_events, [{**e, "run_id": run} for e in events])
        upsert_submissions(conn, list(submissions), run)
    if status != "running":
        finish_run(engine, run, status, {})
    return run


@pytest.fixture
def store(store_engine, tmp_path):
    """A store with the roster and one ended run (weeks 44-46 and two submissions), and its settings."""
    store_world(store_engine, _roster())
    events = _week_events(0, date(2026, 10, 27)) + _week_events(100, date(2026, 11, 3))
    events += _week_events(200, date(2026, 11, 10))
    subs = [
        _submission("sub-1", "A", "asg-1", "A-s2", at(date(2026, 11, 3))),
        _submission("sub-2", "B", "asg-2", "B-s3", at(date(2026, 11, 4)), at(date(2026, 11, 5))),
        _submission("sub-3", "A", "asg-1", "A-s3", at(date(2026, 11, 4))),
        _submission("sub-4", "A", "asg-1", "A-s1", at(date(2026, 11, 5)), at(date(2026, 11, 12))),
    ]
    ingest(store_engine, events, subs)
    return store_engine, _settings(store_engine, tmp_path)


def stored_table(engine) -> pd.DataFrame:
    return _canonical(results_from_store(engine))


def _canonical(t: pd.DataFrame) -> pd.DataFrame:
    t = t.loc[:, COLUMNS].astype({"scope": str, "scope_id": str, "period": str, "measure": str})
    t["value"] = t["value"].astype(float)
    t["n"] = t["n"].astype(int)
    t["suppressed"] = t["suppressed"].map(lambda r: None if r is None or r != r else str(r))
    return t.sort_values(["scope", "scope_id", "period", "measure"]).reset_index(drop=True)


def assert_equals_from_scratch(engine, as_of=AS_OF) -> None:
    """Every stored period's figures equal a computation from every row of the store, with no saved state."""
    stored = stored_table(engine)
    labels = set(stored["period"])
    periods = [p for p in all_periods(CALENDAR, as_of) if str(p) in labels]
    assert {str(p) for p in periods} == labels
    expected = compute_results(frames_from_store(engine), CALENDAR, periods, as_of=as_of, min_n=MIN_N)
    pd.testing.assert_frame_equal(stored, _canonical(expected), check_dtype=False)


def every_period(as_of=AS_OF) -> list[str]:
    return [str(p) for p in all_periods(CALENDAR, as_of)]


def first_recompute(engine, settings):
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and report.state.reason == "no saved state yet"
    assert snapshot.state_path(settings).exists()
    return report


def test_incremental_recompute_after_a_second_ingest_run_equals_a_from_scratch_recompute(store):
    engine, settings = store
    first_recompute(engine, settings)
    run2 = ingest(engine, _week_events(300, date(2026, 11, 17)))
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert not report.state.rebuilt
    assert report.state.runs_folded == (run2,)
    assert "2026-W47" in report.periods
    assert_equals_from_scratch(engine)


def test_an_incremental_recompute_reads_only_the_events_of_runs_it_has_not_folded(store):
    engine, settings = store
    first = first_recompute(engine, settings)
    assert first.state.events_read == 36
    ingest(engine, _week_events(300, date(2026, 11, 17))[:5])
    second = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert second.state.events_read == 5
    third = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert (third.state.rebuilt, third.state.events_read, third.state.runs_folded) == (False, 0, ())
    assert third.state.submissions_read == 0


SUBS = [  # the fixture's four submissions, as a sweep sees them again
    _submission("sub-1", "A", "asg-1", "A-s2", at(date(2026, 11, 3))),
    _submission("sub-2", "B", "asg-2", "B-s3", at(date(2026, 11, 4)), at(date(2026, 11, 5))),
    _submission("sub-3", "A", "asg-1", "A-s3", at(date(2026, 11, 4))),
    _submission("sub-4", "A", "asg-1", "A-s1", at(date(2026, 11, 5)), at(date(2026, 11, 12))),
]


def test_a_sweep_that_sees_every_submission_unchanged_folds_none_of_them(store):
    engine, settings = store
    first_recompute(engine, settings)
    ingest(engine, [], SUBS)
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    # The run stamped nothing (no row was rewritten), so there is nothing of it to fold.
    assert (report.state.rebuilt, report.state.runs_folded, report.state.submissions_read) == (False, (), 0)
    assert_equals_from_scratch(engine)


def test_a_run_that_only_changed_submissions_is_folded_once(store):
    engine, settings = store
    first_recompute(engine, settings)
    returned = {**SUBS[2], "returned_at": at(date(2026, 11, 6)), "status": "returned"}
    run = ingest(engine, [], [returned])
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert (report.state.rebuilt, report.state.runs_folded, report.state.submissions_read) == (False, (run,), 1)
    assert_equals_from_scratch(engine)
    again = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert (again.state.rebuilt, again.state.runs_folded, again.state.submissions_read) == (False, (), 0)


def test_a_submission_changed_by_a_run_still_running_is_folded_when_that_run_ends(store):
    engine, settings = store
    first_recompute(engine, settings)
    returned = {**SUBS[0], "returned_at": at(date(2026, 11, 18)), "status": "returned"}
    run = ingest(engine, [], [returned], status="running")
    # sub-1 left the folded run for a pending one: moved, not deleted.
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert (report.state.rebuilt, report.state.runs_pending, report.state.submissions_read) == (False, (run,), 0)
    finish_run(engine, run, "succeeded", {})
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert (report.state.rebuilt, report.state.runs_folded, report.state.submissions_read) == (False, (run,), 1)
    assert_equals_from_scratch(engine)


OUTSIDE_A_RUN = "submissions were changed outside an ingest run, or by a run after it was folded"


def test_submissions_stored_without_an_ingest_run_rebuild_the_state(store):
    engine, settings = store
    first_recompute(engine, settings)
    with engine.begin() as conn:
        upsert(conn, schema.submissions, [_submission("sub-8", "C", "asg-1", "C-s1", at(date(2026, 11, 16)))])
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and report.state.reason == OUTSIDE_A_RUN
    assert_equals_from_scratch(engine)


def test_a_held_submission_changed_without_a_run_rebuilds_the_state(store):
    engine, settings = store
    first_recompute(engine, settings)
    returned = {**SUBS[2], "returned_at": at(date(2026, 11, 6)), "status": "returned"}
    with engine.begin() as conn:  # the row moves from the folded run to no run: the total stays the same
        upsert_submissions(conn, [returned], None)
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and report.state.reason == OUTSIDE_A_RUN
    assert_equals_from_scratch(engine)


def test_a_folded_run_that_changes_a_held_submission_later_rebuilds_the_state(store):
    engine, settings = store
    first_recompute(engine, settings)
    run = ingest(engine, [], [SUBS[0] | {"returned_at": at(date(2026, 11, 9)), "status": "returned"}])
    assert recompute(engine, settings, incremental=True, as_of=AS_OF).state.runs_folded == (run,)
    with engine.begin() as conn:  # e.g. a run marked interrupted by another replica while it still wrote
        upsert_submissions(conn, [SUBS[2] | {"returned_at": at(date(2026, 11, 6)), "status": "returned"}], run)
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and report.state.reason == OUTSIDE_A_RUN
    assert_equals_from_scratch(engine)


def test_a_state_rebuilt_while_a_run_it_holds_is_running_is_not_saved(store):
    engine, settings = store
    ingest(engine, _week_events(700, date(2026, 11, 17)), status="running")
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt
    assert not snapshot.state_path(settings).exists()  # that run could still restamp a held submission
    assert_equals_from_scratch(engine)


def test_a_late_event_dated_in_an_earlier_week_is_folded_and_that_week_is_recomputed(store):
    engine, settings = store
    first_recompute(engine, settings)
    late = [
        _event(400, "C", "form_response", "C-s2", at(date(2026, 11, 4)), tool="forms"),
        _event(401, "C", "reply", "C-s0", at(date(2026, 11, 4), 12), target="C-s2"),
    ]
    ingest(engine, late)
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert not report.state.rebuilt
    assert "2026-W45" in report.periods
    assert_equals_from_scratch(engine)


def test_a_fold_plans_the_periods_its_runs_touch_and_the_current_ones(store):
    engine, settings = store
    first_recompute(engine, settings)
    ingest(engine, _week_events(300, date(2026, 11, 4)))  # 4 and 5 November, in W45
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    # W46 and W47 take November to date for fa_monthly_reach, so they draw on 4 November too.
    assert report.periods == ("2026-11", "2026-W45", "2026-W46", "2026-W47", "term")
    assert_equals_from_scratch(engine)


def test_an_assignment_gaining_a_forms_quiz_replans_the_weeks_of_its_submissions(store):
    engine, settings = store
    first_recompute(engine, settings)
    with engine.begin() as conn:  # as the ingest's assignments upsert writes it: no event, no submission
        row = {"assignment_id": "asg-1", "class_id": "A", "has_forms_resource": True}
        upsert(conn, schema.assignments, [row], update=["has_forms_resource"])
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert not report.state.rebuilt
    assert "2026-W45" in report.periods  # asg-1's submissions of 3 to 5 November are FA now
    assert_equals_from_scratch(engine)


def test_a_recompute_given_periods_saves_no_state_so_the_next_one_still_plans_what_its_runs_touched(store):
    engine, settings = store
    first_recompute(engine, settings)
    run = ingest(engine, _week_events(300, date(2026, 11, 4)))  # touches W45, W46 and W47
    recompute(engine, settings, periods=["2026-W47"], incremental=True, as_of=AS_OF)
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert (report.state.rebuilt, report.state.runs_folded) == (False, (run,))
    assert {"2026-W45", "2026-W46"} <= set(report.periods)
    assert_equals_from_scratch(engine)


def test_a_first_recompute_given_one_period_leaves_the_next_one_to_compute_every_period(store):
    engine, settings = store
    recompute(engine, settings, periods=["2026-W47"], incremental=False, as_of=AS_OF)  # `measures --period`
    assert not snapshot.state_path(settings).exists()
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and report.periods == tuple(every_period())
    assert_equals_from_scratch(engine)


def test_a_recompute_that_fails_to_store_its_figures_keeps_the_old_state_so_the_next_one_folds_the_run_again(store):
    engine, settings = store
    first_recompute(engine, settings)
    before = snapshot.state_path(settings).read_bytes()
    run = ingest(engine, _week_events(300, date(2026, 11, 4)))
    with engine.begin() as conn:  # the figures cannot be stored: as if the process died before they were
        conn.exec_driver_sql("ALTER TABLE measure_results RENAME TO measure_results_away")
    with pytest.raises(DBAPIError):
        recompute(engine, settings, incremental=True, as_of=AS_OF)
    path = snapshot.state_path(settings)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # the state written meanwhile is gone
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE measure_results_away RENAME TO measure_results")
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert (report.state.rebuilt, report.state.runs_folded) == (False, (run,))
    assert "2026-W45" in report.periods
    assert_equals_from_scratch(engine)


def test_feedback_returned_on_an_existing_submission_is_folded_however_long_ago_it_was_returned(store):
    engine, settings = store
    recompute(engine, settings, incremental=True, as_of=AS_OF)
    # Returned on 5 November, seen by an ingest only now: older than any time window around the saved state.
    changed = _submission("sub-1", "A", "asg-1", "A-s2", at(date(2026, 11, 3)), at(date(2026, 11, 5)))
    new = _submission("sub-9", "C", "asg-1", "C-s0", at(date(2026, 10, 28)), at(date(2026, 10, 29)))
    ingest(engine, [], [changed, new])
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert (report.state.rebuilt, report.state.submissions_read) == (False, 2)
    assert_equals_from_scratch(engine)
    fa = stored_table(engine).query("scope == 'class' and scope_id == 'A' and period == '2026-W45'")
    assert fa.set_index("measure").loc["feedback_turnaround", "n"] == 1  # the returned submission now counts


def test_moving_the_as_of_date_redoes_which_feedback_counts(store):
    engine, settings = store
    earlier = date(2026, 11, 10)  # sub-4 (no Forms) is returned on 12 November: FA only from then on
    recompute(engine, settings, as_of=earlier)
    assert_equals_from_scratch(engine, as_of=earlier)
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert not report.state.rebuilt
    assert_equals_from_scratch(engine)


def test_a_later_as_of_date_replans_the_weeks_whose_feedback_it_now_counts(store):
    engine, settings = store
    earlier = date(2026, 11, 10)  # sub-4 (submitted 5 November, no Forms) is returned on 12 November
    recompute(engine, settings, incremental=True, as_of=earlier)
    ingest(engine, _week_events(300, date(2026, 11, 17))[:1])  # a nightly run with nothing about W45
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert not report.state.rebuilt
    assert "2026-W45" in report.periods  # sub-4's feedback now counts as FA on 5 November
    assert_equals_from_scratch(engine)


@pytest.mark.parametrize("change", ["joins", "leaves"])
def test_a_student_joining_or_leaving_a_class_rebuilds_the_state(store, change):
    engine, settings = store
    first_recompute(engine, settings)
    m = schema.memberships
    with engine.begin() as conn:
        if change == "joins":
            conn.execute(schema.people.insert().values(person_key="C-new", role="student"))
            conn.execute(m.insert().values(class_id="C", person_key="C-new", role="student", joined_on=AS_OF))
        else:
            conn.execute(update(m).where(m.c.person_key == "B-s1").values(left_on=date(2026, 11, 12)))
    ingest(engine, [_event(500, "C", "form_response", "C-new", at(date(2026, 11, 20)), tool="forms")])
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and report.state.reason == "the roster changed"
    assert report.periods == tuple(every_period())  # n and S change in every period after the move
    assert_equals_from_scratch(engine)


def test_forgetting_a_student_rebuilds_the_state_and_their_key_leaves_the_file(store):
    engine, settings = store
    first_recompute(engine, settings)
    assert FORGOTTEN.encode() in snapshot.state_path(settings).read_bytes()
    forget_person(engine, STUDENT_AAD, P)
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt
    assert FORGOTTEN.encode() not in snapshot.state_path(settings).read_bytes()
    assert_equals_from_scratch(engine)


def test_forgetting_someone_outside_the_roster_is_noticed_by_the_events_generation(store):
    engine, settings = store
    ingest(engine, [_event(600, "A", "reply", "guest-1", at(date(2026, 11, 12)), target="A-s0")])
    first_recompute(engine, settings)
    with engine.begin() as conn:  # forget deletes by actor or target; a guest has no roster row to change
        conn.execute(delete(schema.activity_events).where(schema.activity_events.c.actor_key == "guest-1"))
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and report.state.reason == CHANGED_EVENTS
    assert_equals_from_scratch(engine)


def test_an_event_changed_in_place_rebuilds_the_state(store):
    engine, settings = store
    first_recompute(engine, settings)
    ev = schema.activity_events.c
    with engine.begin() as conn:  # no product path edits an event; an administrator's SQL might
        conn.execute(update(schema.activity_events).where(ev.source_id == "ev-5").values(class_id="C"))
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and report.state.reason == CHANGED_EVENTS
    assert_equals_from_scratch(engine)


def test_events_deleted_while_a_fold_reads_leave_a_state_the_next_recompute_rebuilds(store, monkeypatch):
    engine, settings = store
    first_recompute(engine, settings)
    ingest(engine, _week_events(870, date(2026, 11, 17)))
    real = snapshot.frames_for_runs

    def read_then_delete(engine, run_ids):
        batch = real(engine, run_ids)
        with engine.begin() as conn:  # after the checks and the read: a held event of the first run goes
            conn.execute(delete(schema.activity_events).where(schema.activity_events.c.source_id == "ev-5"))
        return batch

    monkeypatch.setattr(snapshot, "frames_for_runs", read_then_delete)
    assert not recompute(engine, settings, incremental=True, as_of=AS_OF).state.rebuilt  # still holds ev-5
    monkeypatch.setattr(snapshot, "frames_for_runs", real)
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and report.state.reason == CHANGED_EVENTS
    assert_equals_from_scratch(engine)


def test_a_run_that_wrote_nothing_is_held_after_one_fold_and_never_read_again(store, monkeypatch):
    engine, settings = store
    first_recompute(engine, settings)
    empty = ingest(engine, [])
    read: list[list[int]] = []
    real = snapshot.frames_for_runs

    def recording(engine, run_ids):
        read.append(list(run_ids))
        return real(engine, run_ids)

    monkeypatch.setattr(snapshot, "frames_for_runs", recording)
    first = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert (first.state.rebuilt, first.state.runs_folded, read) == (False, (), [[empty]])
    recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert read == [[empty], []]


def test_a_retention_purge_rebuilds_the_state(store):
    engine, settings = store
    first_recompute(engine, settings)
    removed = purge_expired(engine, 10, now=datetime(2026, 11, 8, tzinfo=UTC))
    assert removed["activity_events"] > 0
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and "deleted" in report.state.reason
    assert_equals_from_scratch(engine)


def test_deleted_submissions_alone_rebuild_the_state(store):
    engine, settings = store
    first_recompute(engine, settings)
    with engine.begin() as conn:
        conn.execute(delete(schema.submissions).where(schema.submissions.c.submission_id == "sub-3"))
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and report.state.reason == "submissions the state holds were deleted"
    assert_equals_from_scratch(engine)


def test_a_run_still_running_is_folded_only_once_it_has_ended(store):
    engine, settings = store
    first_recompute(engine, settings)
    before = stored_table(engine)
    run = ingest(engine, _week_events(700, date(2026, 11, 17)), status="running")
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert (report.state.rebuilt, report.state.runs_folded, report.state.runs_pending) == (False, (), (run,))
    pd.testing.assert_frame_equal(stored_table(engine), before)
    finish_run(engine, run, "succeeded", {})
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert (report.state.rebuilt, report.state.runs_folded) == (False, (run,))
    assert_equals_from_scratch(engine)


def test_a_failed_run_is_folded_because_its_events_stay_in_the_store(store):
    engine, settings = store
    first_recompute(engine, settings)
    run = ingest(engine, _week_events(800, date(2026, 11, 16)), status="failed")
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.runs_folded == (run,)
    assert_equals_from_scratch(engine)


# run_statuses answers before the read starts (_StoreLook.first), roster_fingerprint after it
@pytest.mark.parametrize("check", ["run_statuses", "roster_fingerprint"])
def test_a_store_check_that_fails_on_its_thread_fails_the_recompute_with_its_error(store, monkeypatch, check):
    engine, settings = store
    first_recompute(engine, settings)
    ingest(engine, _week_events(860, date(2026, 11, 17)))

    def broken(engine):
        raise DBAPIError("SELECT ...", {}, Exception("disk I/O error"))

    monkeypatch.setattr(snapshot, check, broken)
    with pytest.raises(DBAPIError, match="disk I/O error"):
        recompute(engine, settings, incremental=True, as_of=AS_OF)


def test_events_stored_without_an_ingest_run_rebuild_the_state(store):
    engine, settings = store
    first_recompute(engine, settings)
    with engine.begin() as conn:
        event = _event(900, "B", "form_response", "B-s3", at(date(2026, 11, 18)), tool="forms")
        upsert(conn, schema.activity_events, [{**event, "run_id": None}])
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and report.state.reason == "events stored without an ingest run"
    assert_equals_from_scratch(engine)


def test_events_stored_without_a_run_before_the_state_was_made_do_not_stop_a_fold(store):
    engine, settings = store
    with engine.begin() as conn:  # rows from before runs were recorded (migration 0005's era)
        event = _event(910, "B", "form_response", "B-s3", at(date(2026, 11, 11)), tool="forms")
        upsert(conn, schema.activity_events, [{**event, "run_id": None}])
    first_recompute(engine, settings)
    run = ingest(engine, _week_events(920, date(2026, 11, 17)))
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert (report.state.rebuilt, report.state.runs_folded) == (False, (run,))
    assert_equals_from_scratch(engine)


def test_a_new_run_repeating_a_held_network_act_rebuilds_so_the_act_counts_once(store):
    engine, settings = store
    first_recompute(engine, settings)
    again = {**_event(0, "A", "reply", "A-s1", at(date(2026, 10, 27), 11), target="A-s0"), "source_id": "ev-copy"}
    again["object_id"] = "obj-1"
    ingest(engine, [again])
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and "repeats" in report.state.reason
    assert_equals_from_scratch(engine)


def test_new_network_acts_whose_keys_the_state_does_not_hold_are_folded_without_asking_the_store(store, monkeypatch):
    engine, settings = store
    first_recompute(engine, settings)
    run = ingest(engine, _week_events(1000, date(2026, 11, 17)))

    def probe(*_):
        raise AssertionError("the store was asked about repeats although no act key matched")

    monkeypatch.setattr(snapshot, "repeats_held_acts", probe)
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert (report.state.rebuilt, report.state.runs_folded) == (False, (run,))
    assert_equals_from_scratch(engine)


def test_a_key_match_the_store_does_not_confirm_is_folded_as_new(store, monkeypatch):
    # Two different acts can share a 64-bit key; the store's exact comparison decides.
    engine, settings = store
    first_recompute(engine, settings)
    run = ingest(engine, _week_events(1100, date(2026, 11, 17)))
    monkeypatch.setattr(snapshot, "may_repeat_held_acts", lambda p, batch: True)
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert (report.state.rebuilt, report.state.runs_folded) == (False, (run,))
    assert_equals_from_scratch(engine)


def test_an_in_memory_store_checks_itself_on_the_callers_thread_and_folds(tmp_path):
    from store.db import make_engine, upgrade

    engine = make_engine("sqlite://")  # one connection per thread: a worker would see an empty database
    upgrade(engine)
    store_world(engine, _roster())
    ingest(engine, _week_events(0, date(2026, 11, 3)))
    settings = _settings(engine, tmp_path)
    first_recompute(engine, settings)
    run = ingest(engine, _week_events(100, date(2026, 11, 17)))
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert (report.state.rebuilt, report.state.runs_folded) == (False, (run,))
    assert_equals_from_scratch(engine)


def test_an_ingest_run_record_deleted_before_its_run_was_folded_rebuilds_the_state(store):
    engine, settings = store
    first_recompute(engine, settings)
    run = ingest(engine, _week_events(1200, date(2026, 11, 17)))
    with engine.begin() as conn:  # by hand; retention deletes only runs older than its cutoff
        conn.execute(delete(schema.ingest_runs).where(schema.ingest_runs.c.run_id == run))
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and report.state.reason == CHANGED_EVENTS
    assert_equals_from_scratch(engine)


def test_a_calendar_change_rebuilds_the_state(store, tmp_path):
    engine, settings = store
    first_recompute(engine, settings)
    holiday = settings.model_copy(update={"calendar_holidays": [*settings.calendar_holidays, date(2026, 11, 12)]})
    report = recompute(engine, holiday, periods=["2026-W46"], incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and report.state.reason == "the school calendar changed"


def test_a_state_made_from_another_database_is_not_trusted(store, tmp_path):
    engine, settings = store
    first_recompute(engine, settings)
    with engine.begin() as conn:
        conn.execute(update(schema.measure_snapshots).values(token="from-elsewhere"))
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and "another database" in report.state.reason
    assert_equals_from_scratch(engine)


def framed(payload) -> bytes:
    out = io.BytesIO()
    state_file.write(out, payload)
    return out.getvalue()


@pytest.mark.parametrize(
    "content",
    [b"\x80\x05not a pickle at all", b"", pickle.dumps({"format": 5}, protocol=5), framed({"format": 999})],
    ids=["corrupt", "empty", "older-layout", "wrong-version"],
)
def test_a_corrupt_or_wrong_version_state_file_is_rebuilt_with_a_log_line(store, content, caplog):
    engine, settings = store
    first_recompute(engine, settings)
    snapshot.state_path(settings).write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="measures.snapshot"):
        report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt
    assert any("rebuilding it from the store" in r.getMessage() for r in caplog.records)
    assert_equals_from_scratch(engine)
    assert not recompute(engine, settings, periods=["term"], incremental=True, as_of=AS_OF).state.rebuilt


@pytest.mark.parametrize("field", ["s_class", "e_day"], ids=["required", "with-a-default"])
def test_a_state_whose_arrays_do_not_unpack_is_rebuilt_while_the_new_run_it_began_reading_is_dropped(
    store, caplog, field
):
    engine, settings = store
    first_recompute(engine, settings)
    ingest(engine, _week_events(300, date(2026, 11, 17)))
    path = snapshot.state_path(settings)
    payload = state_file.read(path)
    del payload["state"][field]  # the header (runs, generation) still reads: the new run's read starts
    path.write_bytes(framed(payload))
    with caplog.at_level(logging.WARNING, logger="measures.snapshot"):
        report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and f"is unreadable (ValueError: the saved state lacks {field})" in report.state.reason
    assert_equals_from_scratch(engine)


def test_the_state_file_is_written_with_mode_0600(store):
    engine, settings = store
    first_recompute(engine, settings)
    path = snapshot.state_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


def test_integer_arrays_are_saved_in_16_or_32_bits_when_they_fit_and_come_back_exactly_in_their_own_types(store):
    engine, settings = store
    first_recompute(engine, settings)
    snap, _ = snapshot.load(settings)
    p = snap.prepared
    assert len(p.e_src) and p.e_src.dtype == np.int32 and p.r_student.dtype == np.int64
    p.e_tie = p.e_tie.copy()
    p.e_tie[0] = 40_000  # does not fit in 16 bits: kept in 32
    p.r_student = p.r_student.copy()
    p.r_student[0] = 2**40  # does not fit in 32 bits: kept whole
    snapshot.save(engine, settings, snap)
    raw = state_file.read(snapshot.state_path(settings))["state"]
    assert raw["e_tie"].dtype == np.int32 and raw["r_student"].dtype == np.int64
    assert raw["e_src"].values.dtype == np.int16  # a few students: 16 bits
    assert raw["sub"]["stu"].values.dtype == np.int16
    again, _ = snapshot.load(settings)
    for name in ("e_src", "e_dst", "e_tie", "e_day", "tie_u", "r_student"):
        assert getattr(again.prepared, name).dtype == getattr(p, name).dtype
        np.testing.assert_array_equal(getattr(again.prepared, name), getattr(p, name))
    assert again.prepared.sub["stu"].dtype == p.sub["stu"].dtype
    np.testing.assert_array_equal(again.prepared.sub["stu"], p.sub["stu"])


def test_a_state_that_fails_to_be_written_fails_the_recompute_and_leaves_the_old_file(store, monkeypatch):
    engine, settings = store
    first_recompute(engine, settings)
    path = snapshot.state_path(settings)
    before = path.read_bytes()
    ingest(engine, _week_events(1200, date(2026, 11, 17)))

    def broken(p):
        raise MemoryError("no room to pack the state")

    monkeypatch.setattr(snapshot, "_state_dict", broken)
    with pytest.raises(MemoryError):
        recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_state_saved_under_another_pandas_is_rebuilt_because_its_act_keys_are_pandas_hashes(store, monkeypatch):
    engine, settings = store
    first_recompute(engine, settings)
    monkeypatch.setattr(pd, "__version__", "0.0.0+other")
    report = recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert report.state.rebuilt and "pandas" in report.state.reason
    assert_equals_from_scratch(engine)


def test_temporary_state_files_left_by_a_killed_process_are_swept_but_not_a_fresh_one(store):
    engine, settings = store
    first_recompute(engine, settings)
    folder = snapshot.state_path(settings).parent
    old, fresh = folder / ".term-state-dead.tmp", folder / ".term-state-busy.tmp"
    old.write_bytes(b"x" * 100)
    fresh.write_bytes(b"y")
    two_hours_ago = datetime.now().timestamp() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    recompute(engine, settings, incremental=True, as_of=AS_OF)
    assert not old.exists() and fresh.exists()


def test_a_full_recompute_always_rebuilds_and_discard_deletes_the_file(store):
    engine, settings = store
    first_recompute(engine, settings)
    report = recompute(engine, settings, incremental=False, as_of=AS_OF)
    assert report.state.rebuilt and report.state.reason == "full recompute asked for"
    assert snapshot.discard(settings)
    assert not snapshot.state_path(settings).exists()
    assert not snapshot.discard(settings)


def test_the_state_lives_beside_a_sqlite_store_unless_a_folder_is_set(tmp_path, monkeypatch):
    monkeypatch.delenv("PLI_MEASURES_STATE_DIR")
    beside = Settings(database_url=f"sqlite:///{tmp_path / 'db' / 'store.sqlite3'}")
    assert snapshot.state_path(beside).parent == tmp_path / "db" / "measures"
    chosen = beside.model_copy(update={"measures_state_dir": tmp_path / "elsewhere"})
    assert snapshot.state_path(chosen).parent == tmp_path / "elsewhere"
