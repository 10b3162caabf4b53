"""Service limits and injected faults of the simulated tenant.

Real Graph throttles per service with different windows and answers 429 with ``Retry-After`` written as an integer
("1"), a decimal ("2.128", the throttling doc's own sample) or not at all (OneNote). It also has 503/504 bursts, slow
answers, dropped connections and short bodies. Every one of those is a knob here, so a client's retry and resume logic
can be tested against each failure mode deterministically. Limits default to graph.md §2.1; ``ThrottleConfig.off()``
switches throttling off entirely (benchmarks, bulk demos).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

RetryAfterStyle = Literal["integer", "decimal", "absent"]
FaultKind = Literal["none", "throttle", "error", "slow", "reset", "truncate"]

# Route families: each Graph route belongs to one service-limit family.
TEAMS_MESSAGES = "teams.messages"
TEAMS_CHANNELS = "teams.channels"
EDUCATION = "education"
ASSIGNMENTS = "assignments"
ONENOTE = "onenote"
REPORTS_JSON = "reports.json"
AUDIT = "audit"
FAMILIES = (TEAMS_MESSAGES, TEAMS_CHANNELS, EDUCATION, ASSIGNMENTS, ONENOTE, REPORTS_JSON, AUDIT)


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``requests`` per ``per_seconds`` window, and how the 429 tells the client when to come back."""

    requests: int
    per_seconds: float
    retry_after: RetryAfterStyle = "integer"


@dataclass(frozen=True, slots=True)
class ThrottleConfig:
    """Per-service limits (graph.md §2.1): per app per tenant, plus Teams' per team/channel cap."""

    enabled: bool = True
    teams_messages: Limit = Limit(20, 1.0)  # "GET channel message | 20 rps" per app per tenant
    teams_per_channel: Limit = Limit(4, 1.0)  # "4 requests per second per app ... on a given team or channel"
    teams_channels: Limit = Limit(60, 1.0)  # "GET /teams/{team-id}/channels | 60 rps"
    assignments: Limit = Limit(500, 10.0, "decimal")  # Assignment service, older table
    education: Limit = Limit(35_000, 10.0)  # Education rostering, per app per tenant
    onenote: Limit = Limit(120, 60.0, "absent")  # delegated, per app per user; OneNote sends no Retry-After
    reports_json: Limit = Limit(100, 600.0)  # "Any request (JSON, beta) | 100 requests per 10 minutes"
    audit: Limit = Limit(600, 60.0)  # audit query limits are UNCONFIRMED; generous

    @classmethod
    def off(cls) -> ThrottleConfig:
        return cls(enabled=False)

    def limit_for(self, family: str) -> Limit | None:
        return {
            TEAMS_MESSAGES: self.teams_messages,
            TEAMS_CHANNELS: self.teams_channels,
            EDUCATION: self.education,
            ASSIGNMENTS: self.assignments,
            ONENOTE: self.onenote,
            REPORTS_JSON: self.reports_json,
            AUDIT: self.audit,
        }.get(family)


@dataclass(frozen=True, slots=True)
class Faults:
    """Deterministic fault injection, counted per route family (the n-th request of a family, 1-based).

    ``*_every = 0`` disables a fault. ``families`` limits injection to some families (empty: all of them).
    Resets and truncated bodies are transport faults and never happen inside a ``$batch`` item.
    """

    throttle_every: int = 0  # every n-th request answers 429
    retry_after_forms: tuple[str | None, ...] = ("1", "2.128", None)  # cycled over forced 429s; None = no header
    error_every: int = 0  # the last ``error_burst`` requests of every n answer 503/504
    error_burst: int = 2
    error_statuses: tuple[int, ...] = (503, 504)
    slow_every: int = 0  # every n-th request is delayed by ``slow_seconds``
    slow_seconds: float = 0.2
    reset_every: int = 0  # every n-th request: the connection is closed without an answer
    truncate_every: int = 0  # every n-th request: Content-Length promises more than is sent, then close
    empty_page_every: int = 0  # every n-th page of a paged list is empty but carries a nextLink
    families: frozenset[str] = field(default_factory=frozenset)

    def applies_to(self, family: str) -> bool:
        return not self.families or family in self.families


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: FaultKind = "none"
    status: int = 200
    retry_after: str | None = None  # header value, None = header absent
    delay: float = 0.0


ALLOW = Verdict()


