"""Idempotent writes: the same rows written twice leave the store exactly as written once.

Re-ingesting a page (after a crash, a retry or an overlapping delta window) must never duplicate an
event, so every write of Graph-derived rows goes through here, keyed by the table's primary key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, or_
from sqlalchemy.dialects import postgresql, sqlite

_SQLITE = sqlite.dialect()


def upsert(
    conn: Connection,
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    *,
    update: Sequence[str] | None = None,
    stamp: Sequence[str] = (),
) -> int:
    """Insert rows; on a primary-key conflict update ``update`` columns (default: none, keep the first).

    ``stamp`` columns (such as the ingest run) are written with a new row, and on a conflict only when one of the
    ``update`` columns really changed: a repeat that changes nothing leaves the stored row, its stamp included,
    exactly as it was. That is how the measures recompute finds the submissions that changed since it last ran.

    Returns the number of rows the database inserted or updated (a repeat that changed nothing counts 0
    with the default ``update=None``, or with a ``stamp``), so callers can report *new* events. Runs in the
    caller's transaction, so a cursor saved in the same transaction commits together with the rows of its page.
    """
    rows = list(rows)
    update, stamp = tuple(update or ()), tuple(stamp)
    if stamp and not update:
        raise ValueError("a stamp is written on a real change of the update columns, so it needs update columns")
    if conn.dialect.name == "sqlite":
        if not rows:
            return 0
        fields = tuple(rows[0])
        get = _getter(fields)
        return _sqlite_write(conn, table, fields, [get(r) for r in rows], update, stamp)
    rows = _last_per_key(rows, [c.name for c in table.primary_key.columns])
    if not rows:
        return 0
    # psycopg reports no total for executemany, so on PostgreSQL the statement RETURNs one column per written
    # row, and SQLAlchemy batches the rows into multi-row INSERTs ("insertmanyvalues").
    return len(conn.execute(_statement(conn.dialect.name, table, update, stamp), rows).all())


def insert_new(conn: Connection, table: Table, fields: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """``upsert`` (keep the first version) of rows given as tuples in ``fields`` order; returns the new rows.

    The ingest's events are NamedTuples: on SQLite their values go straight into the executemany parameters,
    with no dict per row (bench_ingest_teams). PostgreSQL takes ``upsert`` with dicts, unchanged.
    """
    return upsert_tuples(conn, table, fields, rows)


def upsert_tuples(
    conn: Connection, table: Table, fields: Sequence[str], rows: Iterable[Sequence[Any]], update: Sequence[str] = ()
) -> int:
    """``upsert`` of rows given as tuples in ``fields`` order, for the bulk writers (events, measure results)."""
    fields, update = tuple(fields), tuple(update)
    if conn.dialect.name != "sqlite":
        return upsert(conn, table, [dict(zip(fields, row, strict=True)) for row in rows], update=update)
    return _sqlite_write(conn, table, fields, list(rows), update, ())


def _getter(names: Sequence[Any]) -> Callable[[Any], tuple]:
    """Picks ``names`` (keys or positions) out of a row, always as a tuple."""
    if len(names) == 1:
        (name,) = names
        return lambda row: (row[name],)
    return itemgetter(*names)


def _last_per_key(rows: list, key_names: Sequence[Any]) -> list:
    """One row per primary key, the last one, at its first row's place.

    One statement may not touch a row twice (PostgreSQL refuses ON CONFLICT DO UPDATE on a repeat), so a
    batch keeps what a later write of the same key would have left.
    """
    key = itemgetter(*key_names)  # one key: the value itself; several: a tuple
    return list({key(r): r for r in rows}.values())


def _sqlite_write(
    conn: Connection, table: Table, fields: tuple[str, ...], rows: list, update: tuple[str, ...], stamp: tuple[str, ...]
) -> int:
    rows = _last_per_key(rows, [fields.index(c.name) for c in table.primary_key.columns])
    if not rows:
        return 0
    sql, parameters = _sqlite_tuple_plan(table, update, stamp, fields)
    # The driver's executemany adds up the rows each execution changed; a conflict skipped by DO NOTHING
    # changes none, so the total is the count of *new* rows.
    return conn.exec_driver_sql(sql, parameters(rows)).rowcount


@lru_cache(maxsize=128)
def _sqlite_tuple_plan(
    table: Table, update: tuple[str, ...], stamp: tuple[str, ...], fields: tuple[str, ...]
) -> tuple[str, Callable[[Sequence[Sequence[Any]]], list[tuple]]]:
    """``_sqlite_plan``'s statement, with its parameters built by one permutation per row.

    Each row is extended with the converted values (bind processors) and the processed defaults, then one
    itemgetter picks the statement's column order from the extended tuple.
    """
    plan = _sqlite_plan(table, update, stamp, fields)
    width = len(fields)
    converted = [
        (fields.index(c), _faster(table.c[c].type, p))
        for c, p in zip(plan.columns, plan.processors, strict=True)
        if p is not None and c in fields  # a left-out column's default is converted once, below
    ]
    processor = dict(zip(plan.columns, plan.processors, strict=True))
    consts = tuple(processor[c](v) if processor[c] else v for c, v in plan.defaults)
    # Where each statement column sits in a row extended with the defaults, then the converted values.
    where = {c: i for i, c in enumerate((*fields, *(c for c, _ in plan.defaults)))}
    where.update({fields[i]: width + len(consts) + n for n, (i, _) in enumerate(converted)})
    order = [where[c] for c in plan.columns]
    get = _getter(order)
    if not converted and not consts and order == list(range(width)):
        return plan.sql, lambda rows: [tuple(row) for row in rows]
    if len(converted) == 1:
        ((i, process),) = converted
        if consts:
            return plan.sql, lambda rows: [get((*row, *consts, process(row[i]))) for row in rows]
        return plan.sql, lambda rows: [get((*row, process(row[i]))) for row in rows]
    return plan.sql, lambda rows: [get((*row, *consts, *[p(row[i]) for i, p in converted])) for row in rows]


#: SQLAlchemy's text for datetimes on SQLite (``sqlite.DATETIME``'s default storage format).
_SQLITE_DATETIME_FORMAT = "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"


def _faster(type_: Any, process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLAlchemy's own datetime-to-text conversion, formatting a tuple rather than a dict: half the time.

    Same format string and the same fields (the wall time; an offset is dropped, as SQLAlchemy drops it), so
    the text is identical (tests/store/test_upsert.py compares them); anything but a datetime goes to
    SQLAlchemy's processor, and so does every other type or storage format.
    """
    impl = type_.dialect_impl(_SQLITE)
    if type(impl) is not sqlite.DATETIME or impl._storage_format != _SQLITE_DATETIME_FORMAT:
        return process
    fmt = "%04d-%02d-%02d %02d:%02d:%02d.%06d"

    def datetime_text(value: Any, _datetime: type = datetime) -> Any:
        if isinstance(value, _datetime):
            return fmt % (value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond)
        return process(value)

    return datetime_text


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


