"""Structured logging with secrets scrubbed at the last possible moment.

Every handler gets the redaction filter, so a secret that slips into a message, an argument, an
exception or a third-party library's log line is replaced before it is written anywhere.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime

import orjson

REDACTED = "[REDACTED]"
# Bearer tokens, JWTs and client_secret=... form fields, whatever their origin.
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*"),
    re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"),
    re.compile(
        r"(?i)((?:client_secret|password|assertion|refresh_token|access_token)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',}]+"
    ),
]
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class SecretRedactor(logging.Filter):
    """Replaces known secret values and token-shaped strings in every record."""

    def __init__(self, secrets: list[str] | None = None):
        super().__init__()
        self._secrets: set[str] = set()
        for s in secrets or []:
            self.add(s)

    def add(self, secret: str) -> None:
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def scrub(self, text: str) -> str:
        for s in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(s, REDACTED)
        for pat in _PATTERNS:
            text = pat.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.scrub(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.scrub(value))
        return True


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, plus any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_text:
            out["exc"] = record.exc_text
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
        )
        line = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extras:
            line += f"  [{extras}]"
        if record.exc_text:
            line += "\n" + record.exc_text
        return line


_redactor = SecretRedactor()


def redactor() -> SecretRedactor:
    return _redactor


def configure_logging(level: str = "INFO", fmt: str = "text", secrets: list[str] | None = None, stream=None) -> None:
    """Install one handler on the root logger; safe to call again (tests, CLI re-entry)."""
    for s in secrets or []:
        _redactor.add(s)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLinesFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_redactor)
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_pli_pulse", False):
            root.removeHandler(h)
    handler._pli_pulse = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("azure", "httpx", "httpcore", "msal", "urllib3", "hpack", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
