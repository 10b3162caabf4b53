"""Keyed, domain-separated pseudonyms for people.

Student identifiers are stored only as HMAC-SHA-256 of the AAD object id under a per-deployment key.
The same id always maps to the same pseudonym (so a rerun of the ingest joins up), different purposes
never collide (a student pseudonym cannot be matched against a UPN pseudonym), and no lookup table
exists that could turn a pseudonym back into a person.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from enum import StrEnum
from pathlib import Path

KEY_BYTES = 32


class Purpose(StrEnum):
    """Domain separation: one label per kind of identifier that is pseudonymised."""

    STUDENT = "student"  # AAD object id of a student
    UPN = "upn"  # user principal name seen in Forms reports and audit records
    EXPORT = "export"  # ids in analyst exports, so exports cannot be joined to the store


class Pseudonymizer:
    """HMAC-SHA-256 under one deployment key. Holds the key; never prints it."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes):
        if len(key) < 16:
            raise ValueError("the pseudonym key must be at least 16 bytes")
        self._key = key

    def __repr__(self) -> str:  # the key must not leak through a repr in a log or traceback
        return "Pseudonymizer(key=***)"

    def pseudonym(self, purpose: Purpose, value: str) -> str:
        """Hex digest of HMAC(key, purpose || 0x00 || value). Case of GUIDs and UPNs is normalised."""
        msg = purpose.value.encode() + b"\x00" + value.strip().lower().encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def student(self, aad_object_id: str) -> str:
        return self.pseudonym(Purpose.STUDENT, aad_object_id)

    def upn(self, user_principal_name: str) -> str:
        return self.pseudonym(Purpose.UPN, user_principal_name)


def key_from_text(text: str) -> bytes:
    """A configured key: hex is decoded, anything else is taken as UTF-8 bytes."""
    text = text.strip()
    try:
        raw = bytes.fromhex(text)
        if len(raw) >= 16:
            return raw
    except ValueError:
        pass
    return text.encode()


def load_or_create_key_file(path: Path) -> bytes:
    """Read the deployment key, creating it once with mode 0600 if it does not exist yet.

    The key is written completely to a private temporary file first and then hard-linked into place:
    ``link`` fails if the name exists, so two processes starting together end up with the same key and
    neither can ever read a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(KEY_BYTES) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race; use its key
        finally:
            tmp.unlink()
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def pseudonymizer_from_settings(settings) -> Pseudonymizer:
    if settings.privacy_pseudonym_key is not None and settings.privacy_pseudonym_key.get_secret_value():
        return Pseudonymizer(key_from_text(settings.privacy_pseudonym_key.get_secret_value()))
    return Pseudonymizer(load_or_create_key_file(settings.privacy_pseudonym_key_file))
