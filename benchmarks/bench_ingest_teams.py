"""Teams ingest at district scale: messages per second and CPU per 1,000 messages, store writes included.

Run: .venv/bin/python -m benchmarks.bench_ingest_teams [--classes N] [--seed S] [--repeat R]

The simulated tenant (``generate_district(seed, "district")`` cut down to its first N class teams, throttling off)
runs in its own process, so only the ingest's CPU is counted here (``time.process_time`` of this process). The
ingest is the product's own: ``graph_ingest.service.run_ingest`` with ``sources=("teams",)`` into a SQLite file,
pacing off. Its Teams phase (every channel's delta pages read, parsed and written with their cursors) is timed
from the moment the channels are known to the end of the run; the whole run (roster and channel lists too) is
printed beside it.
Baseline, same run: the CPU of just ``orjson.loads`` over the very same delta pages, fetched again as bytes.
Target: at most 50 ms of ingest CPU per 1,000 messages.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import httpx
import orjson

from graph_ingest.pacing import PacingConfig
from graph_ingest.run import IngestOptions, Progressor
from graph_ingest.service import run_ingest
from pli_pulse.config import Settings
from store.db import make_engine, upgrade

TARGET_CPU_MS_PER_1000 = 50.0
KEY = "5f" * 32


def district_subset(seed: int, classes: int):
    """The generated district with only its first ``classes`` class teams (their activity is unchanged: each
    class's activity is rebuilt from the seed and the class id alone)."""
    from simulator.generate import generate_district

    district = generate_district(seed, "district")
    keep = list(district.classes)[:classes]
    return dataclasses.replace(
        district,
        classes={c: district.classes[c] for c in keep},
        enrollments={c: district.enrollments[c] for c in keep},
        communities={},
    )


def _serve(conn: Connection, seed: int, classes: int, throttled: bool) -> None:
    from simulator.generate import class_activity
    from simulator.serve import start_tenant
    from simulator.throttle import ThrottleConfig

    async def main() -> None:
        district = district_subset(seed, classes)
        messages = sum(len(class_activity(district, c).messages) for c in district.classes)
        handle = await start_tenant(
            district,
            throttling=ThrottleConfig() if throttled else ThrottleConfig.off(),
            activity_cache_size=classes + 8,
        )
        conn.send({**handle.ready_line(), "messages": messages, "app_token": handle.identity.mint_app_token()})
        loop = asyncio.get_running_loop()
        while not await loop.run_in_executor(None, conn.poll, 0.2):
            pass
        conn.recv()
        await handle.stop()

    asyncio.run(main())


class SimulatorProcess:
    """The simulated tenant in a child process; ``info`` is its ready line plus the message count."""

    def __init__(self, seed: int, classes: int, *, throttled: bool = False):
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, seed, classes, throttled), daemon=True)
        self._proc.start()
        self.info: dict = self._conn.recv()

    def stats(self) -> dict:
        return httpx.get(f"{self.info['admin_url']}/stats", timeout=30).json()

    def stop(self) -> None:
        self._conn.send("stop")
        self._proc.join(30)
        if self._proc.exitcode is None:
            self._proc.kill()


def settings_for(info: dict, db_url: str) -> Settings:
    return Settings(
        tenant_id=info["tenant_id"],
        graph_client_id=info["client_id"],
        graph_client_secret=info["client_secret"],
        graph_base_url=info["graph_base_url"].removesuffix("/v1.0"),
        graph_authority=info["authority"],
        database_url=db_url,
        privacy_pseudonym_key=KEY,
    )


class PhaseClock(Progressor):
    """A silent progress reporter that notes CPU and wall time when the Teams phase starts and the run ends."""

    def __init__(self):
        super().__init__(enabled=False)
        self.marks: dict[str, tuple[float, float]] = {}
        self.totals: dict[str, int] = {}

    def track(self, name: str, total: int):
        self.marks.setdefault(name, (time.process_time(), time.perf_counter()))
        self.totals[name] = total
        return super().track(name, total)

    def __exit__(self, *exc):
        self.marks["end"] = (time.process_time(), time.perf_counter())
        return super().__exit__(*exc)


