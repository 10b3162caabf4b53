"""Pacing never starts more requests than a limit allows in any window, and uses the budget it has."""

import asyncio
import time

from graph_ingest.pacing import Limit, Pacer, PacingConfig, SlidingWindow


def max_in_any_window(starts, window):
    starts = sorted(starts)
    best, j = 0, 0
    for i, t in enumerate(starts):
        while t - starts[j] >= window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_a_sliding_window_admits_n_then_waits_for_the_oldest_to_age_out():
    w = SlidingWindow(Limit(3, 1.0), margin_s=0.0)
    for t in (0.0, 0.1, 0.2):
        assert w.wait_needed(t) == 0.0
        w.record(t)
    assert abs(w.wait_needed(0.5) - 0.5) < 1e-9
    assert w.wait_needed(1.0) == 0.0


async def test_concurrent_requests_on_one_channel_never_exceed_its_limit_in_any_window():
    pacer = Pacer(PacingConfig(services={"teams_messages": (Limit(20, 1),)}, per_scope={"teams_messages": Limit(4, 1)}))
    starts = []

    async def one():
        await pacer.acquire("teams_messages", "team-1/chan-1")
        starts.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(10)))
    assert max_in_any_window(starts, 1.0) <= 4
    assert len(starts) == 10


async def test_the_service_limit_is_shared_across_channels_while_each_channel_keeps_its_own():
    pacer = Pacer(PacingConfig(services={"s": (Limit(6, 1),)}, per_scope={"s": Limit(4, 1)}))
    starts = {"a": [], "b": []}

    async def one(ch):
        await pacer.acquire("s", ch)
        starts[ch].append(time.monotonic())

    await asyncio.gather(*(one(ch) for ch in "ab" for _ in range(4)))
    assert max_in_any_window(starts["a"] + starts["b"], 1.0) <= 6
    assert max_in_any_window(starts["a"], 1.0) <= 4
    assert pacer.waited > 0


async def test_a_service_without_a_documented_limit_is_not_slowed():
    pacer = Pacer()
    for _ in range(100):
        await pacer.acquire("unknown-service")
    assert pacer.waited == 0
