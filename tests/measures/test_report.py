"""measures.json, the terminal table and CSV show suppressed figures as reasons, never as numbers."""

from __future__ import annotations

import io
from datetime import date

import orjson
import pandas as pd

from measures.periods import parse_period
from measures.report import measures_json, render_table, to_csv
from measures.results import compute_results
from tests.measures.world import AS_OF, CALENDAR, World, at


def _results(min_n=10) -> pd.DataFrame:
    w = World()
    for cid, n in (("A", 12), ("B", 15), ("C", 5)):
        s = w.klass(cid, n)
        for student in s[:3]:
            w.event(cid, "forms", "form_response", student, at(date(2026, 11, 3)))
    periods = [parse_period(p, CALENDAR, AS_OF) for p in ("2026-W45", "term")]
    return compute_results(w.frames(), CALENDAR, periods, as_of=AS_OF, min_n=min_n)


def test_measures_json_has_every_period_scope_and_figure_with_n_or_reason():
    doc = measures_json(_results(), min_n=10, as_of="2026-12-18")
    orjson.dumps(doc)  # serialisable as is
    assert set(doc["periods"]) == {"2026-W45", "term"}
    week = doc["periods"]["2026-W45"]
    assert set(week) >= {"class", "community", "school", "district", "teacher"}
    assert week["class"]["B"]["fa_reach"] == {"value": 0.2, "n": 15}
    assert week["class"]["C"]["fa_reach"] == {"suppressed": "small_n", "n": 5}
    assert week["class"]["A"]["fa_reach"] == {"suppressed": "complementary", "n": 12}
    assert week["community"]["community-1"]["fa_reach"] == {"value": 9 / 32, "n": 32}


def test_the_table_names_suppression_and_never_prints_a_suppressed_number():
    text = render_table(_results(), "2026-W45")
    assert "(small n)" in text and "(compl.)" in text and "fewer than min_n" in text
    assert "20%" in text  # B's fa_reach
    line_c = next(line for line in text.splitlines() if " C " in line)
    assert "60%" not in line_c  # C's real fa_reach (3 of 5) never appears


def test_csv_rows_carry_an_empty_value_for_suppressed_figures():
    frame = pd.read_csv(io.StringIO(to_csv(_results())))
    c = frame[(frame["scope"] == "class") & (frame["scope_id"] == "C") & (frame["measure"] == "fa_reach")]
    assert c["value"].isna().all() and (c["suppressed"] == "small_n").all()
