"""The simulated connector's transcript: one JSON line per request the bot made, in arrival order.

The demo writes it as ``demo-out/connector-log.jsonl`` and the card gallery is rendered from it, so a
line carries the activity exactly as the bot sent it and the status the connector answered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO


@dataclass(frozen=True, slots=True)
class LogEntry:
    timestamp: datetime  # timezone-aware UTC, when the connector answered
    method: str
    path: str
    conversation_id: str | None
    reply_to_id: str | None  # the replyToId in the path, or the activity's own replyToId
    activity_id: str | None  # the id the connector assigned (POST) or the one updated (PUT)
    activity: dict[str, Any] | None  # the activity as received; None for GETs and unparseable bodies
    status: int

    def to_json(self) -> str:
        # Not dataclasses.asdict: it deep-copies the activity, which was most of the connector's time per call.
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        record["timestamp"] = self.timestamp.isoformat()
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> LogEntry:
        record = json.loads(line)
        timestamp = datetime.fromisoformat(record.pop("timestamp"))
        if timestamp.tzinfo is None:
            raise ValueError(
                f"Log line has a naive timestamp {timestamp.isoformat()}; it was not written by this module"
            )
        return cls(timestamp=timestamp, **record)

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


class ConnectorLog:
    """Appends entries to a JSON-lines file, flushed line by line so a crash loses at most one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO | None = path.open("a", encoding="utf-8")

    def append(self, entry: LogEntry) -> None:
        if self._file is None:
            raise RuntimeError(f"Connector log {self.path} is closed; start a new connector to record more")
        self._file.write(entry.to_json() + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def iter_log(path: Path | str) -> Iterator[LogEntry]:
    with Path(path).open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield LogEntry.from_json(line)


def read_log(path: Path | str) -> list[LogEntry]:
    return list(iter_log(path))


def posted_activities(entries: list[LogEntry]) -> list[dict[str, Any]]:
    """The activities the connector accepted, in order: what a Teams user would have seen."""
    return [e.activity for e in entries if e.accepted and e.activity is not None]
