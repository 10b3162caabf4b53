"""Graph failures grouped by what to do about them: retry, skip the scope, or stop the run."""

from __future__ import annotations


class IngestError(Exception):
    """Base class. ``user_message`` is what an admin reads: what happened and what to do."""

    user_message = "The ingest failed."


class Retriable(IngestError):
    """Worth trying again after a wait: throttling, 5xx, dropped connections, truncated bodies."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.status = status
        self.retry_after = retry_after


class Skippable(IngestError):
    """This one scope cannot be read (a deleted team, a channel we may not see); the run goes on."""


class Fatal(IngestError):
    """Nothing will work until someone changes something: credentials, consent, permissions."""

    def __init__(self, reason: str, user_message: str):
        super().__init__(reason)
        self.user_message = user_message


class DelegatedTokenRequired(Fatal):
    """OneNote no longer accepts app-only tokens (graph.md §1d)."""

    def __init__(self, reason: str = "OneNote refused an app-only token"):
        super().__init__(
            reason,
            "OneNote class notebooks can only be read with a teacher's delegated sign-in since March 2025. "
            "Ask a teacher to open the PLI Pulse tab and sign in, then run the ingest again; "
            "the other sources were collected normally.",
        )
