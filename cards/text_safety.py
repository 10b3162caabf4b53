"""Make user-supplied text inert inside Adaptive Card markdown.

Class names, teacher names, exemplar titles and search queries are typed by people, and Teams renders TextBlock
and Fact text as markdown. Unescaped, ``**`` would restyle a card, ``[x](https://...)`` would plant a link, ``# `` a
heading, ``{{DATE(...)}}`` a date function, and ``<at>Name</at>`` could turn into a mention that notifies someone.
Every builder passes every user-supplied display string through :func:`escape_markdown`; mentions come only from a
builder's own entity list (see :func:`mention_label`).

Escaping uses CommonMark backslash escapes, so the reader sees exactly what was typed. markdown-it (used by the
official JS renderer, and by our tests as an oracle) honours them; that the Teams clients do too is an assumption
(Teams documents a CommonMark subset) we could not check offline.
"""

from __future__ import annotations

import re
import unicodedata

#: ASCII punctuation that can open or close emphasis, code, a link, an image, HTML, an entity, a table cell, a
#: heading, a quote, a mention or a ``{{DATE()}}`` function, wherever it stands. List markers (``-`` ``+`` ``1.``)
#: only matter at the start of a line and are escaped there, so ordinary text such as "Dr. Kim" stays readable.
_ALWAYS_ESCAPED = frozenset("\\`*_[](){}#<>~|!&")
#: Bidi overrides and isolates are stripped: in a channel they can make one name read as another (Trojan Source).
#: Natural right-to-left text needs none of them; the Unicode bidi algorithm lays it out.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ORDERED_MARKER = re.compile(r"^(\s*\d+)([.)])")
_BULLET_MARKER = re.compile(r"^(\s*)([-+*=])")
ELLIPSIS = "…"


def _clean(text: str) -> str:
    # No Unicode normalisation: NFC would change what was typed (e.g. CJK compatibility ideographs).
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for ch in text:
        if ch in BIDI_CONTROLS:
            continue
        category = unicodedata.category(ch)
        if ch in "\n\t":
            out.append(ch)
        elif category == "Cc" or category == "Cs":  # control characters, lone surrogates
            continue
        else:
            out.append(ch)
    return "".join(out)


def truncate(text: str, max_chars: int) -> str:
    """Cut at a grapheme-safe-enough boundary (never inside a surrogate pair or before a combining mark)."""
    if len(text) <= max_chars:
        return text
    cut = max_chars - 1
    while cut > 0 and unicodedata.combining(text[cut]):
        cut -= 1
    # Do not leave a zero-width joiner or variation selector dangling at the end of an emoji sequence.
    while cut > 0 and text[cut - 1] in "\u200d\ufe0f":
        cut -= 1
    return text[:cut].rstrip() + ELLIPSIS


def escape_markdown(text: str, *, single_line: bool = True, max_chars: int | None = None) -> str:
    """Return ``text`` so that Adaptive Card markdown shows it literally.

    ``single_line`` folds newlines and runs of whitespace to one space (titles, names); otherwise each line keeps
    its break and is escaped on its own, so a line that begins ``1.`` or ``- `` cannot become a list.
    ``max_chars`` bounds the visible length before escaping, ending in an ellipsis.
    """
    text = _clean(text)
    text = " ".join(text.split()) if single_line else "\n".join(" ".join(line.split()) for line in text.split("\n"))
    if max_chars is not None:
        text = truncate(text, max_chars)
    return "\n\n".join(_escape_line(line) for line in text.split("\n")) if not single_line else _escape_line(text)


def _escape_line(line: str) -> str:
    out = []
    for ch in line:
        out.append("\\" + ch if ch in _ALWAYS_ESCAPED else ch)
    escaped = "".join(out)
    # Line-start markers that are not in the always-escaped set: "1. ", "1) ", "- ", "+ ", "= ".
    escaped = _ORDERED_MARKER.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped, count=1)
    escaped = _BULLET_MARKER.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped, count=1)
    return escaped


def unescape_markdown(escaped: str) -> str:
    """Inverse of the backslash escaping (for tests and logs): drop one backslash before ASCII punctuation."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", escaped)


def mention_label(name: str) -> str:
    """The text between ``<at>`` and ``</at>`` for a builder-made mention of a known teacher.

    Kept to letters, digits, marks, spaces and ``.'-`` so the label needs no escaping, matches the entity text
    byte for byte, and cannot open or close another tag.
    """
    kept = []
    for ch in _clean(name):
        cat = unicodedata.category(ch)
        kept.append(ch if cat[0] in "LMN" or ch in ".'-" else " ")
    label = " ".join("".join(kept).split())
    return truncate(label, 64) if label else "teacher"


def plain_text(text: str, *, max_chars: int) -> str:
    """Text for places Teams shows literally (an Input.Text value echoed back, an image's altText, a tooltip).

    No markdown is applied there, so escaping would show visible backslashes (and read them aloud); only control
    and bidi-override characters are removed and the length bounded.
    """
    return _clean(text)[:max_chars]
