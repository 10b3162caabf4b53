"""Short-lived signed paths for images the app serves to Teams (e.g. a class's trend sparkline).

Teams fetches card images without our auth headers, so the URL itself is the credential: an HMAC-SHA-256 over the
path and its expiry time. Anyone holding the URL can fetch that one image until it expires, and no other.
Pure functions: the caller passes the key and "now".
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from urllib.parse import parse_qs, quote, urlsplit

_DOMAIN = b"pli-pulse/card-image/v1\n"  # domain separation from every other use of the deployment secret


def _signature(key: bytes, path: str, expires: int) -> str:
    msg = _DOMAIN + path.encode("utf-8") + b"\n" + str(expires).encode("ascii")
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def sign_path(key: bytes, path: str, expires_at: datetime) -> str:
    """``/cards/img/x.png`` -> ``/cards/img/x.png?exp=1764000000&sig=<hex>``."""
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware")
    if not path.startswith("/") or "?" in path or "#" in path:
        raise ValueError(f"sign an absolute path without query or fragment, not {path!r}")
    if not key:
        raise ValueError("the signing key is empty")
    expires = int(expires_at.timestamp())
    return f"{quote(path, safe='/-._~')}?exp={expires}&sig={_signature(key, quote(path, safe='/-._~'), expires)}"


def signed_url(base_url: str, key: bytes, path: str, expires_at: datetime) -> str:
    """The absolute HTTPS URL a card's Image points at."""
    if not base_url.startswith("https://"):
        raise ValueError("card images must be served over HTTPS (Teams does not fetch http:// images)")
    return base_url.rstrip("/") + sign_path(key, path, expires_at)


def verify_signed_path(key: bytes, path_and_query: str, now: datetime) -> str | None:
    """The path if the signature is right and not expired, else None (the server answers 403 or 404)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    parts = urlsplit(path_and_query)
    query = parse_qs(parts.query, keep_blank_values=True)
    exp_values, sig_values = query.get("exp", []), query.get("sig", [])
    if len(exp_values) != 1 or len(sig_values) != 1 or not exp_values[0].isdigit() or not key:
        return None
    expires = int(exp_values[0])
    expected = _signature(key, parts.path, expires)
    if not hmac.compare_digest(expected, sig_values[0]):
        return None
    if now.timestamp() >= expires:
        return None
    return parts.path
