"""Lesson 7's exercise checks: the worked solutions pass, typical mistakes fail with a useful reason."""

from __future__ import annotations

import math

from colorlab.exercises import lesson7


def wilson(k: int, n: int) -> tuple[float, float]:
    """The notebook's worked solution."""
    z = 1.96
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def test_the_worked_wilson_solution_passes():
    result = lesson7.check_wilson_interval(wilson)
    assert result, result.message


def test_the_normal_approximation_is_recognised_and_the_difference_explained():
    def wald(k, n):
        p = k / n
        return (p - 1.96 * math.sqrt(p * (1 - p) / n), p + 1.96 * math.sqrt(p * (1 - p) / n))

    result = lesson7.check_wilson_interval(wald)
    assert not result and "Wald" in result.message and "1 + z²/n" in result.message


def test_a_wilson_function_with_4n_instead_of_4n_squared_fails_with_the_expected_numbers():
    def typo(k, n):
        z, p = 1.96, k / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n)) / (1 + z**2 / n)
        return (centre - half, centre + half)

    result = lesson7.check_wilson_interval(typo)
    assert not result and "expected (0.2366, 0.7634)" in result.message


def test_wilson_check_reports_a_crash_or_a_value_instead_of_raising():
    assert "ZeroDivisionError" in lesson7.check_wilson_interval(lambda k, n: (k / 0, 1)).message
    assert "the function itself" in lesson7.check_wilson_interval((0.2, 0.8)).message
    placeholder = lesson7.check_wilson_interval(None)
    assert not placeholder and "write a function" in placeholder.message


def test_the_worked_fooled_rate_solution_passes():
    answers = lesson7.EXAMPLE_ANSWERS
    colorized = [a for a in answers if a["shown"] == "colorized"]
    rate = sum(a["answer"] == "real" for a in colorized) / len(colorized)
    result = lesson7.check_fooled_rate(rate)
    assert result and "2 of the 6" in result.message


def test_typical_fooled_rate_mistakes_are_named():
    answers = lesson7.EXAMPLE_ANSWERS
    said_real = sum(a["answer"] == "real" for a in answers) / len(answers)
    score = sum(a["answer"] == a["shown"] for a in answers) / len(answers)
    assert "all* answers" in lesson7.check_fooled_rate(said_real).message
    assert "score" in lesson7.check_fooled_rate(score).message
    assert "percentage" in lesson7.check_fooled_rate(100 / 3).message
    assert "a count" in lesson7.check_fooled_rate(2).message
    assert not lesson7.check_fooled_rate(0.9)
    assert not lesson7.check_fooled_rate("a third")
    assert "compute the fooled rate" in lesson7.check_fooled_rate(None).message


def test_answers_needed_accepts_wilsons_93_and_rejects_the_normal_approximations_97_saying_why():
    assert lesson7.check_answers_needed(93)
    result = lesson7.check_answers_needed(97)
    assert not result
    assert "Wald" in result.message and "Wilson" in result.message and "93" in result.message
    assert "z / (2·sqrt(n + z²))" in result.message and "z / (2·sqrt(n))" in result.message


def test_answers_needed_says_whether_a_wrong_count_is_too_few_or_more_than_needed():
    few = lesson7.check_answers_needed(30)
    assert not few and "±0.168" in few.message and "wider" in few.message
    many = lesson7.check_answers_needed(200)
    assert not many and "not the fewest" in many.message
    assert "whole number" in lesson7.check_answers_needed(9.5).message
    assert not lesson7.check_answers_needed(None)


def test_the_worked_coverage_solution_passes_and_the_spread_one_fails_with_a_reason():
    from colorlab import game

    def coverage(spread, classes=100):
        inside = 0
        for seed in range(classes):
            records = game.simulate_class(["china", "flower"], {"demo": 0.3}, players=24, spread=spread, seed=seed)
            low, high = game.pool_results(records).fooled.interval
            inside += low <= 0.3 <= high
        return inside / classes

    independent = coverage(0.0)
    assert lesson7.check_coverage(independent), independent
    correlated = lesson7.check_coverage(coverage(1.5))
    assert not correlated and "spread=0" in correlated.message


def test_coverage_check_names_a_percentage_or_a_count():
    assert "percentage" in lesson7.check_coverage(94.5).message
    assert "count of classes" in lesson7.check_coverage(189).message
    assert not lesson7.check_coverage(None)
