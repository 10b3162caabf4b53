"""How much the simulated connector costs per bot call, as a ratio to a bare aiohttp endpoint in the same run.

Run: .venv/bin/python benchmarks/bench_connector.py [--requests N]

Three servers on 127.0.0.1 answer the same POST of a ~6 KB card activity from one aiohttp client:
- baseline: an aiohttp handler that parses the JSON and returns {"id": ...} with 201;
- connector, auth off: + routing, size estimate, throttling windows (limits on, huge knobs), JSON-lines log;
- connector, auth on: + RS256 bearer-token verification on every call.
The figures are ratios of mean time per request, so they survive a slower machine.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from simulator.bot_identity import BotIdentity
from simulator.connector import RateLimits, Window, start_connector

APP_ID = "6a3c1f2e-7d4b-4c5a-9e8f-0b1c2d3e4f50"
CHANNEL = "19:bench@thread.tacv2"
ROOMY = (Window(10**9, 1),)  # keep the throttling code on the path without ever refusing


def card_activity() -> dict:
    rows = [{"type": "TextBlock", "text": f"Class {n}: formative checks 3 of 5 weeks"} for n in range(120)]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "content": {"type": "AdaptiveCard", "body": rows},
            }
        ],
    }


async def start_baseline() -> tuple[str, web.AppRunner]:
    async def handler(request: web.Request) -> web.Response:
        await request.json()
        return web.json_response({"id": "1"}, status=201)

    app = web.Application()
    app.router.add_post("/v3/conversations/{conversation_id}/activities", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return f"http://127.0.0.1:{runner.addresses[0][1]}", runner


async def time_posts(session: aiohttp.ClientSession, url: str, n: int, headers: dict[str, str]) -> float:
    activity = card_activity()
    path = f"{url}/v3/conversations/{CHANNEL}/activities"
    for _ in range(20):  # warm-up: connection pool, first-call imports
        async with session.post(path, json=activity, headers=headers) as response:
            await response.read()
    started = time.perf_counter()
    for _ in range(n):
        async with session.post(path, json=activity, headers=headers) as response:
            if response.status != 201:
                raise RuntimeError(f"unexpected {response.status}: {await response.text()}")
            await response.read()
    return (time.perf_counter() - started) / n


async def main(n: int) -> None:
    identity = BotIdentity.generate()
    limits = RateLimits(send=ROOMY, create_conversation=ROOMY, get_members=ROOMY, per_app_per_tenant_rps=10**9)
    workdir = Path(tempfile.mkdtemp(prefix="bench-connector-"))
    baseline_url, baseline_runner = await start_baseline()
    off = await start_connector(limits=limits, log_path=workdir / "off.jsonl", identity=identity)
    on = await start_connector(bot_app_id=APP_ID, limits=limits, log_path=workdir / "on.jsonl", identity=identity)
    token = identity.mint_connector_token(app_id=APP_ID)
    try:
        async with aiohttp.ClientSession() as session:
            base = await time_posts(session, baseline_url, n, {})
            auth_off = await time_posts(session, off.url, n, {})
            auth_on = await time_posts(session, on.url, n, {"Authorization": f"Bearer {token}"})
    finally:
        await off.stop()
        await on.stop()
        await baseline_runner.cleanup()
    print(f"requests per server: {n}")
    print(f"baseline (bare aiohttp JSON endpoint): {base * 1e3:.3f} ms/request")
    print(f"connector, auth off: {auth_off / base:.2f}x baseline")
    print(f"connector, auth on (RS256 verify per call): {auth_on / base:.2f}x baseline")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    asyncio.run(main(parser.parse_args().requests))
