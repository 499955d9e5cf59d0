"""Checks for lesson 6 (colour as classification): the MSE answer, soft encoding, rebalancing
weights and the annealed mean.

>>> from colorlab.exercises import lesson6
>>> lesson6.check_mse_answer(my_ab)                          # (a, b) that minimises the expected squared error
>>> lesson6.check_soft_encode(my_soft_encode)                # my_soft_encode(ab, bins, k, sigma) -> (Q,)
>>> lesson6.check_rebalance_weights(my_rebalance_weights)    # my_rebalance_weights(prior, lam) -> (Q,)
>>> lesson6.check_annealed_mean(my_annealed_mean)            # my_annealed_mean(logits, bins, T) -> (a, b)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .. import colorbins
from .core import CheckResult, call_learner, right, wrong

__all__ = [
    "APPLES",
    "RED_SHARE",
    "check_mse_answer",
    "check_soft_encode",
    "check_rebalance_weights",
    "check_annealed_mean",
]

#: The toy of exercise 1: an apple is red or green, (a, b) in Lab units, at the same lightness.
APPLES = {"red": (60.0, 40.0), "green": (-50.0, 50.0)}
#: The share of red apples in exercise 1 (the rest are green).
RED_SHARE = 0.7
#: How close an (a, b) answer must be, in Lab units.
_AB_TOLERANCE = 0.5


def _tensor(value: Any, shape: tuple[int, ...]) -> torch.Tensor | None:
    try:
        t = torch.as_tensor(value, dtype=torch.float64).detach().cpu().reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        return None
    return t.reshape(shape) if t.numel() == math.prod(shape) else None


def _mixture(red_share: float) -> torch.Tensor:
    red, green = (torch.tensor(APPLES[c], dtype=torch.float64) for c in ("red", "green"))
    return red_share * red + (1 - red_share) * green


def check_mse_answer(ab: Any) -> CheckResult:
    """``ab = (a, b)``: the one colour that minimises the expected squared error over :data:`APPLES`,
    :data:`RED_SHARE` of them red."""
    if ab is None:
        return wrong("work out the (a, b) that minimises the expected squared error and pass it as (a, b)")
    got = _tensor(ab, (2,))
    if got is None:
        return wrong(f"pass two numbers (a, b), got {ab!r}")
    want = _mixture(RED_SHARE)
    if (got - want).abs().max() <= _AB_TOLERANCE:
        chroma = float(want.norm())
        return right(
            f"(a, b) = ({want[0]:.0f}, {want[1]:.0f}), the weighted mean; its chroma {chroma:.0f} is below both "
            f"apples' ({torch.tensor(APPLES['red']).norm():.0f} and {torch.tensor(APPLES['green']).norm():.0f}): the sepia look"
        )
    mistakes = {
        "red": "that is the most common colour (the mode); squared error is lowest at the mean, not the mode",
        "green": "that is the green apple; the mean of the squared error lies between the two colours",
        "equal": "that is the plain average of the two colours; weigh each by how often it occurs (70% red)",
        "swapped": "the weights are swapped: 70% of the apples are red, so the answer lies nearer red",
        "gray": "(0, 0) is gray, the answer of no information; the mean of the apples is not gray",
    }
    candidates = {
        "red": torch.tensor(APPLES["red"], dtype=torch.float64),
        "green": torch.tensor(APPLES["green"], dtype=torch.float64),
        "equal": _mixture(0.5),
        "swapped": _mixture(1 - RED_SHARE),
        "gray": torch.zeros(2, dtype=torch.float64),
    }
    for key, value in candidates.items():
        if (got - value).abs().max() <= _AB_TOLERANCE:
            return wrong(mistakes[key])
    return wrong(
        f"({got[0]:.1f}, {got[1]:.1f}) is not it: write the expected error E[(a - a_i)² + (b - b_i)²] and set its "
        "derivative to zero"
    )


#: Pixels the soft-encoding check tries: on a bin centre, between bins, near the gamut's edge.
_SOFT_CASES = ((0.0, 0.0), (23.0, -7.0), (60.0, 40.0), (-45.0, 52.5), (80.0, -95.0))


def check_soft_encode(fn: Callable[[torch.Tensor, torch.Tensor, int, float], torch.Tensor] | None) -> CheckResult:
    """``fn(ab, bins, k, sigma) -> (Q,)``: one pixel's soft target, ``ab`` ``(2,)`` in Lab units, ``bins`` ``(Q, 2)``."""
    bins = colorbins.gamut_bins()
    k, sigma = colorbins.SOFT_K, colorbins.SIGMA
    what = "my_soft_encode(ab, bins, k, sigma) returning a (Q,) tensor"
    for a, b in _SOFT_CASES:
        ab = torch.tensor([a, b])
        got, problem = call_learner(fn, what, ab.clone(), bins.clone(), k, sigma)
        if problem is not None:
            return problem
        got_t = _tensor(got, (len(bins),))
        if got_t is None:
            return wrong(
                f"return one weight per bin, a ({len(bins)},) tensor; got {getattr(got, 'shape', type(got).__name__)}"
            )
        want = colorbins.soft_encode(ab.view(1, 2, 1, 1), bins, k, sigma)[0, :, 0, 0].double()
        if torch.allclose(got_t, want, atol=1e-4):
            continue
        where = f"for ab = ({a:g}, {b:g})"
        nonzero = int((got_t.abs() > 1e-8).sum())
        if nonzero == 1:
            return wrong(f"{where} only one bin is non-zero: spread the pixel over its {k} nearest bins")
        if nonzero != k:
            return wrong(f"{where} {nonzero} bins are non-zero: exactly the {k} nearest bins get a weight")
        if abs(float(got_t.sum()) - 1) > 1e-4:
            return wrong(f"{where} the weights sum to {float(got_t.sum()):.4f}: normalise them to sum to 1")
        if set(torch.nonzero(got_t).flatten().tolist()) != set(torch.nonzero(want).flatten().tolist()):
            return wrong(
                f"{where} the non-zero bins are not the {k} nearest to the pixel (use squared distances, topk with largest=False)"
            )
        return wrong(
            f"{where} the weights differ: use exp(-d² / (2 sigma²)) of the squared distance d², then normalise"
        )
    return right(f"the same targets as colorlab.colorbins.soft_encode on {len(_SOFT_CASES)} pixels")


