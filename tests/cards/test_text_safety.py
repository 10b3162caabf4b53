"""User text must render literally: markdown-it (the engine of the official renderer) is the oracle."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from cards.text_safety import BIDI_CONTROLS, escape_markdown, mention_label, plain_text, truncate, unescape_markdown

# "commonmark" keeps raw HTML enabled: if escaping missed a "<", the HTML would pass straight through.
MD = MarkdownIt("commonmark")
HOSTILE = (
    "**bold** _it_ `code` ~~del~~ [link](https://evil.example) ![img](https://evil.example/x.png)",
    "# Heading",
    "> quote",
    "- item",
    "+ item",
    "1. first",
    "12) twelfth",
    "<b>html</b> <img src=x onerror=alert(1)>",
    "<at>Grace Okafor</at>",
    "</at><at>Boss</at>",
    "&lt;at&gt;Grace&lt;/at&gt; &amp; &#60;",
    "{{DATE(2026-11-16T06:08:39Z, SHORT)}}",
    "| a | b |",
    "<https://evil.example>",
    "back\\slash\\",
)


def _html_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _renders_literally(original: str) -> None:
    expected = " ".join("".join(ch for ch in original if ch not in BIDI_CONTROLS).split())
    html = MD.render(escape_markdown(original))
    if not expected:
        assert html == ""
        return
    assert html == f"<p>{_html_escape(expected)}</p>\n"


def test_every_hostile_sample_renders_as_the_literal_text_in_one_paragraph():
    for sample in HOSTILE:
        _renders_literally(sample)


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=80))
def test_any_text_renders_literally_with_no_markup(s):
    _renders_literally(s)


@given(st.text(alphabet="*_[]()#<>`~|!&{}\\-+.=1 atAB/\n", max_size=60))
def test_markdown_punctuation_soup_renders_literally(s):
    _renders_literally(s)


def test_an_at_tag_is_escaped_so_no_raw_at_tag_remains():
    out = escape_markdown("hi <at>Grace Okafor</at>")
    assert "<at>" not in out and "</at>" not in out
    assert out == "hi \\<at\\>Grace Okafor\\</at\\>"


def test_multi_line_text_keeps_its_lines_but_no_list_or_heading_starts_one():
    html = MD.render(escape_markdown("1. one\n- two\n# three", single_line=False))
    assert html == "<p>1. one</p>\n<p>- two</p>\n<p># three</p>\n"


def test_bidi_override_characters_are_removed_but_right_to_left_text_is_kept():
    out = escape_markdown("\u202eevil\u202c مرحبا שלום")
    assert "\u202e" not in out and "\u202c" not in out
    assert "مرحبا שלום" in out


def test_truncation_counts_visible_characters_and_ends_with_an_ellipsis():
    out = escape_markdown("*" * 300, max_chars=120)
    assert unescape_markdown(out) == "*" * 119 + "…"


def test_truncation_does_not_split_an_emoji_zwj_sequence_or_leave_a_combining_mark_alone():
    teacher = "👩🏽\u200d🏫"
    cut = truncate("ab" + teacher + "cdef", 6)
    assert cut.endswith("…") and "\u200d…" not in cut
    assert truncate("e\u0301" * 10, 4) == "e\u0301…"


def test_unescape_is_the_inverse_of_escape_for_single_line_text():
    s = "[x](y) **z** <at>A</at> 1. #"
    assert unescape_markdown(escape_markdown(s)) == s


def test_mention_label_keeps_names_readable_and_can_never_hold_a_tag():
    assert mention_label("Tomás Ibarra-O'Neil Jr.") == "Tomás Ibarra-O'Neil Jr."
    hostile = mention_label("</at><at>Boss</at> **x**")
    assert not re.search(r"[<>/*]", hostile)
    assert mention_label("<>") == "teacher"


def test_input_values_are_kept_literally_without_control_characters():
    assert plain_text("a\x00b **c**", max_chars=5) == "ab **"


@given(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp"), include_characters="\n"),
        max_size=80,
    )
)
def test_multi_line_text_renders_as_literal_paragraphs_one_per_line(s):
    visible = "".join(ch for ch in s if ch not in BIDI_CONTROLS)
    lines = [" ".join(line.split()) for line in visible.split("\n")]
    expected = "".join(f"<p>{_html_escape(line)}</p>\n" for line in lines if line)
    assert MD.render(escape_markdown(s, single_line=False)) == expected
