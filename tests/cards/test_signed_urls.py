from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cards.signed_urls import sign_path, signed_url, verify_signed_path

KEY = b"k" * 32
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PATH = "/cards/img/sparkline/alg1-p3/fa_reach.png"


def test_a_signed_path_verifies_until_it_expires():
    signed = sign_path(KEY, PATH, NOW + timedelta(minutes=10))
    assert verify_signed_path(KEY, signed, NOW) == PATH
    assert verify_signed_path(KEY, signed, NOW + timedelta(minutes=10)) is None


def test_a_changed_path_expiry_or_key_does_not_verify():
    signed = sign_path(KEY, PATH, NOW + timedelta(minutes=10))
    assert verify_signed_path(KEY, signed.replace("alg1-p3", "alg1-p4"), NOW) is None
    later = str(int((NOW + timedelta(days=9)).timestamp()))
    exp = signed.split("exp=")[1].split("&")[0]
    assert verify_signed_path(KEY, signed.replace(exp, later), NOW) is None
    assert verify_signed_path(b"other key", signed, NOW) is None
    assert verify_signed_path(KEY, PATH, NOW) is None
    assert verify_signed_path(KEY, signed + "&sig=00", NOW) is None


def test_signed_urls_are_https_and_times_must_be_aware():
    assert signed_url("https://app.example.org/", KEY, PATH, NOW).startswith("https://app.example.org/cards/img/")
    with pytest.raises(ValueError, match="HTTPS"):
        signed_url("http://app.example.org", KEY, PATH, NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        sign_path(KEY, PATH, datetime(2026, 11, 20))
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_signed_path(KEY, sign_path(KEY, PATH, NOW), datetime(2026, 11, 20))
