"""Columnar reads of the big activity tables from a SQLite store, in chunks, into Arrow and then pandas.

Python's ``sqlite3`` builds a ``str`` object per value it returns: 2M events (8 columns) took about 5 s to arrive
as columns, and 20M would have held over 10 GB of them at once. Instead SQLite itself writes each chunk of rows
as one delimited text (``group_concat`` of one ``printf`` per row, in C) and Arrow's CSV reader parses it (in
C++): 2M events take about 2.4 s, and only one chunk's text is alive at a time. Ids are dictionary-encoded
(pandas receives categoricals, the form the measures compute on), timestamps parsed from the text SQLAlchemy
stores (UTC wall time).

The text uses the ASCII unit separator between values and a newline between rows, and marks NULL with NAK, so
an empty string stays an empty string; SQLite also counts each column's NULLs, so a value equal to NAK shows. Ids
from Graph and our keys never hold those characters; a chunk whose text does not parse back into exactly its rows
(one that does) is read again row by row, which is slower and otherwise the same (tests/store/test_columnar.py).

A big read runs its chunk queries in helper processes (store/sql_workers.py), because SQLite serialises the
threads of one process: the helpers build the next chunks' text while this process parses the last one. A
helper that fails costs only speed: the chunks it did not deliver are read here, and a warning says so.

A faster columnar driver (ADBC) was tried and dropped: it links a second copy of SQLite into the process, which
did not see a write committed a moment before, and whose POSIX locks the other copy would release on closing the
file (SQLite's "How To Corrupt An SQLite Database File", 2.2.1). PostgreSQL keeps the SQLAlchemy path (``None``
here): psycopg returns typed values already.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Engine, Select, func, literal_column, select
from sqlalchemy.dialects import sqlite

from store.sql_workers import WorkerError, run_queries

log = logging.getLogger(__name__)

CHUNK = 500_000  # rowids per chunk: about 45 MB of text for events
_SEP, _NULL = "\x1f", "\x15"
#: a read spanning at least this many rowids runs its chunk queries in helper processes, one per core (at most
#: WORKERS). Events read in this process and with two helpers: 50,000 in 0.10 and 0.09 s, 100,000 in 0.175 and
#: 0.155 s, 161,000 (a district's night) in 0.25-0.28 and 0.24 s; below that, starting them is not worth it
PARALLEL_FROM = 100_000
WORKERS = min(os.cpu_count() or 1, 4)


def read_frame(
    engine: Engine, stmt: Select, times: Sequence[str] = (), unique: Sequence[str] = ()
) -> pd.DataFrame | None:
    """Run a select of text and timestamp columns from one table; ids come back categorical, ``times`` as UTC
    timestamps, ``unique`` (a key, one value per row: nothing to share) as strings. None when not SQLite.

    The select may filter with WHERE, nothing more: it runs once per chunk of rowids, so a LIMIT, DISTINCT or
    GROUP BY would apply to each chunk, not to the whole. The chunks are separate reads, not one snapshot; the
    measures check the counts they read against the store's (measures/snapshot.py).
    """
    if engine.dialect.name != "sqlite":
        return None
    (table,) = stmt.get_final_froms()
    names = [c.name for c in stmt.selected_columns]
    rowid = literal_column(f"{table.name}.rowid")
    chunks: list[dict[str, pa.Array]] = []
    with engine.connect() as conn:
        span = select(_bound(func.min, rowid, table, stmt), _bound(func.max, rowid, table, stmt))
        low, high = conn.execute(span).one()
        if low is not None:
            workers = _workers(engine, high - low + 1)
            parts = [stmt.where(rowid.between(a, b)) for a, b in _parts(low, high, workers)]
            queries = [_chunk_sql(part, names) for part in parts]
            for part, row in zip(parts, _rows(engine, queries, workers), strict=True):
                text = _chunk(conn, row, part, names)  # encoded here, while the helpers build the next chunks
                chunks.append({name: _column(name, text[name].combine_chunks(), times, unique) for name in names})
    columns = {}
    for name in names:
        empty = _column(name, pa.array([], pa.string()), times, unique)
        columns[name] = pa.chunked_array([c[name] for c in chunks], type=empty.type)
    return pa.table(columns).unify_dictionaries().to_pandas()


def _bound(agg, rowid, table, stmt: Select):
    """The lowest or highest rowid the select reads, as a query of its own: SQLite answers a lone min() or max()
    from the end of an index (``run_id IN (...)``: a seek instead of 52 ms over a week's 806,257 index entries),
    not when both share one query."""
    bound = select(agg(rowid)).select_from(table)
    if stmt.whereclause is not None:
        bound = bound.where(stmt.whereclause)
    return bound.scalar_subquery()


def _sql(stmt: Select) -> str:
    return str(stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))


def _workers(engine: Engine, span: int) -> int:
    """Helper processes for a read of ``span`` rowids: none for a small read or a database that is not a file."""
    database = engine.url.database
    if span < PARALLEL_FROM or WORKERS < 1 or not sys.executable or engine.dialect.driver != "pysqlite":
        return 0  # (another driver, such as SQLCipher's, may open the file in a way the helpers cannot)
    if not database or engine.url.query or not Path(database).is_file():
        return 0
    return WORKERS


def _parts(low: int, high: int, workers: int) -> list[tuple[int, int]]:
    """Rowid ranges of at most CHUNK, of equal size, and at least two per helper: the first chunks are parsed
    here while the helpers build the next (the week of 806,257 events: 0.2-0.3 s sooner than in one each)."""
    count = max(math.ceil((high - low + 1) / CHUNK), 2 * workers, 1)
    size = math.ceil((high - low + 1) / count)
    return [(start, min(start + size - 1, high)) for start in range(low, high + 1, size)]


def _rows(engine: Engine, queries: list[str], workers: int) -> Iterator[tuple | None]:
    """Each chunk query's row, from the helpers if any; None: run it here."""
    done = 0
    if workers:
        try:
            for row in run_queries(str(engine.url.database), queries, workers):
                yield row
                done += 1
        except WorkerError as exc:
            log.warning("%s; reading the remaining %s chunks in this process instead", exc, len(queries) - done)
    yield from [None] * (len(queries) - done)


def _chunk_sql(stmt: Select, names: list[str]) -> str:
    """One query whose single row holds the chunk's row count, checks, and its rows as one text."""
    # One printf per row (half the time of concatenating with ||). Each row ends in an extra "." field, so no
    # value ends a line: Arrow would read a carriage return there as part of a "\r\n" line end, silently.
    fmt = _SEP.join(["%s"] * (len(names) + 1))
    args = ", ".join([*(f"ifnull({n}, '{_NULL}')" for n in names), "'.'"])
    # count(column): the NULLs each column must have, so a value equal to the NULL marker shows as one too many;
    # its bytes: printf stops a value at a NUL character, which would otherwise shorten it without an error.
    counts = ", ".join(f"count({n})" for n in names)
    sizes = ", ".join(f"ifnull(sum(length(CAST({n} AS BLOB))), 0)" for n in names)
    text = f"CAST(group_concat(printf('{fmt}', {args}), char(10)) AS BLOB)"  # bytes: no str to decode and encode
    return f"SELECT count(*), {counts}, {sizes}, {text} FROM ({_sql(stmt)})"


def _chunk(conn, row: tuple | None, stmt: Select, names: list[str]) -> pa.Table:
    """One chunk as a table of strings: SQLite's text parsed by Arrow, or its rows when the text will not do.

    ``row`` is what ``_chunk_sql`` returned in a helper; None runs that query here.
    """
    if row is None:
        row = conn.exec_driver_sql(_chunk_sql(stmt, names)).one()
    count, *checks, text = row
    present, size = checks[: len(names)], checks[len(names) :]
    if not count:
        return pa.table({n: pa.array([], pa.string()) for n in names})
    table = _parse(text, names)
    if (
        table is not None
        and table.num_rows == count
        and all(table[n].null_count == count - k for n, k in zip(names, present, strict=True))
        and all((pc.sum(pc.binary_length(table[n])).as_py() or 0) == b for n, b in zip(names, size, strict=True))
    ):
        return table
    log.info(
        "a chunk of %s rows holds a separator, a newline, a NUL or the NULL marker in a value; reading it row by row",
        count,
    )
    rows = conn.exec_driver_sql(_sql(stmt)).fetchall()
    return pa.table({n: pa.array(v, pa.string()) for n, v in zip(names, zip(*rows, strict=True), strict=True)})


def _parse(text: bytes, names: list[str]) -> pa.Table | None:
    try:
        table = pacsv.read_csv(
            pa.py_buffer(text),
            read_options=pacsv.ReadOptions(column_names=[*names, "_end"]),
            parse_options=pacsv.ParseOptions(delimiter=_SEP, quote_char=False, escape_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                null_values=[_NULL],
                include_columns=names,
            ),
        )
    except pa.ArrowInvalid:  # a value held the separator or a newline
        return None
    return table


def _column(name: str, text: pa.Array, times: Sequence[str], unique: Sequence[str]) -> pa.Array:
    if name in times:
        return text.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
    if name in unique:
        return text
    return text.dictionary_encode()
