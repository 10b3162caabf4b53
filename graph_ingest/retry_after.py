"""Reading Retry-After in every form Graph and Teams send.

Seen in the wild: an integer ("10"), a decimal ("2.128", the throttling doc's own sample, which the
SDK's retry handler fails to parse), an HTTP-date, and no header at all (OneNote). A missing or
unparseable value returns None so the caller falls back to exponential backoff with jitter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_WAIT = 120.0  # never sleep longer than this on the server's word


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_WAIT)
