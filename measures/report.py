"""Readable and machine outputs of the figures: measures.json, a terminal table, CSV.

Everything here formats Figures; a suppressed figure is written as its reason, never as a number.
"""

from __future__ import annotations

import io
from collections.abc import Iterable

import pandas as pd
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, select

from measures.figures import Figure, unpacked
from measures.results import DISTRIBUTION, DISTRIBUTION_TOTAL, MEASURES, RESULT_COLUMNS, figures_from_rows
from store import schema

#: the columns of the terminal table, in reading order
TABLE_MEASURES = (
    "fa_reach",
    "fa_monthly_reach",
    "tool_reach.forms",
    "tool_days.forms",
    "feedback_turnaround",
    "participation",
    "peer_reach",
    "density",
    "reciprocity",
    "centralization",
    "teacher_share",
    "isolated",
)
HOURS = {"feedback_turnaround"}
#: short cell text per suppression reason, explained in the legend under the table
SHORT = {"small_n": "(small n)", "complementary": "(compl.)", "no_data": "(no data)", "few_classes": "(few cls)"}
LEGEND = (
    "(small n): fewer than min_n people behind the figure; (compl.): hidden so that a hidden figure cannot be "
    "worked out by subtraction; (no data): nothing to compute over; (few cls): a median over fewer than 3 classes."
)
COUNTS = {"isolated", DISTRIBUTION_TOTAL, *DISTRIBUTION}


def results_from_store(engine: Engine, periods: Iterable[str] | None = None) -> pd.DataFrame:
    """The stored figures as a long table (RESULT_COLUMNS), one row per figure; a suppressed one has no value."""
    mr = schema.measure_results.c
    stmt = select(mr.scope, mr.scope_id, mr.period, mr.figures)
    if periods is not None:
        stmt = stmt.where(mr.period.in_(list(periods)))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    long = [(s, i, p, *figure) for s, i, p, text in rows for figure in unpacked(text)]
    frame = pd.DataFrame(long, columns=list(RESULT_COLUMNS))
    frame["value"] = frame["value"].astype(float)
    frame["n"] = frame["n"].astype("int64")
    return frame


def measures_json(results: pd.DataFrame, *, min_n: int, as_of: str | None = None) -> dict:
    """{"min_n", "as_of", "periods": {period: {scope: {scope_id: {measure: Figure.to_json()}}}}}."""
    out: dict = {"min_n": min_n, "as_of": as_of, "periods": {}}
    ordered = results.sort_values(["period", "scope", "scope_id", "measure"], kind="stable")
    for (period, scope, scope_id), rows in ordered.groupby(["period", "scope", "scope_id"], sort=False):
        figs = figures_from_rows(rows)
        out["periods"].setdefault(str(period), {}).setdefault(str(scope), {})[str(scope_id)] = {
            m: f.to_json() for m, f in figs.items()
        }
    return out


def measures_json_from_store(engine: Engine, settings, *, as_of: str | None = None) -> dict:
    """The demo's measures.json: every stored period and scope (run ``materialise.recompute`` first)."""
    from measures.disclosure import min_n_from

    return measures_json(results_from_store(engine), min_n=min_n_from(settings), as_of=as_of)


def format_figure(measure: str, fig: Figure | None) -> str:
    if fig is None:
        return "-"
    if not fig.shown:
        return SHORT.get(fig.suppressed.value, f"({fig.suppressed.value})")
    if measure in HOURS:
        return f"{fig.value:.1f} h"
    if measure in COUNTS:
        return f"{fig.value:.0f}"
    if measure.startswith(("tool_days", "tool_days_per_student")):
        return f"{fig.value:.1f} d"
    percent = "reach" in measure or measure in ("participation", "teacher_share")
    return f"{fig.value:.0%}" if percent else f"{fig.value:.2f}"


def render_table(results: pd.DataFrame, period: str, *, scopes: Iterable[tuple[str, str]] | None = None) -> str:
    """A rich table of one period: one row per scope (community, then its classes), one column per measure."""
    sel = results[results["period"] == period]
    keys = list(scopes) if scopes is not None else sorted(
        {(s, i) for s, i in zip(sel["scope"], sel["scope_id"], strict=True) if s in ("community", "class")}
    )  # fmt: skip
    table = Table(title=f"PLI Pulse measures, {period}", show_lines=False)
    table.add_column("scope")
    table.add_column("id")
    table.add_column("n", justify="right")
    for m in TABLE_MEASURES:
        table.add_column(m, justify="right")
    grouped = {k: g for k, g in sel.groupby(["scope", "scope_id"])}
    for scope, scope_id in keys:
        rows = grouped.get((scope, scope_id))
        if rows is None:
            continue
        figs = figures_from_rows(rows)
        n = figs.get("fa_reach").n if "fa_reach" in figs else ""
        table.add_row(scope, scope_id, str(n), *(format_figure(m, figs.get(m)) for m in TABLE_MEASURES))
    dist = sel[sel["measure"].isin([DISTRIBUTION_TOTAL, *DISTRIBUTION])]
    buf = io.StringIO()
    console = Console(file=buf, width=260, record=False, color_system=None)
    console.print(table)
    if not dist.empty:
        d = Table(title=f"Teacher community activity, {period}")
        d.add_column("scope")
        d.add_column("id")
        for m in (DISTRIBUTION_TOTAL, *DISTRIBUTION):
            d.add_column(m.split(".", 1)[1], justify="right")
        for (scope, scope_id), rows in dist.groupby(["scope", "scope_id"]):
            if scopes is not None and (scope, scope_id) not in set(keys) and scope != "district":
                continue
            figs = figures_from_rows(rows)
            d.add_row(scope, scope_id, *(format_figure(m, figs.get(m)) for m in (DISTRIBUTION_TOTAL, *DISTRIBUTION)))
        console.print(d)
    console.print(LEGEND)
    return buf.getvalue()


def to_csv(results: pd.DataFrame) -> str:
    """One row per figure; suppressed rows carry the reason and an empty value."""
    ordered = results.loc[:, list(RESULT_COLUMNS)].sort_values(["period", "scope", "scope_id", "measure"])
    return ordered.to_csv(index=False, float_format="%.6g")


__all__ = ["MEASURES", "measures_json", "measures_json_from_store", "render_table", "results_from_store", "to_csv"]
