"""Idempotent writes: the same rows written twice leave the store exactly as written once.

Re-ingesting a page (after a crash, a retry or an overlapping delta window) must never duplicate an
event, so every write of Graph-derived rows goes through here, keyed by the table's primary key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
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
    if len(keys) == 1:
        (key,) = keys
        rows = list({r[key]: r for r in rows}.values())
    else:
        rows = list({tuple(r[k] for k in keys): r for r in rows}.values())
    if not rows:
        return 0
    update = tuple(update or ())
    if conn.dialect.name == "sqlite":
        plan = _sqlite_plan(table, update, tuple(rows[0]))
        # The driver's executemany adds up the rows each execution changed; a conflict skipped by DO NOTHING
        # changes none, so the total is the count of *new* rows.
        return conn.exec_driver_sql(plan.sql, plan.parameters(rows)).rowcount
    # psycopg reports no total for executemany, so on PostgreSQL the statement RETURNs one column per written
    # row, and SQLAlchemy batches the rows into multi-row INSERTs ("insertmanyvalues").
    return len(conn.execute(_statement(conn.dialect.name, table, update), rows).all())


@dataclass(frozen=True)
class _SqlitePlan:
    """One upsert compiled once, with SQLAlchemy's own value conversions, run as a plain executemany.

    Going around SQLAlchemy's per-row parameter handling is worth it on the table every ingest page writes to
    (bench_ingest_teams); the conversions (datetimes to text, booleans to integers) are the column types' own
    bind processors, so the stored values are exactly what ``conn.execute`` would have stored.
    """

    sql: str
    columns: tuple[str, ...]
    defaults: tuple[tuple[str, Any], ...]  # Python-side scalar defaults for columns the rows leave out
    processors: tuple[Callable[[Any], Any] | None, ...]

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple]:
        if self.defaults:
            rows = [{**dict(self.defaults), **row} for row in rows]
        get = itemgetter(*self.columns) if len(self.columns) > 1 else (lambda row, c=self.columns[0]: (row[c],))
        converted = [(i, p) for i, p in enumerate(self.processors) if p is not None]
        if not converted:
            return [get(row) for row in rows]
        out = []
        for row in rows:
            values = list(get(row))
            for i, process in converted:
                if values[i] is not None:
                    values[i] = process(values[i])
            out.append(tuple(values))
        return out


@lru_cache(maxsize=128)
def _sqlite_plan(table: Table, update: tuple[str, ...], given: tuple[str, ...]) -> _SqlitePlan:
    dialect = sqlite.dialect()
    defaults = tuple(
        (c.name, c.default.arg)
        for c in table.columns
        if c.name not in given and c.default is not None and c.default.is_scalar
    )
    compiled = _statement("sqlite", table, update).compile(
        dialect=dialect, column_keys=[*given, *(name for name, _ in defaults)]
    )
    columns = tuple(compiled.positiontup or ())
    processors = tuple(table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns)
    return _SqlitePlan(str(compiled), columns, defaults, processors)


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
    return stmt.returning(table.primary_key.columns[keys[0]]) if dialect == "postgresql" else stmt
