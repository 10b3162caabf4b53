"""The `pli-pulse` command line: one entry point for district IT, with --help on every verb."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pli_pulse.config import ConfigError, LoadedConfig, load_config

log = logging.getLogger("pli_pulse.cli")

#: Verbs that later stages of the product fill in, with what each will do. Listed so that --help
#: shows the whole shape of the tool, and each says plainly that it is not available yet.
PLANNED = {
    "serve": "Run the bot and tab web server.",
    "digest": "Post the weekly digest card to every community channel.",
    "exemplars": "List, add and share exemplar lessons.",
    "package": "Build the Teams app package (manifest zip) for upload by an admin.",
}

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_NOT_AVAILABLE = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pli-pulse",
        description="PLI Pulse: weekly formative-assessment and collaboration evidence for PLI communities in Teams.",
    )
    p.add_argument("--config", type=Path, help="TOML configuration file (default: pli-pulse.toml if present)")
    p.add_argument("--log-format", choices=["text", "json"], help="override [logging] format")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="override [logging] level")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    doc = sub.add_parser("doctor", help="check configuration, database, Graph and bot credentials")
    doc.add_argument("--offline", action="store_true", help="skip the Graph network check")
    doc.set_defaults(func=cmd_doctor)

    cfg = sub.add_parser("config", help="show the effective configuration (secrets hidden)")
    cfg.set_defaults(func=cmd_config)

    db = sub.add_parser("db", help="database schema migrations")
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dbsub.add_parser("upgrade", help="create the store or migrate it to the current schema")
    up.set_defaults(func=cmd_db_upgrade)
    cur = dbsub.add_parser("current", help="show the store's migration and the code's")
    cur.set_defaults(func=cmd_db_current)

    fg = sub.add_parser("forget", help="delete one person's data everywhere and report what was removed")
    fg.add_argument("--user", required=True, metavar="AAD_OBJECT_ID", help="the person's Entra (AAD) object id")
    fg.set_defaults(func=cmd_forget)

    demo = sub.add_parser("demo", help="run the main job end to end on the embedded simulated district")
    demo.add_argument("--out", type=Path, default=Path("demo-out"), help="output folder (default: demo-out)")
    demo.add_argument("--seed", type=int, default=7, help="simulated district seed (default: 7)")
    demo.add_argument("--scale", choices=["small", "district"], default="small", help="simulated district size")
    demo.set_defaults(func=cmd_demo)

    from graph_ingest.cli import add_parser as add_ingest
    from simulator.cli import add_parser as add_simulate

    add_simulate(sub)
    add_ingest(sub)
    cards = sub.add_parser("cards", help="write every Adaptive Card kind as JSON and PNG (light and dark)")
    cards.add_argument("--out", type=Path, required=True, help="output folder")
    cards.add_argument("--no-render", action="store_true", help="write the JSON only (no Chromium needed)")
    cards.set_defaults(func=cmd_cards)

    meas = sub.add_parser(
        "measures", help="compute (if needed) and show one period's measures, with disclosure control"
    )
    meas.add_argument("--period", help="2026-W47, 2026-11 or term (default: this week)")
    scope = meas.add_mutually_exclusive_group()
    scope.add_argument("--class", dest="class_id", metavar="ID", help="one class (and nothing else)")
    scope.add_argument("--community", dest="community_id", metavar="ID", help="a community and its classes")
    scope.add_argument("--school", dest="school_id", metavar="ID", help="a school, its PLI/non-PLI split and classes")
    meas.add_argument("--format", choices=["table", "json", "csv"], default="table")
    meas.add_argument("--recompute", choices=["incremental", "full"], help="recompute and store before showing")
    meas.set_defaults(func=cmd_measures)

    exp = sub.add_parser("export", help="write pseudonymised events and measures for district analysts")
    exp.add_argument("--out", type=Path, required=True, help="output folder")
    exp.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    exp.set_defaults(func=cmd_export)

    for verb, text in PLANNED.items():
        sp = sub.add_parser(verb, help=text + " (not available yet)", description=text)
        sp.set_defaults(func=cmd_planned, verb=verb)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    console = Console()
    if not console.is_terminal:  # logs and CI: wide enough that tables do not wrap every cell
        console = Console(width=140)
    try:
        loaded = load_config(args.config)
    except ConfigError as exc:
        Console(stderr=True).print(f"[bold red]Configuration error[/]\n{exc}", highlight=False)
        return EXIT_USAGE
    from pli_pulse.logs import configure_logging

    s = loaded.settings
    configure_logging(args.log_level or s.logging_level, args.log_format or s.logging_format, secrets=s.secret_values())
    return int(args.func(args, loaded, console) or 0)


def print_checks(console: Console, checks) -> bool:
    """One actionable line per check: status, what was found, and what to do about it."""
    from pli_pulse.doctor import Status

    marks = {
        Status.OK: "[green] ok [/]",
        Status.WARN: "[yellow]warn[/]",
        Status.FAIL: "[red]FAIL[/]",
        Status.SKIP: "[dim]skip[/]",
    }
    for c in checks:
        line = f"{marks[c.status]}  [bold]{c.name}[/]: {c.detail}"
        if c.fix:
            line += f"  [cyan]-> {c.fix}[/]"
        console.print(line, highlight=False, soft_wrap=True)
    return all(c.status != Status.FAIL for c in checks)


def cmd_doctor(args, loaded: LoadedConfig, console: Console) -> int:
    from pli_pulse.doctor import run_checks

    skip = {"graph reachable": "--offline"} if args.offline else {}
    ok = print_checks(console, run_checks(loaded.settings, loaded.source, skip=skip))
    return EXIT_OK if ok else EXIT_FAIL


def cmd_config(args, loaded: LoadedConfig, console: Console) -> int:
    table = Table(title=f"Configuration ({loaded.source})", header_style="bold")
    table.add_column("setting")
    table.add_column("value")
    for name, value in loaded.settings.describe():
        table.add_row(name, value)
    console.print(table)
    return EXIT_OK


def cmd_db_upgrade(args, loaded: LoadedConfig, console: Console) -> int:
    from store.db import current_revision, make_engine, upgrade

    engine = make_engine(loaded.settings.database_url)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    console.print(
        f"Store migrated from {before or 'empty'} to {after}." if before != after else f"Store already at {after}."
    )
    return EXIT_OK


def cmd_db_current(args, loaded: LoadedConfig, console: Console) -> int:
    from store.db import current_revision, head_revision, make_engine

    rev = current_revision(make_engine(loaded.settings.database_url))
    head = head_revision()
    console.print(f"store: {rev or 'empty'}   code: {head}")
    if rev != head:
        console.print("Run: pli-pulse db upgrade")
        return EXIT_FAIL
    return EXIT_OK


def cmd_forget(args, loaded: LoadedConfig, console: Console) -> int:
    from pli_pulse.pseudonym import pseudonymizer_from_settings
    from store.db import make_engine
    from store.forget import forget_person

    report = forget_person(
        make_engine(loaded.settings.database_url), args.user, pseudonymizer_from_settings(loaded.settings)
    )
    table = Table(title=f"Removed data of {args.user} ({report.matched_role or 'no person record found'})")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in report.removed.items():
        table.add_row(name, str(n))
    table.add_row("[bold]total[/]", f"[bold]{report.total}[/]")
    console.print(table)
    from measures.snapshot import discard

    # The measures' saved term state may hold the person's key; the next recompute rebuilds it from the store.
    if discard(loaded.settings):
        console.print("Deleted the measures' saved state; the next `pli-pulse ingest` rebuilds it without them.")
    log.info("forget completed", extra={"rows_removed": report.total, "matched_role": report.matched_role})
    return EXIT_OK


def cmd_demo(args, loaded: LoadedConfig, console: Console) -> int:
    from pli_pulse.demo import run_demo

    return run_demo(args.out, seed=args.seed, scale=args.scale, base=loaded, console=console)


def cmd_cards(args, loaded: LoadedConfig, console: Console) -> int:
    from cards.render import RenderError, write_demo_cards

    try:
        paths = write_demo_cards(args.out, render=not args.no_render)
    except RenderError as exc:
        Console(stderr=True).print(f"The card JSON was written to {args.out}, but the PNGs were not: {exc}")
        return EXIT_FAIL
    console.print(f"Wrote {len(paths)} files to {args.out}")
    return EXIT_OK


def cmd_measures(args, loaded: LoadedConfig, console: Console) -> int:
    from measures.cli import cli_measures
    from measures.materialise import recompute
    from measures.periods import PeriodError
    from store.db import make_engine

    settings = loaded.settings
    try:
        if args.recompute:
            report = recompute(
                make_engine(settings.database_url), settings, incremental=args.recompute == "incremental"
            )
            console.print(f"Recomputed {len(report.periods)} periods ({report.rows} figures) in {report.seconds:.1f}s")
        text = cli_measures(settings, args.period, args.class_id, args.community_id, args.school_id, args.format)
    except (PeriodError, ValueError) as exc:
        Console(stderr=True).print(f"{exc}", highlight=False)
        return EXIT_USAGE
    print(text)
    return EXIT_OK


def cmd_export(args, loaded: LoadedConfig, console: Console) -> int:
    from measures.cli import cli_export

    console.print(cli_export(loaded.settings, args.out, args.format))
    return EXIT_OK


def cmd_planned(args, loaded: LoadedConfig, console: Console) -> int:
    Console(stderr=True).print(
        f"'pli-pulse {args.verb}' is not available in this version yet: {PLANNED[args.verb]}\n"
        "Nothing was changed. See the README's 'Stages' section for what works today."
    )
    return EXIT_NOT_AVAILABLE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
