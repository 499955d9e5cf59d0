"""Checks for lesson 7 (Real or colorized?): the Wilson interval, the fooled rate, how many answers.

>>> from colorlab.exercises import lesson7
>>> lesson7.check_wilson_interval(my_wilson)      # my_wilson(k, n) -> (low, high)
>>> lesson7.check_fooled_rate(my_rate)            # the fooled rate of EXAMPLE_ANSWERS
>>> lesson7.check_answers_needed(my_n)            # answers for a 95% interval of at most +-10 points
>>> lesson7.check_coverage(my_coverage)           # how often simulated intervals hold the true rate
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .. import game
from .core import CheckResult, call_learner, right, wrong

__all__ = [
    "EXAMPLE_ANSWERS",
    "TARGET_HALF_WIDTH",
    "check_wilson_interval",
    "check_fooled_rate",
    "check_answers_needed",
    "check_coverage",
]

#: Twelve answers of one player: what each picture was and what they said.
EXAMPLE_ANSWERS: tuple[dict[str, str], ...] = tuple(
    {"picture": f"picture {i + 1}", "shown": shown, "answer": answer}
    for i, (shown, answer) in enumerate(
        [
            ("colorized", "real"),
            ("real", "real"),
            ("colorized", "colorized"),
            ("real", "real"),
            ("real", "colorized"),
            ("colorized", "colorized"),
            ("real", "real"),
            ("colorized", "real"),
            ("colorized", "colorized"),
            ("real", "real"),
            ("colorized", "colorized"),
            ("real", "real"),
        ]
    )
)

#: The precision the last exercise asks for: a 95% interval of at most +-10 percentage points.
TARGET_HALF_WIDTH = 0.10

#: (k, n) pairs a learner's Wilson function is compared on, the edges 0/n and n/n included.
_CASES = ((5, 10), (1, 10), (0, 10), (10, 10), (2, 5), (37, 120), (1, 1))
_TOLERANCE = 1e-3


def _not_a_number(answer: Any) -> bool:
    return isinstance(answer, bool) or not isinstance(answer, (int, float)) or math.isnan(answer)


def _wald(k: int, n: int) -> tuple[float, float]:
    """The normal-approximation interval ``p ± z·sqrt(p(1-p)/n)``: the usual first attempt."""
    p = k / n
    half = game.z_value() * math.sqrt(p * (1 - p) / n)
    return (p - half, p + half)


def _close(got: tuple[float, ...], want: tuple[float, float]) -> bool:
    return all(abs(g - w) <= _TOLERANCE for g, w in zip(got, want))


def check_wilson_interval(fn: Callable[[int, int], tuple[float, float]] | None) -> CheckResult:
    """``fn(k, n) -> (low, high)``: the Wilson 95% interval of ``k`` successes in ``n`` trials."""
    for k, n in _CASES:
        returned, problem = call_learner(fn, "wilson(k, n) that returns (low, high)", k, n, call=f"wilson({k}, {n})")
        if problem is not None:
            return problem
        try:
            got = tuple(float(v) for v in returned)
        except (TypeError, ValueError, RuntimeError):  # a tensor of several values raises RuntimeError
            return wrong(f"wilson({k}, {n}) should return two numbers (low, high), got {returned!r}")
        if len(got) != 2:
            return wrong(f"wilson({k}, {n}) should return two numbers (low, high), got {len(got)}")
        want = game.wilson_interval(k, n)
        if _close(got, want):
            continue
        if _close(got, _wald(k, n)):
            return wrong(
                f"wilson({k}, {n}) = ({got[0]:.4f}, {got[1]:.4f}) is the normal-approximation (Wald) interval "
                "p ± z·sqrt(p(1-p)/n); Wilson's adds z²/2n to the centre and z²/4n² under the root, "
                "and divides both by 1 + z²/n"
            )
        if got[0] > got[1]:
            return wrong(f"wilson({k}, {n}) = ({got[0]:.4f}, {got[1]:.4f}): low is above high")
        return wrong(
            f"wilson({k}, {n}) = ({got[0]:.4f}, {got[1]:.4f}), expected ({want[0]:.4f}, {want[1]:.4f}); "
            "check z = 1.96 and that 4n² (not 4n) divides z² under the root"
        )
    return right(f"matches colorlab.game.wilson_interval on {len(_CASES)} cases, 0/10 and 10/10 included")


def check_fooled_rate(answer: float | None) -> CheckResult:
    """``answer``: the fooled rate of :data:`EXAMPLE_ANSWERS`, a fraction in [0, 1]."""
    if answer is None:
        return wrong("compute the fooled rate of lesson7.EXAMPLE_ANSWERS and pass the number")
    if _not_a_number(answer):
        return wrong(f"pass one number (a fraction), got {answer!r}")
    colorized = [a for a in EXAMPLE_ANSWERS if a["shown"] == "colorized"]
    real = [a for a in EXAMPLE_ANSWERS if a["shown"] == "real"]
    fooled = sum(a["answer"] == "real" for a in colorized)
    want = fooled / len(colorized)
    if abs(answer - want) < 1e-6:
        return right(f"{fooled} of the {len(colorized)} colorized pictures were answered 'real': {want:.3f}")
    if 1 < answer <= 100 and abs(answer / 100 - want) < 5e-3:
        return wrong("that is a percentage; give the fraction (between 0 and 1)")
    n = len(EXAMPLE_ANSWERS)
    mistakes = {
        sum(a["answer"] == "real" for a in EXAMPLE_ANSWERS) / n: (
            "that is the fraction of *all* answers that said 'real'; only colorized pictures can fool"
        ),
        sum(a["answer"] == a["shown"] for a in EXAMPLE_ANSWERS) / n: (
            "that is the score (answers that were right); the fooled rate looks at the colorized pictures only"
        ),
        sum(a["answer"] == "real" for a in real) / len(real): (
            "that is how often *real* pictures were called real; the fooled rate is about the colorized ones"
        ),
        fooled / n: f"the right count, divided by all {n} answers; divide by the colorized pictures only",
        float(fooled): "that is a count; divide it by the number of colorized pictures",
    }
    for value, message in mistakes.items():
        if abs(answer - value) < 1e-6:
            return wrong(message)
    return wrong(f"{answer!r} is not it: count the colorized pictures, then those of them answered 'real'")


def check_answers_needed(n: int | None) -> CheckResult:
    """``n``: the fewest answers to colorized pictures for a 95% interval of at most ±10 points,
    whatever the fooled rate turns out to be."""
    if n is None:
        return wrong("find the smallest n whose interval is at most ±0.10 at the worst rate, 1/2")
    if _not_a_number(n) or n != int(n) or n < 1:
        return wrong(f"pass a whole number of answers, got {n!r}")
    n = int(n)
    wilson = game.answers_needed(TARGET_HALF_WIDTH)
    normal = math.ceil((game.z_value() / (2 * TARGET_HALF_WIDTH)) ** 2)  # z²·p(1-p)/E² at p = 1/2
    half = game.widest_half_width
    if n == wilson:
        return right(
            f"{n} answers: at a rate of 1/2 Wilson's interval is ±{half(n):.4f}; with {n - 1} it is ±{half(n - 1):.4f}"
        )
    if n == normal:
        return wrong(
            f"{n} is the normal-approximation (Wald) answer, n = z²·p(1-p)/E² at p = 1/2, rounded up; the lesson's "
            f"interval is Wilson's, whose half-width at 1/2 is z / (2·sqrt(n + z²)), a little narrower than Wald's "
            f"z / (2·sqrt(n)): it reaches ±0.10 at n = {wilson} (±{half(wilson):.4f}; with {n} answers it is "
            f"±{half(n):.4f}, more than needed)"
        )
    if n < wilson:
        return wrong(f"with {n} answers the interval at a rate of 1/2 is ±{half(n):.3f}, wider than ±0.10")
    return wrong(f"{n} answers are enough (±{half(n):.3f}) but not the fewest: try a smaller n")


#: Coverage a learner may find with a few hundred simulated classes and independent answers: 95%
#: give or take three standard errors of a 200-class estimate.
COVERAGE_RANGE = (0.90, 0.99)


def check_coverage(fraction: float | None) -> CheckResult:
    """``fraction``: of many simulated classes (``spread=0``), how many 95% intervals held the true rate."""
    if fraction is None:
        return wrong("simulate the classes, count the intervals that contain 0.30, and pass that fraction")
    if _not_a_number(fraction):
        return wrong(f"pass one number (a fraction), got {fraction!r}")
    low, high = COVERAGE_RANGE
    if low <= fraction <= high:
        return right(
            f"{fraction:.3f}: close to 0.95, as a 95% interval promises when the answers are independent; "
            "now try spread=1.5"
        )
    if 1 < fraction <= 100 and low <= fraction / 100 <= high:
        return wrong("that is a percentage; give the fraction (between 0 and 1)")
    if fraction > 100:
        return wrong("that looks like a count of classes; divide it by the number of classes you simulated")
    if fraction < low:
        return wrong(
            f"{fraction:.3f} is far below 0.95: with spread=0 every picture is equally hard; check that you "
            "used spread=0 and pooled each class's answers before taking pooled.fooled.interval"
        )
    return wrong(f"{fraction:.3f} is above what 95% intervals give; check that you counted low <= 0.3 <= high")