@lru_cache(maxsize=128)
def _sqlite_plan(table: Table, update: tuple[str, ...], stamp: tuple[str, ...], given: tuple[str, ...]) -> _SqlitePlan:
    dialect = sqlite.dialect()
    defaults = tuple(
        (c.name, c.default.arg)
        for c in table.columns
        if c.name not in given and c.default is not None and c.default.is_scalar
    )
    compiled = _statement("sqlite", table, update, stamp).compile(
        dialect=dialect, column_keys=[*given, *(name for name, _ in defaults)]
    )
    columns = tuple(compiled.positiontup or ())
    processors = tuple(table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns)
    return _SqlitePlan(str(compiled), columns, defaults, processors)


@lru_cache(maxsize=128)
def _statement(dialect: str, table: Table, update: tuple[str, ...], stamp: tuple[str, ...] = ()):
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:  # pragma: no cover - the config validator only admits the two
        raise ValueError(f"unsupported database backend {dialect!r}")
    keys = [c.name for c in table.primary_key.columns]
    stmt = insert(table)
    if update:
        # With a stamp, only a real change updates (IS DISTINCT FROM; SQLite spells it IS NOT): a repeat is no write.
        changed = or_(*(table.c[c].is_distinct_from(stmt.excluded[c]) for c in update)) if stamp else None
        set_ = {c: stmt.excluded[c] for c in (*update, *stamp)}
        stmt = stmt.on_conflict_do_update(index_elements=keys, set_=set_, where=changed)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=keys)
    return stmt.returning(table.primary_key.columns[keys[0]]) if dialect == "postgresql" else stmt