@dataclass(slots=True)
class _Window:
    started: float
    count: int


class RateLimiter:
    """Fixed-window counters keyed by (family, app, scope); the window restarts when it has elapsed."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._windows: dict[tuple[str, ...], _Window] = {}

    def hit(self, key: tuple[str, ...], limit: Limit) -> float | None:
        """Count one request; None if allowed, else the seconds until the window reopens."""
        now = self._monotonic()
        window = self._windows.get(key)
        if window is None or now - window.started >= limit.per_seconds:
            if len(self._windows) > 100_000:  # bounded memory for long runs: drop every stale window
                self._windows = {k: w for k, w in self._windows.items() if now - w.started < limit.per_seconds}
            self._windows[key] = _Window(now, 1)
            return None
        if window.count >= limit.requests:
            return max(0.001, limit.per_seconds - (now - window.started))
        window.count += 1
        return None


def format_retry_after(seconds: float, style: RetryAfterStyle) -> str | None:
    if style == "absent":
        return None
    if style == "decimal":
        return f"{seconds:.3f}"
    return str(max(1, math.ceil(seconds)))


class Throttler:
    """Decides, per request, between serving it, a 429, a 5xx, a delay or a transport fault; counts everything."""

    def __init__(
        self,
        config: ThrottleConfig | None = None,
        faults: Faults | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or ThrottleConfig()
        self.faults = faults or Faults()
        self._limiter = RateLimiter(monotonic)
        self._family_counts: Counter[str] = Counter()
        self._forced_429s = 0
        self._page_counts: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()  # per route name
        self.throttled: Counter[str] = Counter()  # 429s per route name
        self.failed: Counter[str] = Counter()  # 5xx / resets / truncations per route name

    def decide(
        self,
        family: str,
        route: str,
        *,
        app_id: str,
        user_id: str | None = None,
        scope: tuple[str, ...] = (),
        transport_faults: bool = True,
    ) -> Verdict:
        self.requests[route] += 1
        verdict = self._fault(family, transport_faults) or self._limit(family, app_id, user_id, scope) or ALLOW
        if verdict.kind == "throttle":
            self.throttled[route] += 1
        elif verdict.kind in ("error", "reset", "truncate"):
            self.failed[route] += 1
        return verdict

    def empty_page(self, family: str) -> bool:
        """True when this page should be served empty (with a nextLink), as Teams sometimes does."""
        every = self.faults.empty_page_every
        if not every or not self.faults.applies_to(family):
            return False
        self._page_counts[family] += 1
        return self._page_counts[family] % every == 0

    def stats(self) -> dict[str, dict[str, int]]:
        return {"requests": dict(self.requests), "throttled": dict(self.throttled), "failed": dict(self.failed)}

    def _fault(self, family: str, transport_faults: bool) -> Verdict | None:
        f = self.faults
        if not f.applies_to(family):
            return None
        self._family_counts[family] += 1
        n = self._family_counts[family]
        if transport_faults and f.reset_every and n % f.reset_every == 0:
            return Verdict("reset", 0)
        if transport_faults and f.truncate_every and n % f.truncate_every == 0:
            return Verdict("truncate", 200)
        if f.error_every and (n - 1) % f.error_every >= f.error_every - f.error_burst:
            statuses = f.error_statuses or (503,)
            return Verdict("error", statuses[(n - 1) % len(statuses)])
        if f.throttle_every and n % f.throttle_every == 0:
            forms = f.retry_after_forms or (None,)
            form = forms[self._forced_429s % len(forms)]
            self._forced_429s += 1
            return Verdict("throttle", 429, form)
        if f.slow_every and n % f.slow_every == 0:
            return Verdict("slow", 200, delay=f.slow_seconds)
        return None

    def _limit(self, family: str, app_id: str, user_id: str | None, scope: tuple[str, ...]) -> Verdict | None:
        if not self.config.enabled:
            return None
        limit = self.config.limit_for(family)
        if limit is None:
            return None
        who = (family, app_id, user_id or "") if family == ONENOTE else (family, app_id)
        wait = self._limiter.hit(who, limit)
        if wait is None and family == TEAMS_MESSAGES and scope:
            wait = self._limiter.hit((family + ".channel", app_id, *scope), self.config.teams_per_channel)
            limit = self.config.teams_per_channel
        if wait is None:
            return None
        return Verdict("throttle", 429, format_retry_after(wait, limit.retry_after))