def _example_prior() -> torch.Tensor:
    """A prior over the gamut bins with the long tail of real photos: a few common, many rare."""
    bins = colorbins.gamut_bins()
    g = torch.Generator().manual_seed(6)
    counts = torch.exp(-bins.norm(dim=1) / 15.0) * (1 + torch.rand(len(bins), generator=g))
    return counts / counts.sum()


def check_rebalance_weights(fn: Callable[[torch.Tensor, float], torch.Tensor] | None) -> CheckResult:
    """``fn(prior, lam) -> (Q,)``: the class-rebalancing weights of a ``(Q,)`` prior, normalised so Σ p·w = 1."""
    prior = _example_prior()
    what = "my_rebalance_weights(prior, lam) returning a (Q,) tensor"
    for lam in (colorbins.LAMBDA, 0.2):
        got, problem = call_learner(fn, what, prior.clone(), lam)
        if problem is not None:
            return problem
        got_t = _tensor(got, (len(prior),))
        if got_t is None:
            return wrong(f"return one weight per bin, a ({len(prior)},) tensor")
        p = prior.double()
        want = colorbins.rebalance_weights(p, lam)
        if torch.allclose(got_t, want, rtol=1e-4):
            continue
        expectation = float((p * got_t).sum())
        if torch.allclose(got_t / expectation, want, rtol=1e-4):
            return wrong(
                f"the right shape of weights, but Σ p·w = {expectation:.4g}: divide by it so the expected weight is 1"
            )
        swapped = colorbins.rebalance_weights(p, 1 - lam)
        if torch.allclose(got_t, swapped, rtol=1e-4) or torch.allclose(got_t / expectation, swapped, rtol=1e-4):
            return wrong("λ and 1-λ are swapped: λ is the share of the uniform distribution, (1-λ)·p + λ/Q")
        inverse = 1 / p
        if torch.allclose(got_t / expectation, inverse / float((p * inverse).sum()), rtol=1e-4):
            return wrong(
                "that is 1/p: mix the prior with a uniform distribution first, or the rarest bins get huge weights"
            )
        return wrong(f"for λ = {lam} the weights differ: w ∝ 1 / ((1-λ)·p + λ/Q), then scale so Σ p·w = 1")
    return right("the same weights as colorlab.colorbins.rebalance_weights for λ = 0.5 and 0.2")


def _example_logits() -> torch.Tensor:
    """Logits ``(Q,)`` of a pixel that is probably red, maybe green (two peaks, red the higher)."""
    bins = colorbins.gamut_bins()
    red, green = (torch.tensor(APPLES[c]) for c in ("red", "green"))
    p = 0.6 * torch.exp(-(bins - red).pow(2).sum(1) / 200) + 0.4 * torch.exp(-(bins - green).pow(2).sum(1) / 200) + 1e-6
    return p.log() + 3.0  # logits are log-probabilities up to a constant


def check_annealed_mean(fn: Callable[[torch.Tensor, torch.Tensor, float], Any] | None) -> CheckResult:
    """``fn(logits, bins, T) -> (a, b)``: decode one pixel's ``(Q,)`` logits at temperature ``T``."""
    bins, logits = colorbins.gamut_bins(), _example_logits()
    what = "my_annealed_mean(logits, bins, T) returning (a, b)"

    def library(t: float) -> torch.Tensor:
        return colorbins.annealed_mean(logits.view(1, -1, 1, 1), bins, t)[0, :, 0, 0].double()

    for t in (1.0, colorbins.TEMPERATURE, 0.1):
        got, problem = call_learner(fn, what, logits.clone(), bins.clone(), t)
        if problem is not None:
            return problem
        got_t = _tensor(got, (2,))
        if got_t is None:
            return wrong(f"return two numbers (a, b), got {got!r}")
        want = library(t)
        if (got_t - want).abs().max() <= 0.05:
            continue
        at = f"at T = {t:g} you gave ({got_t[0]:.1f}, {got_t[1]:.1f}), expected ({want[0]:.1f}, {want[1]:.1f})"
        if (got_t - library(1.0)).abs().max() <= 0.05:
            return wrong(f"{at}: that is the plain mean (T = 1); divide the log-probabilities by T before the softmax")
        if (got_t - bins[logits.argmax()].double()).abs().max() <= 0.05:
            return wrong(
                f"{at}: that is the mode (the limit T → 0); take the expectation of the bins under softmax(log p / T)"
            )
        if (got_t - library(1 / t)).abs().max() <= 0.05:
            return wrong(f"{at}: you multiplied by T; divide the log-probabilities by T")
        p = torch.softmax(logits.double(), 0) ** (1 / t)
        if (got_t - p @ bins.double()).abs().max() <= 0.05:
            return wrong(f"{at}: after p^(1/T) the weights no longer sum to 1; renormalise (a softmax does it)")
        return wrong(f"{at}: compute softmax(log_softmax(logits) / T) and the expectation of the bin centres under it")
    return right("the same (a, b) as colorlab.colorbins.annealed_mean at T = 1, 0.38 and 0.1")
