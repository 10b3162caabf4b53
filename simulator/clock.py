"""Simulated "now" of the district tenant.

The generator decides a whole term of activity up front; the servers reveal it as the clock moves. An object whose
timestamp is after ``now`` does not exist yet, so advancing the clock is how new posts, submissions and reactions
"happen" and how delta queries come to return only what changed.
"""

from __future__ import annotations

from datetime import UTC, datetime


class ClockError(ValueError):
    """The requested time is unusable (naive, or before the current simulated time)."""


class SimClock:
    """A monotonic simulated clock; only moves forward so saved delta tokens stay meaningful."""

    __slots__ = ("_now",)

    def __init__(self, now: datetime) -> None:
        self._now = _aware(now)

    @property
    def now(self) -> datetime:
        return self._now

    def advance_to(self, when: datetime) -> datetime:
        when = _aware(when)
        if when < self._now:
            raise ClockError(
                f"the simulated clock only moves forward: it is {self._now.isoformat()}, asked for {when.isoformat()}; "
                "start a new tenant to go back in time"
            )
        self._now = when
        return self._now


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant as Graph writes it (``Z`` suffix, up to 7 fractional digits)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    head, sep, tail = value.partition(".")
    if sep:  # Python accepts at most 6 fractional digits; Graph sends 7
        digits = len(tail) - len(tail.lstrip("0123456789"))
        frac, rest = tail[:digits], tail[digits:]
        value = f"{head}.{frac[:6].ljust(6, '0')}{rest}" if frac else head + rest
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ClockError(f"not an ISO 8601 date-time: {text!r}") from exc
    return _aware(parsed)


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ClockError(f"naive date-time {when.isoformat()} given; include a UTC offset such as 'Z'")
    return when.astimezone(UTC)
