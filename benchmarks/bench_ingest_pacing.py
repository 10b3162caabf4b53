"""How much of Teams' documented request budget the paced ingest spends, and how many 429s it causes itself.

Run: .venv/bin/python -m benchmarks.bench_ingest_pacing [--classes N] [--window S]

The simulated tenant runs in its own process with its documented limits ON (``ThrottleConfig()`` defaults: channel
messages 20 requests/s per app per tenant and 4/s per channel; channel lists 60/s), serving the first N class teams
of ``generate_district(seed, "district")``. The ingest is the product's own ``run_ingest`` (Teams only) with the
client's default ``PacingConfig``, whose limits match (20/s per tenant, 4/s per team, which is stricter than per
channel). N is large enough that many teams still have pages left when the window closes, so the per-tenant
20/s is the binding limit for the whole window; the run is then stopped.
Figures, read from the simulator's own counters at the window's two ends:
- achieved rate of served channel-message requests / allowed rate (20/s). Target: at least 0.90;
- 429s the simulator sent on any route during the whole run. Target: 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.bench_ingest_teams import SimulatorProcess, ingest_teams
from graph_ingest.pacing import DEFAULT_SCOPE_LIMITS, DEFAULT_SERVICE_LIMITS, PacingConfig
from simulator.throttle import ThrottleConfig

TARGET_RATIO = 0.90
MESSAGE_ROUTES = ("messages.delta", "messages", "message", "replies")


def served(stats: dict) -> tuple[int, int]:
    """(requests, 429s) on the channel-message routes so far."""
    req = sum(stats["requests"].get(r, 0) for r in MESSAGE_ROUTES)
    throttled = sum(stats["throttled"].get(r, 0) for r in MESSAGE_ROUTES)
    return req, throttled


async def measure(sim: SimulatorProcess, db_url: str, window_s: float) -> dict:
    async with httpx.AsyncClient(timeout=30) as http:

        async def stats() -> tuple[float, dict]:
            doc = (await http.get(f"{sim.info['admin_url']}/stats")).json()
            return time.perf_counter(), doc

        run = asyncio.create_task(ingest_teams(sim.info, db_url, pacing=PacingConfig()))
        while True:  # the window opens with the first channel-message request
            t0, s0 = await stats()
            if served(s0)[0] > 0 or run.done():
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(window_s)
        t1, s1 = await stats()
        finished_early = run.done()
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await run
    return {"t": t1 - t0, "s0": s0, "s1": s1, "finished_early": finished_early}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=250, help="class teams of the district to serve")
    parser.add_argument("--window", type=float, default=25.0, help="seconds measured once message reads start")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    sim_limits = ThrottleConfig()
    allowed = sim_limits.teams_messages.requests / sim_limits.teams_messages.per_seconds
    client = DEFAULT_SERVICE_LIMITS["teams_messages"][0], DEFAULT_SCOPE_LIMITS["teams_messages"]
    sim = SimulatorProcess(args.seed, args.classes, throttled=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = asyncio.run(measure(sim, f"sqlite:///{Path(tmp) / 'store.sqlite3'}", args.window))
    finally:
        sim.stop()
    (r0, q0), (r1, q1) = served(result["s0"]), served(result["s1"])
    achieved = ((r1 - q1) - (r0 - q0)) / result["t"]
    all_429 = sum(result["s1"]["throttled"].values())
    tenant, channel = sim_limits.teams_messages, sim_limits.teams_per_channel
    print(
        f"simulator limits: {tenant.requests}/{tenant.per_seconds:g}s per tenant, "
        f"{channel.requests}/{channel.per_seconds:g}s per channel; "
        f"client pacing: {client[0].requests}/{client[0].per_seconds:g}s per tenant, "
        f"{client[1].requests}/{client[1].per_seconds:g}s per team"
    )
    print(
        f"window: {result['t']:.1f} s from the first channel-message request; {(r1 - q1) - (r0 - q0)} requests served"
        + (" (the run FINISHED inside the window: use more --classes)" if result["finished_early"] else "")
    )
    ratio = achieved / allowed
    print(f"achieved {achieved:.2f} requests/s of {allowed:.0f}/s allowed: ratio {ratio:.3f} "
          f"(target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})")  # fmt: skip
    print(f"429s caused by our own pacing during the run: {all_429} (channel messages: {q1}) (target 0)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
