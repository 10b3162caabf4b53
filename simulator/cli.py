"""`pli-pulse simulate ...`: the simulated district tenant, for trying PLI Pulse before admin consent.

- ``simulate serve`` runs the Graph-protocol server, its sign-in endpoints and the Bot Connector on
  loopback and prints ONE JSON line when ready (other tools read it), then runs until SIGINT/SIGTERM.
- ``simulate truth`` writes the ground truth of a district.
- ``simulate files`` writes the district files a real district provides: the PLI roster CSV and the
  school calendar.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

SCALES = ("small", "district")


def add_parser(sub) -> None:
    sim = sub.add_parser("simulate", help="run the simulated district tenant, or write its ground truth and files")
    actions = sim.add_subparsers(dest="sim_command", metavar="ACTION", required=True)

    serve = actions.add_parser("serve", help="serve Graph, sign-in and the Bot Connector on 127.0.0.1")
    _common(serve)
    serve.add_argument("--port", type=int, default=0, help="Graph port (default: any free port)")
    serve.add_argument("--connector-port", type=int, default=0, help="Bot Connector port (default: any free port)")
    serve.add_argument("--until", type=date.fromisoformat, help="simulated date to stop the clock at (YYYY-MM-DD)")
    serve.add_argument("--no-throttling", action="store_true", help="switch Graph's throttling limits off")
    serve.add_argument("--connector-log", type=Path, help="where the connector records activities (JSON lines)")
    serve.set_defaults(func=cmd_serve)

    truth = actions.add_parser("truth", help="write the ground truth JSON of a simulated district")
    _common(truth)
    truth.add_argument("--out", type=Path, required=True, help="output file")
    truth.set_defaults(func=cmd_truth)

    files = actions.add_parser("files", help="write the PLI roster CSV and the school calendar TOML")
    _common(files)
    files.add_argument("--out", type=Path, required=True, help="output folder")
    files.set_defaults(func=cmd_files)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=7, help="district seed; the same seed gives the same district")
    p.add_argument("--scale", choices=SCALES, default="small", help="small (24 classes) or district (3,000 classes)")


def end_of(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(23, 59, 59), ZoneInfo(timezone)).astimezone(UTC)


def cmd_truth(args, loaded, console) -> int:
    from simulator.generate import generate_district
    from simulator.truth import write_truth

    district = generate_district(args.seed, args.scale)
    write_truth(district, args.out)
    console.print(f"Wrote the ground truth of seed {args.seed} ({args.scale}) to {args.out}")
    return 0


def cmd_files(args, loaded, console) -> int:
    from simulator.district_files import write_pli_roster_csv, write_school_calendar
    from simulator.generate import generate_district

    district = generate_district(args.seed, args.scale)
    args.out.mkdir(parents=True, exist_ok=True)
    write_pli_roster_csv(district, args.out / "pli-roster.csv")
    write_school_calendar(district, args.out / "school-calendar.toml")
    console.print(f"Wrote {args.out / 'pli-roster.csv'} and {args.out / 'school-calendar.toml'}")
    return 0


async def serve(args, out=sys.stdout) -> None:
    from simulator.connector import community_roster, start_connector
    from simulator.generate import generate_district
    from simulator.serve import start_tenant
    from simulator.throttle import ThrottleConfig

    district = generate_district(args.seed, args.scale)
    until = end_of(args.until, district.calendar.timezone) if args.until else None
    tenant = await start_tenant(
        district,
        port=args.port,
        throttling=ThrottleConfig.off() if args.no_throttling else ThrottleConfig(),
        until=until,
    )
    connector = await start_connector(
        port=args.connector_port, roster=community_roster(district), log_path=args.connector_log
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        out.write(json.dumps(tenant.ready_line(connector.url)) + "\n")
        out.flush()
        await stop.wait()
    finally:
        await connector.stop()
        await tenant.stop()


def cmd_serve(args, loaded, console) -> int:
    asyncio.run(serve(args))
    return 0
