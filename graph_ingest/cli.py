"""`pli-pulse ingest`: collect class activity from Graph into the store, and print what it cost."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
from rich.table import Table

from graph_ingest.run import SOURCES, IngestOptions, IngestSummary, Progressor


def add_parser(sub) -> None:
    p = sub.add_parser("ingest", help="collect roster, Teams, Assignments, Forms and OneNote activity from Graph")
    p.add_argument(
        "--source", action="append", choices=[s for s in SOURCES if s != "roster"],
        help="only these sources (repeatable; the roster is always read)",
    )  # fmt: skip
    p.add_argument("--since", type=date.fromisoformat, help="first read starts at this date (YYYY-MM-DD)")
    p.add_argument("--full", action="store_true", help="ignore saved delta links and read everything again")
    p.add_argument("--summary-json", type=Path, help="also write the run summary as JSON to this file")
    p.add_argument("--no-measures", action="store_true", help="do not recompute the touched periods' measures after")
    p.set_defaults(func=cmd_ingest)


def summary_table(summary: IngestSummary) -> Table:
    table = Table(title=f"Ingest run {summary.run_id} ({summary.mode}): {summary.status} in {summary.duration_s:.1f}s")
    for col in ("source", "status", "scopes", "requests", "pages", "events", "429s", "retries", "waited s", "note"):
        table.add_column(col, justify="right" if col not in {"source", "status", "note"} else "left")
    for name, src in summary.sources.items():
        table.add_row(
            name, src["status"], str(src["scopes"]), str(src["requests"]), str(src["pages"]), str(src["events"]),
            str(src["throttled_429"]), str(src["retries"]), f"{src['retry_wait_s']:.1f}", src["message"],
        )  # fmt: skip
    return table


def cmd_ingest(args, loaded, console) -> int:
    from graph_ingest.service import run_ingest
    from pli_pulse.school_calendar import SchoolCalendar
    from store.db import make_engine

    settings = loaded.settings
    options = IngestOptions(
        sources=tuple(args.source) if args.source else SOURCES,
        full=args.full,
        since=datetime.combine(args.since, datetime.min.time(), UTC) if args.since else None,
        term_start=SchoolCalendar.from_settings(settings).term_start,
    )
    summary = asyncio.run(
        run_ingest(
            settings,
            make_engine(settings.database_url),
            options=options,
            ca_bundle=settings.graph_ca_bundle,
            progress=Progressor(),
        )
    )
    console.print(summary_table(summary))
    if summary.status == "succeeded" and not args.no_measures:
        # The bot answers from stored figures: bring the periods the new events touched up to date now.
        from measures.materialise import recompute

        report = recompute(make_engine(settings.database_url), settings, incremental=True)
        console.print(
            f"Measures: recomputed {len(report.periods)} periods ({report.rows} figures) in {report.seconds:.1f}s"
        )
    if args.summary_json:
        args.summary_json.write_bytes(orjson.dumps(summary.as_dict(), option=orjson.OPT_INDENT_2))
    return 0 if summary.status == "succeeded" else 1
