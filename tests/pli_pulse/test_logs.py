"""Secrets never reach a log line, whatever path they take into it."""

import io
import json
import logging

import pytest

from pli_pulse.cli import main
from pli_pulse.logs import configure_logging

CLIENT_SECRET = "Qx8~client-secret-value.NotForLogs"
BOT_PASSWORD = "bot-app-password-9f8e7d"
PSEUDONYM_KEY = "ab" * 32
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZWFjaGVyIiwiYXVkIjoiZ3JhcGgifQ.c2lnbmF0dXJlLWJ5dGVz"


@pytest.fixture
def captured():
    stream = io.StringIO()
    configure_logging("DEBUG", "json", secrets=[CLIENT_SECRET, BOT_PASSWORD, PSEUDONYM_KEY], stream=stream)
    yield stream
    configure_logging("WARNING", "text")


def assert_clean(text):
    for secret in (CLIENT_SECRET, BOT_PASSWORD, PSEUDONYM_KEY, TOKEN):
        assert secret not in text
    assert "[REDACTED]" in text


def test_secrets_in_messages_arguments_extras_and_exceptions_are_redacted(captured):
    log = logging.getLogger("pli_pulse.test")
    log.info("token request with client_secret=%s", CLIENT_SECRET)
    log.warning("calling Graph", extra={"authorization": f"Bearer {TOKEN}"})
    try:
        raise RuntimeError(f"bot login failed for password {BOT_PASSWORD} and key {PSEUDONYM_KEY}")
    except RuntimeError:
        log.exception("connector call failed")
    logging.getLogger("azure.identity").error("AADSTS7000215 for secret %s", CLIENT_SECRET)
    text = captured.getvalue()
    assert_clean(text)
    assert len(text.strip().splitlines()) == 4


def test_token_shaped_strings_are_redacted_even_when_not_registered(captured):
    logging.getLogger("pli_pulse.test").info("got %s", f"Authorization: Bearer {TOKEN}")
    assert_clean(captured.getvalue())


def test_json_lines_are_valid_json_with_the_extra_fields(captured):
    logging.getLogger("pli_pulse.ingest").info("page stored", extra={"source": "teams", "events": 42})
    record = json.loads(captured.getvalue().strip())
    assert record["msg"] == "page stored"
    assert record["source"] == "teams" and record["events"] == 42
    assert record["level"] == "info"


def test_the_cli_never_logs_or_prints_configured_secrets(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLI_GRAPH_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("PLI_BOT_APP_PASSWORD", BOT_PASSWORD)
    monkeypatch.setenv("PLI_PRIVACY_PSEUDONYM_KEY", PSEUDONYM_KEY)
    monkeypatch.setenv("PLI_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite3'}")
    monkeypatch.setenv("PLI_LOGGING_LEVEL", "DEBUG")
    for argv in (["config"], ["db", "upgrade"], ["doctor", "--offline"], ["forget", "--user", "someone"]):
        main(["--log-format", "json", *argv])
    out = capsys.readouterr()
    text = out.out + out.err
    for secret in (CLIENT_SECRET, BOT_PASSWORD, PSEUDONYM_KEY):
        assert secret not in text


def test_a_database_password_never_appears_when_the_database_cannot_be_reached(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLI_DATABASE_URL", "postgresql+psycopg://pli:db-pass-6a5b4c@127.0.0.1:1/pli")
    monkeypatch.setenv("PLI_PRIVACY_PSEUDONYM_KEY", PSEUDONYM_KEY)
    assert main(["--log-format", "json", "doctor", "--offline"]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert "cannot connect" in text
    assert "db-pass-6a5b4c" not in text
    assert PSEUDONYM_KEY not in text
