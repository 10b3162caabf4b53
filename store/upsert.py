"""Idempotent writes: the same rows written twice leave the store exactly as written once.

Re-ingesting a page (after a crash, a retry or an overlapping delta window) must never duplicate an
event, so every write of Graph-derived rows goes through here, keyed by the table's primary key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def upsert(
    conn: Connection,
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    *,
    update: Sequence[str] | None = None,
) -> int:
    """Insert rows; on a primary-key conflict update ``update`` columns (default: none, keep the first).

    Returns the number of rows the database inserted or updated (a repeat that changed nothing counts 0
    with the default ``update=None``), so callers can report *new* events. Runs in the caller's transaction,
    so a cursor saved in the same transaction commits together with the rows of its page.
    """
    keys = [c.name for c in table.primary_key.columns]
    # One statement may not touch a row twice (PostgreSQL refuses ON CONFLICT DO UPDATE on a repeat):
    # keep the last row per key, as a later write of the same key would.
    rows = list({tuple(r[k] for k in keys): r for r in rows}.values())
    if not rows:
        return 0
    stmt = _statement(conn.dialect.name, table, tuple(update or ()))
    # One cached statement executed with the whole row list: SQLAlchemy batches it into multi-row INSERTs
    # ("insertmanyvalues") within each backend's parameter limits, and RETURNING lists only the rows actually
    # inserted (or updated): the count of *new* rows.
    return len(conn.execute(stmt, rows).all())


@lru_cache(maxsize=128)
def _statement(dialect: str, table: Table, update: tuple[str, ...]):
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:  # pragma: no cover - the config validator only admits the two
        raise ValueError(f"unsupported database backend {dialect!r}")
    keys = [c.name for c in table.primary_key.columns]
    stmt = insert(table)
    if update:
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: getattr(stmt.excluded, c) for c in update})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    return stmt.returning(table.primary_key.columns[keys[0]])
