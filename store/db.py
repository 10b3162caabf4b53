"""Opening the store and bringing its schema to the current migration."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import SingletonThreadPool, StaticPool

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs) -> Engine:
    """An engine with the settings each backend needs; SQLite files get their folder created."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # foreign keys are off by default in SQLite
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            # Takes effect only when the file is created; larger pages mean fewer B-tree splits on ingest writes.
            cur.execute("PRAGMA page_size=8192")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: the event indexes' hot pages stay in memory
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def shared_across_threads(engine: Engine) -> bool:
    """Whether another thread sees the same database: not for an in-memory SQLite store, one per connection."""
    return not isinstance(engine.pool, SingletonThreadPool | StaticPool)


def in_background(engine: Engine, fn: Callable, *args) -> Future:
    """``fn(*args)`` on a worker thread, to overlap reads of ``engine`` that wait without the GIL (SQLite's helper
    processes, PostgreSQL); at once on this thread for a store another thread cannot see."""
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # raised on the caller's thread by result()
            future.set_exception(exc)

    if shared_across_threads(engine):
        threading.Thread(target=run, name=f"store-read-{getattr(fn, '__name__', 'task')}", daemon=True).start()
        return future
    try:
        future.set_result(fn(*args))
    except Exception as exc:  # a Ctrl-C is not the read's outcome: it goes on up at once
        future.set_exception(exc)
    return future


def alembic_config(engine: Engine) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    return head
