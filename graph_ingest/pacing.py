"""Spending Graph's request budget without tripping it.

Each Graph service has its own documented limit (graph.md §2.1), and Teams adds a limit per team or
channel. A *sliding window* never lets more than N requests start in any W seconds, so it stays under
whatever window or bucket the service counts with while spending the budget almost fully. Each window
is stretched by a small ``margin`` so that uneven network latency cannot make the server see N+1
requests in its own window. (A token bucket with burst N would allow up to 2N in some windows.)
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limit:
    requests: int
    per_seconds: float


#: Defaults per service, from graph.md §2.1 (per app per tenant). Where doc versions disagree, the
#: stricter current value is used: Assignments 350/10 s (older pages said 500/10 s).
DEFAULT_SERVICE_LIMITS: dict[str, tuple[Limit, ...]] = {
    "teams_messages": (Limit(20, 1),),  # GET channel message (delta, replies)
    "teams": (Limit(30, 1),),  # GET team, channel
    "assignments": (Limit(350, 10),),
    "education": (Limit(35_000, 10),),
    "onenote": (Limit(120, 60), Limit(400, 3600)),  # delegated, per user
    "reports": (Limit(100, 600),),  # JSON (beta) reports
    "audit": (Limit(5, 1),),  # not documented: kept low on purpose
}
#: "A maximum of 4 requests per second per app can be issued on a given team or channel."
DEFAULT_SCOPE_LIMITS: dict[str, Limit] = {"teams_messages": Limit(4, 1), "teams": Limit(4, 1)}


@dataclass(frozen=True)
class PacingConfig:
    services: dict[str, tuple[Limit, ...]] = field(default_factory=lambda: dict(DEFAULT_SERVICE_LIMITS))
    per_scope: dict[str, Limit] = field(default_factory=lambda: dict(DEFAULT_SCOPE_LIMITS))
    margin_s: float = 0.02  # added to every window
    enabled: bool = True

    @classmethod
    def unlimited(cls) -> PacingConfig:
        return cls(enabled=False)


class SlidingWindow:
    """Start times of the last N requests; a new one may start once the oldest is W old."""

    __slots__ = ("limit", "starts", "window")

    def __init__(self, limit: Limit, margin_s: float):
        self.limit = limit
        self.window = limit.per_seconds + margin_s
        self.starts: deque[float] = deque()

    def wait_needed(self, now: float) -> float:
        while self.starts and now - self.starts[0] >= self.window:
            self.starts.popleft()
        if len(self.starts) < self.limit.requests:
            return 0.0
        return self.starts[0] + self.window - now

    def record(self, now: float) -> None:
        self.starts.append(now)


class Pacer:
    """``await pacer.acquire(service, scope)`` returns when one more request may start."""

    def __init__(self, config: PacingConfig | None = None):
        self.config = config or PacingConfig()
        self._windows: dict[tuple, SlidingWindow] = {}
        self.waited = 0.0  # seconds spent waiting for the budget, for the run record

    def _windows_for(self, service: str, scope: str | None) -> list[SlidingWindow]:
        cfg = self.config
        keys = [((service, i), lim) for i, lim in enumerate(cfg.services.get(service, ()))]
        if scope is not None and service in cfg.per_scope:
            keys.append(((service, "scope", scope), cfg.per_scope[service]))
        out = []
        for key, lim in keys:
            win = self._windows.get(key)
            if win is None:
                win = self._windows[key] = SlidingWindow(lim, cfg.margin_s)
            out.append(win)
        return out

    async def acquire(self, service: str, scope: str | None = None) -> None:
        if not self.config.enabled:
            return
        windows = self._windows_for(service, scope)
        while True:
            # No await between checking and recording: asyncio cannot interleave another task here.
            now = time.monotonic()
            delay = max((w.wait_needed(now) for w in windows), default=0.0)
            if delay <= 0:
                for w in windows:
                    w.record(now)
                return
            self.waited += delay
            await asyncio.sleep(delay)
