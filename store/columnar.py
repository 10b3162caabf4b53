"""Columnar reads of the big activity tables from a SQLite store, in chunks, into Arrow and then pandas.

Reading 20M events as Python rows would hold about 160M ``str`` objects at once (well over 10 GB) before pandas
saw a column. Here each chunk of rows becomes Arrow columns at once: ids dictionary-encoded (pandas receives
them as categoricals, the form the measures compute on, 4 bytes a value), timestamps parsed by Arrow from the
text SQLAlchemy stores (UTC wall time) into 8 bytes a value. Only one chunk of Python objects lives at a time.

The rows come through the store's own ``sqlite3`` connection. A faster columnar driver (ADBC) was tried and
dropped: it links a second copy of SQLite into the process, which did not see a write committed a moment
before, and whose POSIX locks would be released by the other copy closing the file (SQLite's "How To Corrupt
An SQLite Database File", 2.2.1). PostgreSQL keeps the SQLAlchemy path (``None`` here): psycopg returns typed
values already.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, Select
from sqlalchemy.dialects import sqlite

CHUNK = 100_000  # rows of Python objects alive at once


def read_frame(
    engine: Engine, stmt: Select, times: Sequence[str] = (), unique: Sequence[str] = ()
) -> pd.DataFrame | None:
    """Run a select of text and timestamp columns; ids come back categorical, ``times`` as UTC timestamps,
    ``unique`` (a key, one value per row: nothing to share) as strings. None when the store is not SQLite.
    """
    if engine.dialect.name != "sqlite":
        return None
    names = [c.name for c in stmt.selected_columns]
    sql = str(stmt.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    chunks: dict[str, list[pa.Array]] = {name: [] for name in names}
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.execute(sql)
            while rows := cursor.fetchmany(CHUNK):
                for name, values in zip(names, zip(*rows, strict=True), strict=True):
                    chunks[name].append(_column(name, pa.array(values, pa.string()), times, unique))
        finally:
            cursor.close()
    columns = {}
    for name in names:
        empty = _column(name, pa.array([], pa.string()), times, unique)
        columns[name] = pa.chunked_array(chunks[name], type=empty.type)
    table = pa.table(columns).unify_dictionaries()
    return table.to_pandas()


def _column(name: str, text: pa.Array, times: Sequence[str], unique: Sequence[str]) -> pa.Array:
    if name in times:
        return text.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
    if name in unique:
        return text
    return text.dictionary_encode()
