"""Functions behind ``pli-pulse measures`` and ``pli-pulse export``; they return the text to print."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import orjson
import pandas as pd
from sqlalchemy import select

from measures.disclosure import min_n_from
from measures.export import export_events
from measures.materialise import recompute
from measures.periods import current_week, parse_period, today_in_district
from measures.report import measures_json, render_table, results_from_store, to_csv
from pli_pulse.pseudonym import pseudonymizer_from_settings
from pli_pulse.school_calendar import SchoolCalendar
from store import schema
from store.db import make_engine


def _label(settings, period: str | None) -> str:
    calendar = SchoolCalendar.from_settings(settings)
    as_of = today_in_district(calendar)
    if period in (None, "", "current", "week"):
        return current_week(calendar, as_of).label
    return parse_period(period, calendar, as_of).label


def _filter(engine, results: pd.DataFrame, class_id, community_id, school_id) -> pd.DataFrame:
    if not (class_id or community_id or school_id):
        return results[results["scope"].isin(["community", "class", "district"])]
    keep = pd.Series(False, index=results.index)
    if class_id:
        keep |= (results["scope"] == "class") & (results["scope_id"] == class_id)
    if community_id:
        cc = schema.community_classes.c
        with engine.connect() as conn:
            classes = [r[0] for r in conn.execute(select(cc.class_id).where(cc.community_id == community_id))]
        keep |= (results["scope"] == "community") & (results["scope_id"] == community_id)
        keep |= (results["scope"] == "class") & results["scope_id"].isin(classes)
    if school_id:
        c = schema.classes.c
        with engine.connect() as conn:
            classes = [r[0] for r in conn.execute(select(c.class_id).where(c.school_id == school_id))]
        keep |= (results["scope"] == "school") & results["scope_id"].isin(
            [school_id, f"{school_id}/pli", f"{school_id}/non_pli"]
        )
        keep |= (results["scope"] == "class") & results["scope_id"].isin(classes)
    return results[keep]


def cli_measures(
    settings,
    period: str | None = None,
    class_id: str | None = None,
    community_id: str | None = None,
    school_id: str | None = None,
    fmt: Literal["table", "json", "csv"] = "table",
) -> str:
    """Show one period's figures, computing and storing the period first if it has not been computed."""
    if fmt not in ("table", "json", "csv"):
        raise ValueError(f"format {fmt!r} is not supported: choose table, json or csv")
    label = _label(settings, period)
    engine = make_engine(settings.database_url)
    try:
        results = results_from_store(engine, [label])
        if results.empty:
            recompute(engine, settings, periods=[label], incremental=False)
            results = results_from_store(engine, [label])
        results = _filter(engine, results, class_id, community_id, school_id)
    finally:
        engine.dispose()
    if results.empty:
        return f"No figures for {label}: no classes match. Check the class, community or school id."
    if fmt == "json":
        return orjson.dumps(measures_json(results, min_n=min_n_from(settings)), option=orjson.OPT_INDENT_2).decode()
    if fmt == "csv":
        return to_csv(results)
    return render_table(results, label)


def cli_export(settings, out: Path | str, fmt: Literal["parquet", "csv"] = "parquet") -> str:
    engine = make_engine(settings.database_url)
    try:
        report = export_events(engine, out, pseudonymizer_from_settings(settings), fmt)
    finally:
        engine.dispose()
    return (
        f"Wrote {report.events} pseudonymised events to {report.events_path} "
        f"and {report.measures} figures to {report.measures_path}."
    )
