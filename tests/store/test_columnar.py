"""SQLite reads of events and submissions as columns give exactly the rows SQLAlchemy reads, however they are cut."""

from __future__ import annotations

import logging
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from store import columnar, sql_workers
from store import schema as s
from store.db import make_engine, upgrade
from store.upsert import upsert
from tests.store.helpers import T0, event

EVENT_COLUMNS = ["class_id", "community_id", "tool", "kind", "actor_key", "target_key", "object_id", "occurred_at"]


@pytest.fixture
def sqlite_engine(tmp_path):
    """The columnar path is SQLite's; PostgreSQL reads typed rows through SQLAlchemy (last test)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _events(n: int, **odd) -> list[dict]:
    rows = []
    for i in range(n):
        row = event(f"ev-{i}", f"student-{i % 7}", target=None if i % 3 else f"student-{(i + 1) % 7}")
        row.update(object_id=None if i % 4 == 0 else ("" if i % 4 == 1 else f"thread-{i % 5}"))
        row.update(run_id=1 + i % 2, occurred_at=T0 + timedelta(minutes=i, microseconds=i))
        rows.append(row)
    for i, values in odd.items():
        rows[int(i.removeprefix("row"))].update(values)
    return rows


def _expected(engine, stmt) -> pd.DataFrame:
    """The same select through SQLAlchemy, as plain values: what the columnar read must equal."""
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(stmt.selected_columns.keys()))
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"]).dt.tz_localize("UTC")
    return frame.sort_values("occurred_at")


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if col != "occurred_at":
            out[col] = out[col].astype(object).where(out[col].notna(), None)
    out["occurred_at"] = out["occurred_at"].astype("datetime64[us, UTC]")
    return out.reset_index(drop=True)


def _select(*where):
    ev = s.activity_events.c
    return select(*(getattr(ev, c) for c in EVENT_COLUMNS)).where(*where)


@pytest.mark.parametrize("chunk", [3, 1000])
def test_events_read_as_columns_equal_the_rows_sqlalchemy_reads_across_chunk_boundaries(
    sqlite_engine, monkeypatch, chunk
):
    monkeypatch.setattr(columnar, "CHUNK", chunk)
    with sqlite_engine.begin() as conn:
        upsert(conn, s.activity_events, _events(40))
    stmt = _select()
    got = columnar.read_frame(sqlite_engine, stmt, times=("occurred_at",))
    assert isinstance(got["class_id"].dtype, pd.CategoricalDtype)  # what the measures compute on
    got = got.sort_values("occurred_at").reset_index(drop=True)
    pd.testing.assert_frame_equal(_plain(got), _plain(_expected(sqlite_engine, stmt)))
    # NULL stays NULL and an empty string stays empty: the text marks NULL with its own character.
    assert got["object_id"].isna().sum() == 10 and (got["object_id"] == "").sum() == 10


def test_a_filtered_read_returns_only_the_matching_rows(sqlite_engine, monkeypatch):
    monkeypatch.setattr(columnar, "CHUNK", 4)
    with sqlite_engine.begin() as conn:
        upsert(conn, s.activity_events, _events(30))
    stmt = _select(s.activity_events.c.run_id.in_([2]))
    got = columnar.read_frame(sqlite_engine, stmt, times=("occurred_at",)).sort_values("occurred_at")
    pd.testing.assert_frame_equal(_plain(got), _plain(_expected(sqlite_engine, stmt)))
    assert len(got) == 15


@pytest.mark.parametrize("odd", ["line\nbreak", "unit\x1fseparator", "\x15", "ends\r", "mid\rdle", "nul\x00-1"])
def test_a_value_holding_a_separator_is_read_row_by_row_and_still_exactly(sqlite_engine, caplog, odd):
    with sqlite_engine.begin() as conn:
        upsert(conn, s.activity_events, _events(12, row5={"object_id": odd}))
    stmt = _select()
    with caplog.at_level(logging.INFO, logger="store.columnar"):
        got = columnar.read_frame(sqlite_engine, stmt, times=("occurred_at",)).sort_values("occurred_at")
    pd.testing.assert_frame_equal(_plain(got), _plain(_expected(sqlite_engine, stmt)))
    assert got["object_id"].tolist()[5] == odd
    assert "row by row" in caplog.text


def test_a_carriage_return_at_the_end_of_the_last_column_survives(sqlite_engine):
    with sqlite_engine.begin() as conn:
        upsert(conn, s.activity_events, _events(6, row2={"object_id": "thread\r"}))
    ev = s.activity_events.c
    got = columnar.read_frame(sqlite_engine, select(ev.occurred_at, ev.object_id), times=("occurred_at",))
    assert "thread\r" in got["object_id"].tolist()


def test_an_empty_table_reads_as_an_empty_frame_with_the_columns_and_types(sqlite_engine):
    got = columnar.read_frame(sqlite_engine, _select(), times=("occurred_at",))
    assert list(got.columns) == EVENT_COLUMNS and len(got) == 0
    assert str(got["occurred_at"].dtype) == "datetime64[us, UTC]"


def test_only_sqlite_takes_the_columnar_path(store_engine):
    got = columnar.read_frame(store_engine, _select(), times=("occurred_at",))
    assert (got is None) == (store_engine.dialect.name == "postgresql")


@pytest.fixture
def in_helpers(monkeypatch):
    """Every read of more than one rowid goes to two helper processes, in chunks of 7 rowids; the helpers'
    queries are recorded as they are handed out."""
    monkeypatch.setattr(columnar, "PARALLEL_FROM", 2)
    monkeypatch.setattr(columnar, "WORKERS", 2)
    monkeypatch.setattr(columnar, "CHUNK", 7)
    handed: list[int] = []

    def recording(database, sqls, workers):
        handed.append(len(sqls))
        return sql_workers.run_queries(database, sqls, workers)

    monkeypatch.setattr(columnar, "run_queries", recording)
    return handed


def test_a_big_read_runs_its_chunk_queries_in_helper_processes_and_reads_exactly_the_same_rows(
    sqlite_engine, in_helpers, caplog
):
    with sqlite_engine.begin() as conn:
        upsert(conn, s.activity_events, _events(40))
    stmt = _select(s.activity_events.c.run_id.in_([1]))
    with caplog.at_level(logging.WARNING, logger="store.columnar"):
        got = columnar.read_frame(sqlite_engine, stmt, times=("occurred_at",)).sort_values("occurred_at")
    assert caplog.text == ""  # no helper failed: every chunk came from one
    pd.testing.assert_frame_equal(_plain(got), _plain(_expected(sqlite_engine, stmt)))
    assert len(got) == 20 and in_helpers == [6]  # rowids 1 to 39 in chunks of at most 7: six queries, all in helpers


def test_a_value_the_text_cannot_carry_is_read_row_by_row_also_when_helpers_built_the_text(
    sqlite_engine, in_helpers, caplog
):
    with sqlite_engine.begin() as conn:
        upsert(conn, s.activity_events, _events(20, row9={"object_id": "unit\x1fseparator"}))
    stmt = _select()
    with caplog.at_level(logging.INFO, logger="store.columnar"):
        got = columnar.read_frame(sqlite_engine, stmt, times=("occurred_at",)).sort_values("occurred_at")
    pd.testing.assert_frame_equal(_plain(got), _plain(_expected(sqlite_engine, stmt)))
    assert in_helpers == [4] and "row by row" in caplog.text  # at least two chunks per helper


def test_helpers_that_cannot_start_cost_speed_not_rows(sqlite_engine, in_helpers, monkeypatch, caplog):
    with sqlite_engine.begin() as conn:
        upsert(conn, s.activity_events, _events(30))
    monkeypatch.setattr(sql_workers.sys, "executable", "/nonexistent/python")
    with caplog.at_level(logging.WARNING, logger="store.columnar"):
        got = columnar.read_frame(sqlite_engine, _select(), times=("occurred_at",)).sort_values("occurred_at")
    pd.testing.assert_frame_equal(_plain(got), _plain(_expected(sqlite_engine, _select())))
    assert "could not run" in caplog.text and "reading the remaining 5 chunks in this process" in caplog.text


def test_a_helper_that_fails_mid_read_says_why_and_the_rest_is_read_here(
    sqlite_engine, in_helpers, monkeypatch, caplog
):
    with sqlite_engine.begin() as conn:
        upsert(conn, s.activity_events, _events(30))
    real = sql_workers.run_queries

    def third_fails(database, sqls, workers):
        return real(database, [*sqls[:2], "SELECT * FROM no_such_table", *sqls[3:]], workers)

    monkeypatch.setattr(columnar, "run_queries", third_fails)
    with caplog.at_level(logging.WARNING, logger="store.columnar"):
        got = columnar.read_frame(sqlite_engine, _select(), times=("occurred_at",)).sort_values("occurred_at")
    pd.testing.assert_frame_equal(_plain(got), _plain(_expected(sqlite_engine, _select())))
    assert "no such table: no_such_table" in caplog.text and "reading the remaining 3 chunks" in caplog.text


def test_helpers_return_each_querys_row_in_order_and_only_read(tmp_path, sqlite_engine):
    with sqlite_engine.begin() as conn:
        upsert(conn, s.activity_events, _events(5))
    database = sqlite_engine.url.database
    sqls = [
        f"SELECT count(*), CAST(group_concat(source_id) AS BLOB) FROM activity_events WHERE rowid <= {n}"
        for n in (0, 2, 5)
    ]
    assert list(sql_workers.run_queries(database, sqls, 2)) == [
        (0, None),
        (2, b"ev-0,ev-1"),
        (5, b"ev-0,ev-1,ev-2,ev-3,ev-4"),
    ]
    with pytest.raises(sql_workers.WorkerError, match="attempt to write a readonly database"):
        list(sql_workers.run_queries(database, ["DELETE FROM activity_events RETURNING 1, NULL"], 1))
    missing = str(tmp_path / "missing.sqlite3")
    with pytest.raises(sql_workers.WorkerError, match="no database"):
        list(sql_workers.run_queries(missing, sqls, 1))
    assert not (tmp_path / "missing.sqlite3").exists()


def test_without_an_interpreter_to_start_a_big_read_stays_in_this_process(sqlite_engine, in_helpers, monkeypatch):
    with sqlite_engine.begin() as conn:
        upsert(conn, s.activity_events, _events(30))
    monkeypatch.setattr(columnar.sys, "executable", "")  # an embedded Python has none
    got = columnar.read_frame(sqlite_engine, _select(), times=("occurred_at",)).sort_values("occurred_at")
    pd.testing.assert_frame_equal(_plain(got), _plain(_expected(sqlite_engine, _select())))
    assert in_helpers == []