async def ingest_teams(info: dict, db_url: str, *, pacing: PacingConfig, now=None):
    engine = make_engine(db_url)
    upgrade(engine)
    clock = PhaseClock()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    summary = await run_ingest(
        settings_for(info, db_url),
        engine,
        options=IngestOptions(sources=("teams",), now=now),
        pacing=pacing,
        ca_bundle=Path(info["ca_file"]),
        progress=clock,
    )
    total = (time.process_time() - cpu0, time.perf_counter() - wall0)
    engine.dispose()  # as when `pli-pulse ingest` exits: the next run must not share this run's SQLite caches
    return summary, clock, total


async def fetch_delta_pages(info: dict) -> list[bytes]:
    """The same first delta read the ingest made, every page as bytes (for the orjson baseline)."""
    base = info["graph_base_url"]
    out: list[bytes] = []
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {info['app_token']}"}, timeout=60) as http:
        classes = []
        url, params = f"{base}/education/classes", None
        while url:
            doc = (await http.get(url, params=params)).json()
            classes += [c["id"] for c in doc["value"]]
            url = doc.get("@odata.nextLink")
        sem = asyncio.Semaphore(16)

        async def channel_pages(team_id: str) -> None:
            async with sem:
                for ch in (await http.get(f"{base}/teams/{team_id}/channels")).json()["value"]:
                    url = f"{base}/teams/{team_id}/channels/{ch['id']}/messages/delta"
                    params: dict | None = {"$top": "50", "$expand": "replies"}
                    while url:
                        resp = await http.get(url, params=params)
                        out.append(resp.content)
                        doc = orjson.loads(resp.content)
                        for msg in doc.get("value", ()):  # threads longer than the expansion: their reply pages
                            more = msg.get("replies@odata.nextLink")
                            while more:
                                reply_page = await http.get(more)
                                out.append(reply_page.content)
                                more = orjson.loads(reply_page.content).get("@odata.nextLink")
                        url, params = doc.get("@odata.nextLink"), None

        await asyncio.gather(*(channel_pages(c) for c in classes))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=100, help="class teams of the district to ingest")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="full ingests into fresh stores; the median is quoted")
    args = parser.parse_args(argv)
    sim = SimulatorProcess(args.seed, args.classes)
    runs = []
    try:
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                db_url = f"sqlite:///{Path(tmp) / 'store.sqlite3'}"
                summary, clock, (cpu_all, wall_all) = asyncio.run(
                    ingest_teams(sim.info, db_url, pacing=PacingConfig.unlimited())
                )
                assert summary.status == "succeeded", summary.as_dict()
                (c0, w0), (c1, w1) = clock.marks["teams"], clock.marks["end"]
                runs.append((c1 - c0, w1 - w0, cpu_all, wall_all, summary, clock))
        pages = asyncio.run(fetch_delta_pages(sim.info))
        cpu0 = time.process_time()
        for raw in pages:
            orjson.loads(raw)
        cpu_loads = time.process_time() - cpu0
    finally:
        sim.stop()
    messages = sim.info["messages"]
    each = ", ".join(f"{r[0] / messages * 1e6:.1f}" for r in runs)  # in the order they ran
    runs.sort(key=lambda r: r[0])
    cpu_teams, wall_teams, cpu_all, wall_all, summary, clock = runs[len(runs) // 2]  # the median run by CPU
    teams = summary.as_dict()["sources"]["teams"]
    per_1000 = cpu_teams / messages * 1e6
    print(
        f"district seed {args.seed}, first {args.classes} class teams: {clock.totals['teams']} channels, "
        f"{messages} messages (posts+replies), {teams['pages']} delta pages, {teams['events']} events written"
    )
    rate = messages / wall_teams
    print(f"teams phase, median run: {wall_teams:.2f} s wall, {rate:,.0f} messages/s, {cpu_teams:.2f} s CPU")
    print(f"whole run (roster + channels + messages), median run: {wall_all:.2f} s wall, {cpu_all:.2f} s CPU")
    print(f"ingest CPU per 1,000 messages, each of {len(runs)} runs in order: {each} ms")
    print(f"ingest CPU per 1,000 messages: {per_1000:.1f} ms, the median (target <= {TARGET_CPU_MS_PER_1000:.0f} ms: "
          f"{'met' if per_1000 <= TARGET_CPU_MS_PER_1000 else 'NOT met'})")  # fmt: skip
    print(f"baseline orjson.loads of the same {len(pages)} pages: {cpu_loads * 1000:.1f} ms CPU "
          f"({cpu_loads / messages * 1e6:.2f} ms per 1,000 messages)")  # fmt: skip
    print(f"ratio ingest CPU / orjson.loads CPU: {cpu_teams / cpu_loads:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
