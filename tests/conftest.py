"""Shared test fixtures: the two store backends and the published fixtures in ../shared.

PostgreSQL: if ``PLI_TEST_POSTGRES_URL`` is set (CI may start a server), it is used. Otherwise the
tests start a throwaway server themselves from the Debian binaries, as the ``postgres`` user when
running as root (PostgreSQL refuses to run as root). With no PostgreSQL installed the PostgreSQL
variants skip with the reason shown, unless ``PLI_REQUIRE_POSTGRES=1`` (set by .ci/run) turns that
into a failure.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

SHARED = Path(__file__).resolve().parents[2] / "shared"
if not SHARED.exists():  # a clone lives next to shared/ in CI as well, but be explicit when it does not
    SHARED = Path(os.environ.get("PLI_SHARED_DIR", "../shared")).resolve()


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@pytest.fixture(scope="session")
def postgres_server():
    """Base URL of a PostgreSQL server, or skip with the reason."""
    url = os.environ.get("PLI_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    bindir = _pg_bin()
    if bindir is None:
        if os.environ.get("PLI_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL is required here (PLI_REQUIRE_POSTGRES=1) but initdb was not found")
        pytest.skip("PostgreSQL is not installed here (no initdb); install Debian's postgresql to run these")
    tmp = Path(tempfile.mkdtemp(prefix="pli-pg-"))
    data = tmp / "data"
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres", "postgres")
    port = _free_port()
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    logfile = tmp / "server.log"
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(logfile),
                "-o",
                f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off",
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    base = f"postgresql+psycopg://postgres@127.0.0.1:{port}"
    try:
        for _ in range(50):
            try:
                create_engine(f"{base}/postgres").connect().close()
                break
            except Exception:
                time.sleep(0.1)
        yield base
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty database on the test server for one test."""
    base = postgres_server.rsplit("/", 1)[0] if postgres_server.count("/") > 2 else postgres_server
    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'create database "{name}"'))
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """Each store test runs on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store_engine(database_url):
    """An engine on a store migrated to head."""
    from store.db import make_engine, upgrade

    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.skip(f"../shared is not next to this checkout ({SHARED})")
    return SHARED
