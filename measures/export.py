"""Analyst exports: pseudonymised events and the disclosure-controlled measures, as Parquet or CSV.

Person keys are hashed a second time under ``Purpose.EXPORT`` (HMAC-SHA-256, domain-separated from the
store's student pseudonyms), so an export cannot be joined back to the store, and a teacher's AAD object id
never leaves in clear. Event ids and object ids are hashed too: a Graph source id can embed a user id, and so
can a Microsoft Forms form id. No content and no grade leaves: the store holds none.

Events follow the Open Education Analytics (OEA) Digital Engagement Schema, so an OEA workspace can append them
to its ``digital_activity`` table by column name. Source, as read for this module:
repository OpenEducationAnalytics/OpenEducationAnalytics (its README links call it microsoft/OpenEduAnalytics),
commit 2930b7fe5f0ae09adf7017c07c4dcb72d4c24be8,

- ``schemas/schema_catalog/Digital_Engagement_Schema/README.md``: the 11 columns and their meaning;
- ``schemas/schema_catalog/Digital_Engagement_Schema/notebook/Schema_DigitalActivity_py.ipynb``:
  ``DigitalActivity.schemas['ActivityEvents']``, the same 11 columns in the same order, every one typed
  ``string``, followed by ``year`` and ``month`` (``integer``, derived from ``event_eventTime``, the table's
  partition columns).

Mapping. ``event_object`` is "name of the original data source" (every mapping in the notebook writes a
constant such as ``MS_GraphAPI_Teams``), so it is ``PLI_Pulse`` here; the app goes in ``entity_type``, as the
notebook does with ``AppName`` / ``m365_app_name``, and the act (``reply``, ``form_response``...) in
``event_type``. The schema names no time format, only ``string``; ``event_eventTime`` is ISO 8601 in UTC with
microseconds, and ``year``/``month`` are taken from it in UTC. Version and the
``generated_aggregateMeasure_metric_*`` columns describe aggregated usage reports; our rows are single acts,
so they are empty (the README marks all five nullable).
OEA has no column for the person acted on, the Graph object, the class or the community, so four PLI Pulse
columns follow the OEA ones: ``event_target`` (Caliper's ``target``, flattened the way OEA flattens
``actor``), ``object_id``, ``class_id`` and ``community_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
from sqlalchemy import Engine, select

from measures.report import results_from_store
from pli_pulse.pseudonym import Pseudonymizer, Purpose
from store import schema

Format = Literal["parquet", "csv"]
CHUNK = 200_000
#: ``DigitalActivity.schemas['ActivityEvents']`` in the OEA notebook, in its order.
OEA_COLUMNS = (
    "event_id",
    "event_type",
    "event_actor",
    "event_object",
    "event_eventTime",
    "entity_type",
    "softwareApplication_version",
    "generated_aggregateMeasure_metric_timeOnTaskSec",
    "generated_aggregateMeasure_metric_numAccess",
    "generated_aggregateMeasure_metric_used",
    "generated_aggregateMeasure_metric_activityReportPeriod",
    "year",
    "month",
)
#: PLI Pulse columns with no OEA equivalent.
PLI_COLUMNS = ("event_target", "object_id", "class_id", "community_id")
EVENT_COLUMNS = OEA_COLUMNS + PLI_COLUMNS
EVENT_OBJECT = "PLI_Pulse"
#: OEA types its columns ``string`` except ``year``/``month`` (Spark ``integer``, i.e. 32-bit); fixed here so
#: an all-empty column is still a string column and every Parquet chunk has the same schema.
EVENT_SCHEMA = pa.schema([(c, pa.int32() if c in ("year", "month") else pa.string()) for c in EVENT_COLUMNS])
_EMPTY = OEA_COLUMNS[OEA_COLUMNS.index("softwareApplication_version") : OEA_COLUMNS.index("year")]


@dataclass(frozen=True)
class ExportReport:
    events_path: Path
    measures_path: Path
    events: int
    measures: int


def _hash(p: Pseudonymizer, values: pd.Series, prefix: str = "") -> pd.Series:
    cache: dict[str, str] = {}

    def one(v):
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return None
        if v not in cache:
            cache[v] = p.pseudonym(Purpose.EXPORT, prefix + str(v))
        return cache[v]

    return values.map(one)


def _event_frame(rows, p: Pseudonymizer) -> pd.DataFrame:
    df = pd.DataFrame(
        rows, columns=["source_id", "class_id", "community_id", "tool", "kind", "actor", "target", "object", "at"]
    )
    at = pd.to_datetime(df["at"])
    at = at.dt.tz_localize("UTC") if at.dt.tz is None else at.dt.tz_convert("UTC")
    empty = pd.Series([None] * len(df), dtype=object)
    frame = pd.DataFrame(
        {
            "event_id": _hash(p, df["source_id"], "event:"),
            "event_type": df["kind"].astype(str),
            "event_actor": _hash(p, df["actor"]),
            "event_object": EVENT_OBJECT,
            "event_eventTime": at.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "entity_type": df["tool"].astype(str),
            **{c: empty for c in _EMPTY},
            "year": at.dt.year.astype("int32"),
            "month": at.dt.month.astype("int32"),
            "event_target": _hash(p, df["target"]),
            "object_id": _hash(p, df["object"], "object:"),
            "class_id": df["class_id"],
            "community_id": df["community_id"],
        }
    )
    return frame.loc[:, list(EVENT_COLUMNS)]


class _Writer:
    def __init__(self, path: Path, fmt: Format, arrow_schema: pa.Schema | None = None):
        self.path, self.fmt, self._schema, self._pq, self._first = path, fmt, arrow_schema, None, True

    def write(self, df: pd.DataFrame) -> None:
        if self.fmt == "csv":
            df.to_csv(self.path, mode="w" if self._first else "a", header=self._first, index=False)
        else:
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(df, schema=self._schema, preserve_index=False)
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
    writer = _Writer(events_path, fmt, EVENT_SCHEMA)
    count = 0
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=CHUNK).execute(stmt)
        for chunk in result.partitions(CHUNK):
            frame = _event_frame(chunk, pseudonymizer)
            writer.write(frame)
            count += len(frame)
    writer.close(_event_frame([], pseudonymizer))
    measures = results_from_store(engine)
    teacher = measures["scope"] == "teacher"
    measures.loc[teacher, "scope_id"] = _hash(pseudonymizer, measures.loc[teacher, "scope_id"])
    measures_path = out / f"measures.{fmt}"
    m_writer = _Writer(measures_path, fmt)
    m_writer.write(measures)
    m_writer.close(measures)
    return ExportReport(events_path, measures_path, count, len(measures))
