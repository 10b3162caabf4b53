"""`pli-pulse demo`: the main job end to end on the embedded simulated district.

The output folder has a fixed layout that other tools rely on (README, "Demo output"):
``truth.json``, ``ingest-summary.json``, ``measures.json``, ``cards/``, ``connector-log.jsonl`` and
``index.html``. Each stage adds its own file; a stage that is not built yet says so instead.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pli_pulse.config import LoadedConfig


@dataclass
class DemoContext:
    out: Path
    seed: int
    scale: str
    loaded: LoadedConfig
    console: Console
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    name: str
    output: str  # file or folder inside the output folder
    run: Callable[[DemoContext], str] | None  # returns a one-line result; None = not built yet
    planned: str = ""


def demo_settings(ctx: DemoContext):
    """The demo runs on its own store and key inside the output folder, never on the district's."""
    return ctx.loaded.settings.model_copy(
        update={
            "database_url": f"sqlite:///{(ctx.out / 'pli-pulse.sqlite3').as_posix()}",
            "privacy_pseudonym_key_file": ctx.out / "pseudonym.key",
            "bot_dangerously_allow_unauthenticated_requests": True,
        }
    )


def stage_store(ctx: DemoContext) -> str:
    from store.db import current_revision, make_engine, upgrade

    settings = demo_settings(ctx)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    rev = current_revision(engine)
    engine.dispose()
    return f"created {ctx.out / 'pli-pulse.sqlite3'} at migration {rev}"


def stage_doctor(ctx: DemoContext) -> str:
    from pli_pulse.cli import print_checks
    from pli_pulse.doctor import run_checks
    from pli_pulse.pseudonym import pseudonymizer_from_settings

    settings = demo_settings(ctx)
    pseudonymizer_from_settings(settings)  # creates the demo's 0600 key file
    not_yet = "the simulated tenant that stands in for Graph is not built yet"
    checks = run_checks(
        settings,
        "demo settings",
        skip={"graph credentials": not_yet, "graph reachable": not_yet},
    )
    ok = print_checks(ctx.console, checks)
    if not ok:
        raise RuntimeError("doctor found a problem with the demo set-up (see the table above)")
    return f"{sum(c.status == 'ok' for c in checks)} checks ok, {sum(c.status == 'skip' for c in checks)} skipped"


STAGES: list[Stage] = [
    Stage("store", "pli-pulse.sqlite3", stage_store),
    Stage("doctor", "-", stage_doctor),
    Stage("simulated tenant", "truth.json", None, "generates the district and serves Graph + Bot Connector"),
    Stage("ingest", "ingest-summary.json", None, "full then incremental ingest from the simulated tenant"),
    Stage("measures", "measures.json", None, "FA and collaboration measures with disclosure control"),
    Stage("cards", "cards/", None, "Adaptive Cards as JSON and PNG"),
    Stage(
        "bot and digest",
        "connector-log.jsonl",
        None,
        "weekly digest posted through the simulated Bot Connector",
    ),
    Stage("gallery", "index.html", None, "one page showing all of the above"),
]


def run_demo(out: Path, *, seed: int, scale: str, base: LoadedConfig, console: Console) -> int:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    ctx = DemoContext(out=out, seed=seed, scale=scale, loaded=base, console=console)
    console.print(f"[bold]PLI Pulse demo[/]  seed={seed} scale={scale} out={out}")
    rows = []
    failed = False
    for stage in STAGES:
        if stage.run is None:
            rows.append((stage.name, "[dim]not built yet[/]", stage.output, stage.planned))
            continue
        started = time.perf_counter()
        try:
            result = stage.run(ctx)
        except Exception as exc:  # the demo reports any stage failure in its summary and exits non-zero
            rows.append((stage.name, "[red]failed[/]", stage.output, str(exc)))
            failed = True
            break
        rows.append((stage.name, f"[green]done[/] {time.perf_counter() - started:.1f}s", stage.output, result))
    table = Table(title="Demo summary", header_style="bold")
    for col in ("stage", "status", "output", "result"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    built = sum(1 for s in STAGES if s.run is not None)
    console.print(
        f"{built} of {len(STAGES)} stages exist so far; the others are listed as 'not built yet'. "
        f"Output folder: {out.resolve()}"
    )
    return 1 if failed else 0
