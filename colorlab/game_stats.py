"""The statistics of "Real or colorized?" (:mod:`colorlab.game`): proportions and their Wilson intervals.

A game's result is a proportion: ``k`` of ``n`` colorized pictures answered "real" (the
*fooled rate*). With the few answers a class gives, the interval around it matters as much as
the rate itself, so every rate here comes with a Wilson score interval (:func:`wilson_interval`),
and :func:`answers_needed` says how many answers pin a rate down to a given width. Pure
arithmetic, no pictures and no files; :mod:`colorlab.game` re-exports every name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

__all__ = ["CONFIDENCE", "z_value", "wilson_interval", "widest_half_width", "answers_needed", "Tally"]

#: Confidence level of every interval this module reports.
CONFIDENCE = 0.95


def z_value(confidence: float = CONFIDENCE) -> float:
    """The two-sided standard normal quantile of ``confidence`` (1.95996... for 95%)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for a proportion of ``k`` successes in ``n`` trials.

    ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`` with ``p = k/n``
    and ``z`` the normal quantile (1.96 for 95%). Unlike ``p ± z·sqrt(p(1-p)/n)``
    it stays inside [0, 1] and does not collapse to a point at 0/n or n/n.
    ``n = 0`` gives ``(0.0, 1.0)``: no answers, no knowledge.
    """
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return (0.0, 1.0)
    z = z_value(confidence)
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # exact ends: at k = 0 the lower bound is 0 and at k = n the upper is 1 (not 1e-17 off)
    return (0.0 if k == 0 else max(0.0, centre - half), 1.0 if k == n else min(1.0, centre + half))


def widest_half_width(n: int, confidence: float = CONFIDENCE) -> float:
    """Half the width of the Wilson interval of ``n`` answers at a rate of 1/2, the widest
    it gets for that ``n``: ``z / (2·sqrt(n + z²))``."""
    if n < 1:
        raise ValueError(f"need at least one answer, got n={n}")
    z = z_value(confidence)
    return z / (2 * math.sqrt(n + z * z))


def answers_needed(half_width: float, confidence: float = CONFIDENCE) -> int:
    """The fewest answers whose Wilson interval is at most ``± half_width`` whatever the rate.

    From :func:`widest_half_width`: ``n >= (z / 2·half_width)² - z²``.
    For ±10% at 95%: 93 answers.
    """
    if not 0 < half_width < 0.5:
        raise ValueError(f"half_width must be in (0, 0.5), got {half_width}")
    z = z_value(confidence)
    n = max(1, math.ceil((z / (2 * half_width)) ** 2 - z * z))
    while n > 1 and widest_half_width(n - 1, confidence) <= half_width:  # guard against rounding
        n -= 1
    while widest_half_width(n, confidence) > half_width:
        n += 1
    return n


@dataclass(frozen=True)
class Tally:
    """``k`` of ``n`` answers, e.g. colorized pictures answered "real"."""

    k: int = 0
    n: int = 0

    @property
    def rate(self) -> float:
        """``k / n`` (``nan`` when there are no answers)."""
        return self.k / self.n if self.n else float("nan")

    @property
    def interval(self) -> tuple[float, float]:
        """The Wilson 95% interval of :attr:`rate`."""
        return wilson_interval(self.k, self.n)

    def add(self, hit: bool) -> Tally:
        return Tally(self.k + int(hit), self.n + 1)

    def __str__(self) -> str:
        if not self.n:
            return "no answers"
        low, high = self.interval
        return f"{self.k}/{self.n} = {self.rate:.0%} (95% CI {low:.0%}-{high:.0%})"
