from __future__ import annotations

import pytest

from cards.figure_words import (
    figure_words,
    format_value,
    network_shape,
    trend,
    versus_median,
    weakest_measure,
)
from cards.views import Comparison
from cards.vocabulary import MEASURES
from measures.figures import Figure, Suppression


def f(v, n=25):
    return Figure.of(v, n)


def test_a_suppressed_figure_is_words_never_a_number():
    hidden = Figure(None, 4, Suppression.SMALL_N)
    assert format_value(hidden, "share") == "suppressed"
    assert figure_words(hidden, "share") == "suppressed (fewer than 10 students)"
    assert figure_words(Figure(None, 40, Suppression.COMPLEMENTARY), "share").startswith("suppressed (hidden so")
    assert figure_words(hidden, "count", min_n=5, who="teachers") == "suppressed (fewer than 5 teachers)"


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [(0.734, "share", "73%"), (18.4, "hours", "18 h"), (60.0, "hours", "2.5 days"), (3.44, "days", "3.4 days")],
)
def test_values_are_formatted_for_reading(value, unit, text):
    assert format_value(f(value), unit) == text


def test_a_rise_in_reach_is_an_up_arrow_with_words_and_good_colour():
    t = trend(Comparison(f(0.73), f(0.66)), MEASURES["fa_reach"])
    assert (t.arrow, t.words, t.color) == ("↑", "up 7 points from last week", "Good")


def test_a_longer_feedback_turnaround_is_slower_and_flagged_even_though_the_number_rose():
    t = trend(Comparison(f(30.0), f(20.0)), MEASURES["feedback_turnaround"])
    assert (t.arrow, t.words, t.color) == ("↑", "10 h slower than last week", "Attention")


def test_a_change_under_two_points_is_steady():
    t = trend(Comparison(f(0.50), f(0.51)), MEASURES["participation"])
    assert (t.arrow, t.words) == ("→", "steady since last week")


def test_no_trend_is_drawn_against_a_suppressed_week():
    t = trend(Comparison(f(0.5), f(0.9, n=3)), MEASURES["participation"])
    assert t.arrow == "" and "suppressed" in t.words


def test_place_against_the_median_is_said_in_words():
    assert versus_median(Comparison(f(0.4), median=f(0.5)), MEASURES["peer_reach"]) == (
        "below the community median (50%)"
    )
    assert versus_median(Comparison(f(10.0), median=f(20.0)), MEASURES["feedback_turnaround"]) == (
        "faster than the community median (20 h)"
    )
    assert versus_median(Comparison(f(0.5), median=f(0.51)), MEASURES["peer_reach"]).startswith("at the")


@pytest.mark.parametrize(
    ("share", "centralization", "words"),
    [
        (0.75, 0.2, "mostly teacher-centred"),
        (0.5, 0.6, "student-led, but around a few students"),
        (0.3, 0.2, "peer-driven"),
        (0.5, 0.4, "a mix of teacher-led and peer conversation"),
    ],
)
def test_network_shape_follows_the_documented_thresholds(share, centralization, words):
    assert network_shape(f(share), f(centralization)).startswith(words)


def test_network_shape_is_not_guessed_from_a_suppressed_figure():
    assert network_shape(f(0.9), Figure(None, 3, Suppression.SMALL_N)) == "not shown (fewer than 10 students)"


def test_the_weakest_measure_is_the_largest_shortfall_against_its_median():
    measures = {
        "fa_reach": Comparison(f(0.7), median=f(0.6)),
        "participation": Comparison(f(0.6), median=f(0.66)),
        "peer_reach": Comparison(f(0.3), median=f(0.45)),
        "feedback_turnaround": Comparison(f(30.0), median=f(24.0)),
    }
    assert weakest_measure(measures) == "peer_reach"


def test_without_medians_the_weakest_is_the_lowest_share_other_than_monthly_reach():
    measures = {
        "fa_reach": Comparison(f(0.7)),
        "fa_monthly_reach": Comparison(f(0.1)),
        "participation": Comparison(f(0.5)),
    }
    assert weakest_measure(measures) == "participation"
    assert weakest_measure({"fa_reach": Comparison(Figure(None, 2, Suppression.SMALL_N))}) is None


def test_every_suppression_reason_has_its_own_words():
    from cards.vocabulary import suppression_words
    from measures.figures import Suppression

    words = {reason: suppression_words(reason) for reason in Suppression}
    assert len(set(words.values())) == len(Suppression)
    assert "3 classes" in words[Suppression.FEW_CLASSES]
