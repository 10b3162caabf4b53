"""Analyst exports: pseudonymised events and the disclosure-controlled measures, as Parquet or CSV.

Person keys are hashed a second time under ``Purpose.EXPORT`` (HMAC-SHA-256, domain-separated from the
store's student pseudonyms), so an export cannot be joined back to the store, and a teacher's AAD object id
never leaves in clear. Event ids are hashed too: a Graph source id can embed a user id.

Event columns use the Open Education Analytics (OEA) "Digital Engagement" naming where a column maps
(``event_id``, ``event_type``, ``event_actor``, ``event_object``, ``event_eventTime``), as named in the
project brief; the schema text itself could not be retrieved here to check further columns, so the
remaining columns keep PLI Pulse names (``event_target``, ``tool``, ``class_id``, ``community_id``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
from sqlalchemy import Engine, select

from measures.report import results_from_store
from pli_pulse.pseudonym import Pseudonymizer, Purpose
from store import schema

Format = Literal["parquet", "csv"]
CHUNK = 200_000
EVENT_COLUMNS = (
    "event_id",
    "event_type",
    "event_actor",
    "event_target",
    "event_object",
    "event_eventTime",
    "tool",
    "class_id",
    "community_id",
)


@dataclass(frozen=True)
class ExportReport:
    events_path: Path
    measures_path: Path
    events: int
    measures: int


def _hash(p: Pseudonymizer, values: pd.Series) -> pd.Series:
    cache: dict[str, str] = {}

    def one(v):
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return None
        if v not in cache:
            cache[v] = p.pseudonym(Purpose.EXPORT, str(v))
        return cache[v]

    return values.map(one)


def _event_frame(rows, p: Pseudonymizer) -> pd.DataFrame:
    df = pd.DataFrame(
        rows, columns=["source_id", "class_id", "community_id", "tool", "kind", "actor", "target", "object", "at"]
    )
    at = pd.to_datetime(df["at"])
    at = at.dt.tz_localize("UTC") if at.dt.tz is None else at.dt.tz_convert("UTC")
    return pd.DataFrame(
        {
            "event_id": _hash(p, "event:" + df["source_id"].astype(str)),
            "event_type": df["tool"].astype(str) + "." + df["kind"].astype(str),
            "event_actor": _hash(p, df["actor"]),
            "event_target": _hash(p, df["target"]),
            "event_object": df["object"],
            "event_eventTime": at.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "tool": df["tool"],
            "class_id": df["class_id"],
            "community_id": df["community_id"],
        }
    )


class _Writer:
    def __init__(self, path: Path, fmt: Format):
        self.path, self.fmt, self._pq, self._first = path, fmt, None, True

    def write(self, df: pd.DataFrame) -> None:
        if self.fmt == "csv":
            df.to_csv(self.path, mode="w" if self._first else "a", header=self._first, index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(df, preserve_index=False)
            if self._pq is None:
                self._pq = pq.ParquetWriter(self.path, table.schema)
            self._pq.write_table(table)
        self._first = False

    def close(self, empty: pd.DataFrame) -> None:
        if self._first:  # nothing written: still leave a file with the header / schema
            self.write(empty)
        if self._pq is not None:
            self._pq.close()


def export_events(engine: Engine, out_dir: Path | str, pseudonymizer: Pseudonymizer, fmt: Format = "parquet"):
    """Write ``events.<fmt>`` and ``measures.<fmt>`` into ``out_dir``; streamed in chunks."""
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"export format {fmt!r} is not supported: choose parquet or csv")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ev = schema.activity_events.c
    stmt = select(
        ev.source_id, ev.class_id, ev.community_id, ev.tool, ev.kind, ev.actor_key, ev.target_key, ev.object_id,
        ev.occurred_at,
    ).order_by(ev.occurred_at, ev.source_id)  # fmt: skip
    events_path = out / f"events.{fmt}"
    writer = _Writer(events_path, fmt)
    count = 0
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=CHUNK).execute(stmt)
        for chunk in result.partitions(CHUNK):
            frame = _event_frame(chunk, pseudonymizer)
            writer.write(frame)
            count += len(frame)
    writer.close(pd.DataFrame({c: pd.Series([], dtype=object) for c in EVENT_COLUMNS}))
    measures = results_from_store(engine)
    teacher = measures["scope"] == "teacher"
    measures.loc[teacher, "scope_id"] = _hash(pseudonymizer, measures.loc[teacher, "scope_id"])
    measures_path = out / f"measures.{fmt}"
    m_writer = _Writer(measures_path, fmt)
    m_writer.write(measures)
    m_writer.close(measures)
    return ExportReport(events_path, measures_path, count, len(measures))
