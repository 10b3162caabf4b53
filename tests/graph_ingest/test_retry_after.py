"""Retry-After is read in every form seen in the wild; anything else means 'back off yourself'."""

from datetime import UTC, datetime

import pytest

from graph_ingest.retry_after import MAX_WAIT, parse_retry_after

NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("10", 10.0),
        ("2.128", 2.128),  # the throttling doc's own sample, which the SDK cannot parse
        (" 3 ", 3.0),
        ("Tue, 24 Nov 2026 12:00:05 GMT", 5.0),
        ("Tue, 24 Nov 2026 11:59:00 GMT", 0.0),  # a date in the past: retry now
        ("0", 0.0),
        ("-4", 0.0),
        ("100000", MAX_WAIT),
    ],
)
def test_retry_after_values_become_seconds(value, seconds):
    assert parse_retry_after(value, NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("value", [None, "", "soon", "30,120", "nan"])
def test_missing_or_unreadable_retry_after_means_back_off_yourself(value):
    assert parse_retry_after(value, NOW) is None
