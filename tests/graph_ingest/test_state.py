"""Run records tell an admin the truth about runs that were killed."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from graph_ingest.records import EventRecord
from graph_ingest.state import STALE_RUN, RunClosedError, finish_run, start_run
from graph_ingest.writer import write_page
from store import schema as s


def test_a_run_killed_long_ago_is_marked_interrupted_when_the_next_run_starts(store_engine):
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    killed = start_run(store_engine, "full", now=now - STALE_RUN - timedelta(hours=1))  # never finished
    live = start_run(store_engine, "incremental", now=now - timedelta(minutes=5))
    start_run(store_engine, "incremental", now=now)
    with store_engine.connect() as conn:
        status = dict(conn.execute(select(s.ingest_runs.c.run_id, s.ingest_runs.c.status)).all())
    assert status[killed] == "interrupted"
    assert status[live] == "running"  # a colleague's run that is still going is left alone
    finish_run(store_engine, live, "succeeded", {})


def test_an_engine_the_ingest_wrote_through_is_freed_once_its_owner_drops_it(tmp_path):
    # The group writers are registered per engine; the registry must not keep engines (and caches) alive.
    import asyncio
    import gc
    import weakref

    from graph_ingest.writer import write_page_async
    from store.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    upgrade(engine)

    async def write_one(store):
        return await write_page_async(store, run_id=None, cursor=("teams", "team/channel", "https://next"))

    assert asyncio.run(write_one(engine)) == 0
    gone = weakref.ref(engine)
    engine.dispose()
    del engine
    gc.collect()
    assert gone() is None


def test_a_page_for_a_run_another_process_closed_is_refused_and_nothing_of_it_is_written(store_engine):
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    stale = start_run(store_engine, "full", now=now - STALE_RUN - timedelta(hours=1))  # alive, but slow
    start_run(store_engine, "incremental", now=now)  # a colleague takes it for dead and closes it
    with store_engine.begin() as conn:
        conn.execute(s.schools.insert().values(school_id="school-1", display_name="Roosevelt High"))
        conn.execute(s.classes.insert().values(class_id="c-1", school_id="school-1", display_name="Bio", is_pli=True))
    record = EventRecord("ev-1", "teams", "post", "stu-1", now, class_id="c-1")
    with pytest.raises(RunClosedError, match=f"ingest run {stale} is marked 'interrupted'.*Start a new ingest"):
        write_page(store_engine, run_id=stale, events=[record], cursor=("teams", "team/channel", "https://next"))
    with store_engine.connect() as conn:
        assert conn.execute(select(s.activity_events.c.source_id)).all() == []
        assert conn.execute(select(s.ingest_cursors.c.cursor)).all() == []


def test_a_run_closed_while_its_page_is_being_written_loses_the_page_not_the_fold(store_engine, monkeypatch):
    import graph_ingest.writer as writer
    from store.db import make_engine

    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    run = start_run(store_engine, "full", now=now)
    with store_engine.begin() as conn:
        conn.execute(s.schools.insert().values(school_id="school-1", display_name="Roosevelt High"))
        conn.execute(s.classes.insert().values(class_id="c-1", school_id="school-1", display_name="Bio", is_pli=True))
    colleague = make_engine(store_engine.url.render_as_string(hide_password=False))
    real = writer.insert_new

    def closed_first(conn, *args):  # the colleague closes the run inside the page's transaction, before its insert
        finish_run(colleague, run, "interrupted", {})
        return real(conn, *args)

    monkeypatch.setattr(writer, "insert_new", closed_first)
    with pytest.raises(RunClosedError, match="marked 'interrupted'"):
        write_page(
            store_engine, run_id=run, events=[EventRecord("ev-1", "teams", "post", "stu-1", now, class_id="c-1")]
        )
    colleague.dispose()
    with store_engine.connect() as conn:
        assert conn.execute(select(s.activity_events.c.source_id)).all() == []
