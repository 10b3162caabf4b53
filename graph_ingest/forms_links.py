"""Recognising Microsoft Forms links, in assignment resources and in channel posts.

Graph has no Forms resource type (graph.md §1b), so a Forms quiz is recognised by its URL on the
Forms hosts. The post body is searched in memory and dropped; only the form id is kept.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlparse

FORMS_HOSTS = ("forms.office.com", "forms.microsoft.com", "forms.office365.us")
_LINK = re.compile(r"https://(?:[a-z0-9-]+\.)?forms\.(?:office|microsoft|office365)\.(?:com|us)/[^\s\"'<>]+", re.I)


def form_id_from_url(url: str | None) -> str | None:
    """The form id of a Forms response or design link, or None if the URL is not a Forms link."""
    if not url:
        return None
    parsed = urlparse(unquote(url.replace("&amp;", "&")))
    host = (parsed.hostname or "").lower()
    if not any(host == h or host.endswith("." + h) for h in FORMS_HOSTS):
        return None
    ids = parse_qs(parsed.query).get("id") or parse_qs(parsed.query).get("FormId")
    if ids:
        return ids[0]
    # Short or path-style links (/r/<token>, /e/<token>) carry the token in the path.
    tail = [p for p in parsed.path.split("/") if p]
    return tail[-1] if len(tail) >= 2 and tail[-2] in {"r", "e"} else None


def form_ids_in_text(text: str | None) -> list[str]:
    if not text or "forms." not in text.lower():
        return []
    found = []
    for match in _LINK.finditer(text):
        fid = form_id_from_url(match.group(0))
        if fid and fid not in found:
            found.append(fid)
    return found
