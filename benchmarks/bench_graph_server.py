"""Pages per second the simulated Graph serves, as a ratio to a trivial aiohttp handler in the same run.

Run: .venv/bin/python -m benchmarks.bench_graph_server [--pages N] [--rounds R] [--concurrency C]

Each server runs in its own process on 127.0.0.1 (throttling off); one aiohttp client process drives it with C
concurrent workers:
- simulator: workers list a 1,000-post channel 50 messages per page, following the full-URL nextLinks (token
  verification, routing, paging-token signing, visibility by the simulated clock, JSON encoding on every page);
- baseline: an aiohttp handler returning the same 50-message page as fixed bytes.
Target: at least 2,000 simulator pages per second on loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection

import aiohttp
from aiohttp import web

from simulator.model import (
    Calendar,
    Channel,
    ClassActivity,
    CommunityActivity,
    District,
    Enrollment,
    Message,
    Person,
    Reaction,
    School,
    SchoolClass,
)

TARGET_PAGES_PER_SECOND = 2000
CLASS_ID = "30000000-0000-4000-8000-00000000b001"
CHANNEL_ID = "19:benchgeneral@thread.tacv2"
POSTS = 1000
PAGE = 50


def bench_district() -> District:
    people = {
        f"u{i}": Person(f"u{i}", f"Student {i}", f"student{i}@bench.example.edu", "student", "S", grade="9")
        for i in range(30)
    }
    people["t"] = Person("t", "Teacher One", "teacher@bench.example.edu", "teacher", "S")
    start = date(2026, 8, 17)
    cls = SchoolClass(
        CLASS_ID, "Bench class", "S", "Biology", "9", "Fall", True, "2026", ("t",), (Channel(CHANNEL_ID, "General"),)
    )
    return District(
        seed=0,
        scale="small",
        tenant_id="7c0c4d3e-0000-4000-8000-00000000b000",
        domain="bench.example.edu",
        calendar=Calendar(start, date(2027, 1, 29), "America/Los_Angeles", ()),
        schools={"S": School("S", "Bench High", "B-1")},
        people=people,
        classes={CLASS_ID: cls},
        enrollments={CLASS_ID: tuple(Enrollment(CLASS_ID, uid, p.role, start) for uid, p in people.items())},
        communities={},
    )


def bench_activity(district: District, class_id: str) -> ClassActivity:
    base = datetime(2026, 8, 20, 15, tzinfo=UTC)
    messages = []
    for i in range(POSTS):
        when = base + timedelta(hours=3 * i)
        messages.append(
            Message(
                id=str(int(when.timestamp() * 1000)),
                team_id=class_id,
                channel_id=CHANNEL_ID,
                reply_to_id=None,
                author_id=f"u{i % 30}",
                created_at=when,
                body_html="<p>Here is our group's exit ticket and what we would change next time we try it.</p>" * 2,
                mention_ids=("t",) if i % 5 == 0 else (),
                reactions=(Reaction(f"u{(i + 1) % 30}", "like", when + timedelta(minutes=5)),) if i % 3 == 0 else (),
            )
        )
    return ClassActivity(class_id, tuple(messages), (), (), (), ())


def no_communities(district: District, community_id: str) -> CommunityActivity:
    return CommunityActivity(community_id, ())


def _serve_simulator(conn: Connection) -> None:
    from simulator.serve import start_tenant
    from simulator.throttle import ThrottleConfig

    async def main() -> None:
        handle = await start_tenant(
            bench_district(),
            throttling=ThrottleConfig.off(),
            until=datetime(2027, 1, 1, tzinfo=UTC),
            class_activity=bench_activity,
            community_activity=no_communities,
        )
        token = handle.identity.mint_app_token()
        conn.send((handle.graph_base_url, token))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # wait for "stop"
        await handle.stop()

    asyncio.run(main())


def _serve_baseline(conn: Connection, body: bytes) -> None:
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/page", page)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        conn.send((f"http://127.0.0.1:{runner.addresses[0][1]}/page", ""))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await runner.cleanup()

    asyncio.run(main())


def next_link(body: bytes) -> str | None:
    """The nextLink without parsing 70 KB of JSON in the client (the client shares the machine with the server)."""
    at = body.rfind(b'"@odata.nextLink":"')
    if at < 0:
        return None
    start = at + len(b'"@odata.nextLink":"')
    return body[start : body.index(b'"', start)].decode()


async def drive(first_url: str, token: str, pages: int, concurrency: int, follow: bool) -> float:
    """Fetch ``pages`` pages with ``concurrency`` workers; returns pages per second."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    remaining = pages

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal remaining
        url = first_url
        while remaining > 0:
            remaining -= 1
            async with http.get(url, headers=headers) as r:
                body = await r.read()
                assert r.status == 200, body[:500]
            url = (next_link(body) or first_url) if follow else first_url

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        return pages / (time.perf_counter() - started)


async def fetch_page(url: str, token: str) -> bytes:
    async with aiohttp.ClientSession() as http, http.get(url, headers={"Authorization": f"Bearer {token}"}) as r:
        return await r.read()


class ServerProcess:
    """A server in its own process; ``url`` and ``token`` arrive over a pipe once it listens."""

    def __init__(self, target, *args) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=target, args=(child, *args), daemon=True)
        self._proc.start()
        self.url, self.token = self._parent.recv()

    def stop(self) -> None:
        self._parent.send("stop")
        self._proc.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    suffix = f"/teams/{CLASS_ID}/channels/{CHANNEL_ID}/messages?$top={PAGE}"

    sim = ServerProcess(_serve_simulator)
    sample = asyncio.run(fetch_page(sim.url + suffix, sim.token))
    base = ServerProcess(_serve_baseline, sample)
    sim_rates, base_rates = [], []
    try:
        asyncio.run(drive(sim.url + suffix, sim.token, 200, args.concurrency, True))  # warm-up: activity built
        asyncio.run(drive(base.url, "", 200, args.concurrency, False))
        for _ in range(args.rounds):  # alternate, so load from other processes hits both sides alike
            sim_rates.append(asyncio.run(drive(sim.url + suffix, sim.token, args.pages, args.concurrency, True)))
            base_rates.append(asyncio.run(drive(base.url, "", args.pages, args.concurrency, False)))
    finally:
        sim.stop()
        base.stop()
    sim_rate, base_rate = statistics.median(sim_rates), statistics.median(base_rates)

    print(
        f"page: {PAGE} channel messages, {len(sample):,} bytes; {args.rounds} alternating rounds of "
        f"{args.pages:,} pages, {args.concurrency} concurrent workers; medians"
    )
    print(f"baseline (fixed-bytes aiohttp handler): {base_rate:,.0f} pages/s")
    print(f"simulated Graph (auth + paging + JSON): {sim_rate:,.0f} pages/s")
    print(f"ratio simulator/baseline: {sim_rate / base_rate:.2f}")
    verdict = "meets" if sim_rate >= TARGET_PAGES_PER_SECOND else "MISSES"
    print(f"target >= {TARGET_PAGES_PER_SECOND:,} pages/s: {verdict}")


if __name__ == "__main__":
    main()
