"""Bar charts made of ColumnSets, so they render in every Teams client without an image.

A bar is a ColumnSet whose filled column's width weight is the share (0-100) and whose empty column takes the rest;
the number and its words stand next to the bar, so the bar only repeats what the text already says.
"""

from __future__ import annotations

from cards import elements as el

BAR_HEIGHT = "14px"


def bar(share: float) -> el.Element:
    """A horizontal bar filled to ``share`` (0..1)."""
    pct = max(0, min(100, round(share * 100)))
    cols = []
    if pct > 0:
        cols.append(el.column([], pct, style="accent", minHeight=BAR_HEIGHT, spacing="None"))
    if pct < 100:
        cols.append(el.column([], 100 - pct, style="emphasis", minHeight=BAR_HEIGHT, spacing="None"))
    return el.columns(cols, spacing="None")


def bar_row(
    label: str, share: float | None, value_words: str, *, label_width: str = "80px", value_width: str = "60px"
) -> el.Element:
    """``label | ████░░░ | value_words``; with ``share`` None (suppressed) there is no bar, only the words.

    Label and value columns have fixed widths so the bars of one chart start and end at the same place.
    """
    label_col = el.column([el.text(label)], label_width, verticalContentAlignment="Center")
    if share is None:
        words = el.column([el.text(value_words, isSubtle=True)], "stretch", verticalContentAlignment="Center")
        return el.columns([label_col, words], spacing="Small")
    return el.columns(
        [
            label_col,
            el.column([bar(share)], "stretch", verticalContentAlignment="Center"),
            el.column(
                [el.text(value_words, horizontalAlignment="Right")], value_width, verticalContentAlignment="Center"
            ),
        ],
        spacing="Small",
    )
