"""Checks for lesson 4 (results): the colour each loss predicts, and the PSNR gain over gray.

The toy of the lesson is a patch that has the same lightness in every photo but is red in some
and green in the others (:func:`red_green_patch`); :data:`EXAMPLE_AB` is ten such samples::

    from colorlab.exercises import lesson4
    lesson4.check_mse_constant(my_ab)      # the one (a, b) with the least mean squared error
    lesson4.check_l1_constant(my_ab)       # the one (a, b) with the least mean absolute error
    lesson4.check_psnr_gain(my_psnr_gain)  # my_psnr_gain(prediction, truth) -> dB over gray
    lesson4.check_trainable_share(my_share)  # my_share(model) -> the share of weights training changes
    lesson4.check_temperature(my_T)        # the highest of TEMPERATURES within 10 Lab units of the mode
    lesson4.check_saturation(my_s, model, truths)  # the most colourful saturation within 0.5 dB of PSNR

:func:`solution_values` gives the numbers the worked solutions state, for the lesson's claims.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..color import lab_to_rgb_uint8, rgb_uint8_to_lab
from ..metrics import gray_baseline, psnr
from .core import CheckResult, call_learner, right, wrong

__all__ = [
    "TOY_L",
    "RED_AB",
    "GREEN_AB",
    "red_green_patch",
    "EXAMPLE_AB",
    "example_pair",
    "check_mse_constant",
    "check_l1_constant",
    "check_psnr_gain",
    "check_trainable_share",
    "TEMPERATURES",
    "annealed_distances",
    "check_temperature",
    "SATURATIONS",
    "saturation_table",
    "check_saturation",
    "solution_values",
]

#: The toy patch's lightness: the same in every photo, so a gray input cannot tell red from green.
TOY_L = 55.0
#: (a, b) of the red and of the green version of the patch, Lab units (both inside sRGB at TOY_L).
RED_AB = (60.0, 45.0)
GREEN_AB = (-50.0, 45.0)


def red_green_patch(n: int = 200, red_fraction: float = 0.5, spread: float = 6.0, seed: int = 0) -> np.ndarray:
    """``(n, 2)`` ab samples in Lab units: ``round(red_fraction * n)`` around :data:`RED_AB`, the
    rest around :data:`GREEN_AB`, each with Gaussian scatter ``spread``, in random order."""
    if not 0.0 <= red_fraction <= 1.0:
        raise ValueError(f"red_green_patch: red_fraction={red_fraction} is outside [0, 1]")
    rng = np.random.default_rng(seed)
    reds = round(red_fraction * n)
    centres = np.array([RED_AB] * reds + [GREEN_AB] * (n - reds), dtype=np.float64).reshape(n, 2)
    return rng.permutation(centres + spread * rng.standard_normal((n, 2)))


#: Ten samples of the patch, seven red and three green (read-only).
EXAMPLE_AB: np.ndarray = red_green_patch(10, red_fraction=0.7, spread=4.0, seed=1)
EXAMPLE_AB.setflags(write=False)

_AB_TOLERANCE = 0.05  # Lab units: far below any difference a reader could see


def _as_ab(answer: Any) -> tuple[np.ndarray | None, CheckResult | None]:
    if answer is None:
        return None, wrong("compute one (a, b) from lesson4.EXAMPLE_AB and pass it, e.g. (12.3, 45.6)")
    try:
        ab = np.asarray(answer, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return None, wrong(f"pass two numbers (a, b), got {answer!r}")
    if ab.shape == (20,):
        return None, wrong("that is all ten samples; the answer is one colour, two numbers (a, b)")
    if ab.shape != (2,):
        return None, wrong(f"pass two numbers (a, b), got {ab.size}")
    return ab, None


def _near(ab: np.ndarray, target: Any, tolerance: float = _AB_TOLERANCE) -> bool:
    return bool(np.all(np.abs(ab - np.asarray(target, dtype=np.float64)) <= tolerance))


def _common_mistakes(ab: np.ndarray) -> str | None:
    samples = EXAMPLE_AB
    reds = samples[samples[:, 0] > 0]
    if _near(ab, samples.mean(axis=0)[::-1]) or _near(ab, np.median(samples, axis=0)[::-1]):
        return "the order is (a, b): a first"
    if _near(ab, (np.array(RED_AB) + np.array(GREEN_AB)) / 2, 0.5):
        return "that is halfway between red and green, as if they were equally common; 7 of the 10 samples are red"
    if _near(ab, RED_AB, 0.5) or _near(ab, reds.mean(axis=0), 0.5):
        return "that is the most common colour, red: what a classifier's most probable bin would paint, not this loss's optimum"
    return None


def check_mse_constant(answer: Any) -> CheckResult:
    """``answer``: the one ``(a, b)`` whose mean squared error over :data:`EXAMPLE_AB` is least."""
    ab, problem = _as_ab(answer)
    if problem is not None:
        return problem
    want = EXAMPLE_AB.mean(axis=0)
    if _near(ab, want):
        chroma = math.hypot(*want)
        mean_chroma = float(np.hypot(EXAMPLE_AB[:, 0], EXAMPLE_AB[:, 1]).mean())
        return right(
            f"the mean, ({want[0]:.2f}, {want[1]:.2f}): chroma {chroma:.0f} against the samples' mean chroma "
            f"{mean_chroma:.0f}, pulled towards gray"
        )
    if _near(ab, np.median(EXAMPLE_AB, axis=0)):
        return wrong(
            "that is the median of a and of b, the L1 loss's optimum; the squared error is least at another point"
        )
    mistake = _common_mistakes(ab)
    if mistake:
        return wrong(mistake)
    return wrong(f"({ab[0]:.2f}, {ab[1]:.2f}) is not it: set the derivative of the mean of (x - c)² to zero")


def check_l1_constant(answer: Any) -> CheckResult:
    """``answer``: the one ``(a, b)`` whose mean absolute error ``mean(|Δa| + |Δb|)`` over
    :data:`EXAMPLE_AB` is least (the L1 loss of ``torch.nn.functional.l1_loss``)."""
    ab, problem = _as_ab(answer)
    if problem is not None:
        return problem
    want = np.median(EXAMPLE_AB, axis=0)
    if _near(ab, want):
        return right(
            f"the median of a and of b, ({want[0]:.2f}, {want[1]:.2f}): with 7 of 10 samples red it sits on the red ones"
        )
    if _near(ab, EXAMPLE_AB.mean(axis=0)):
        return wrong("that is the mean, the squared error's optimum; the absolute error is least at the median")
    mistake = _common_mistakes(ab)
    if mistake and "order" in mistake:
        return wrong(mistake)
    return wrong(
        f"({ab[0]:.2f}, {ab[1]:.2f}) is not it: the sum of |x - c| is least where as many samples lie above c as "
        "below, separately for a and for b"
    )


def example_pair(seed: int = 0, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic ``(truth, prediction)`` pair, each ``(size, size, 3)`` uint8: a smooth colourful
    truth, and a prediction with its lightness, half its colour and some blotchy colour noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    lab = np.stack([30 + 50 * y, 60 * np.sin(3 * x + seed), 50 * np.cos(2 * y + x)], axis=-1)
    truth = lab_to_rgb_uint8(lab.astype(np.float32))
    pred_lab = rgb_uint8_to_lab(truth).astype(np.float64)
    pred_lab[..., 1:] = 0.5 * pred_lab[..., 1:] + 8 * rng.standard_normal((size, size, 2))
    return truth, lab_to_rgb_uint8(pred_lab.astype(np.float32))


def check_psnr_gain(fn: Callable[[np.ndarray, np.ndarray], float] | None) -> CheckResult:
    """``fn(prediction, truth) -> float``: how many dB the prediction's PSNR is above the gray
    baseline's, both measured against the truth (``(H, W, 3)`` uint8 each)."""
    signature = "my_psnr_gain(prediction, truth) returning the gain in dB"
    for seed in (0, 1):
        truth, pred = example_pair(seed)
        returned, problem = call_learner(
            fn, signature, pred.copy(), truth.copy(), missing=f"write {signature}, then pass it here"
        )
        if problem is not None:
            return problem
        try:
            got = float(returned)
        except (TypeError, ValueError, RuntimeError):  # a tensor of several values raises RuntimeError
            return wrong(f"return one number (dB), got {returned!r}")
        model, gray = psnr(pred, truth), psnr(gray_baseline(truth), truth)
        want = model - gray
        if abs(got - want) <= 1e-3:
            continue
        mistakes = {
            -want: "that is the gray baseline's PSNR minus the model's: subtract the other way round",
            model: "that is the model's PSNR alone; subtract the gray baseline's PSNR (colorlab.metrics.gray_baseline)",
            psnr(
                pred, gray_baseline(truth)
            ): "that compares the prediction with the gray image; measure both against the truth",
            model / gray: "PSNR is already logarithmic (dB): subtract the two, do not divide",
        }
        for value, message in mistakes.items():
            if abs(got - value) <= 1e-3:
                return wrong(message)
        return wrong(
            f"on a test pair you returned {got:.3f} dB, expected {want:.3f} dB = PSNR(prediction) - PSNR(gray)"
        )
    return right("PSNR(prediction, truth) - PSNR(gray baseline, truth), in dB, on two test pairs")


def _share(model: Any) -> float:
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad) / sum(p.numel() for p in params)


def check_trainable_share(fn: Callable[[Any], float] | None) -> CheckResult:
    """``fn(model) -> float``: the share (0 to 1) of a network's weights that training changes,
    checked on the paper's net, the transfer U-Net and a U-Net whose last trunk stage learns."""
    from ..model import ModelConfig
    from ..transfer import create_model

    configs = {
        "the paper's net": ModelConfig(pretrained=False),
        "the U-Net": ModelConfig(arch="unet", pretrained=False),
        "a U-Net with its last trunk stage unfrozen": ModelConfig(arch="unet", pretrained=False, trainable_stages=1),
    }
    for name, config in configs.items():
        model = create_model(config)
        got, verdict = call_learner(fn, "my_share(model) returning a number from 0 to 1", model)
        if verdict is not None:
            return verdict
        want = _share(model)
        try:
            got = float(got)
        except (TypeError, ValueError):
            return wrong(f"return a number from 0 to 1, got {got!r}")
        if abs(got - want) <= 1e-4:
            continue
        params = list(model.parameters())
        counts = {
            sum(
                p.numel() for p in params if p.requires_grad
            ): "that is a count of weights; divide by the total to get a share",
            1 - want: "that is the frozen share; training changes the parameters with requires_grad=True",
            sum(1 for p in params if p.requires_grad)
            / len(params): "that counts tensors, not weights: add up p.numel()",
            100 * want: "a share from 0 to 1, not a percentage",
        }
        for value, message in counts.items():
            if abs(got - value) <= 1e-4 * max(1.0, abs(value)):
                return wrong(message)
        return wrong(f"for {name} you returned {got:.4f}, expected {want:.4f}")
    return right("the share of weights with requires_grad=True, on three networks")


#: The temperatures of the annealed-mean exercise, from the mean (1) towards the mode.
TEMPERATURES = (1.0, 0.6, 0.38, 0.2, 0.1, 0.05)
_NEAR_MODE = 10.0  # Lab units


def annealed_distances(red_fraction: float = 0.6, n: int = 200) -> dict[float, float]:
    """``{T: distance}``: how far (Lab units) the annealed mean of the toy patch
    (:func:`red_green_patch`) lies from the bins' mode, for every temperature of :data:`TEMPERATURES`."""
    from ..viz import constant_optima

    samples = red_green_patch(n, red_fraction=red_fraction)
    distances = {}
    for temperature in TEMPERATURES:
        optima = constant_optima(samples, temperature=temperature)
        distances[temperature] = float(np.linalg.norm(optima["bins: annealed mean"] - optima["bins: mode"]))
    return distances


def _one_of(answer: Any, choices: tuple[float, ...], name: str, what: str, example: float) -> float | CheckResult:
    """The entry of ``choices`` (``lesson4.<name>``) that ``answer`` is, or why it is not one."""
    if answer is None:
        return wrong(f"pass {what} from lesson4.{name}, e.g. {example:g}")
    if isinstance(answer, (str, bytes, bool)):
        return wrong(f"pass one number, got {answer!r}")
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return wrong(f"pass one number, got {answer!r}")
    match = next((c for c in choices if math.isclose(value, c, rel_tol=1e-6)), None)
    if match is None:
        return wrong(f"{value:g} is not one of lesson4.{name} {choices}: try those")
    return match


def check_temperature(answer: Any) -> CheckResult:
    """``answer``: the highest temperature of :data:`TEMPERATURES` at which the annealed mean of the
    60 % red toy patch comes within 10 Lab units of the bins' mode."""
    match = _one_of(answer, TEMPERATURES, "TEMPERATURES", "one temperature", 0.6)
    if isinstance(match, CheckResult):
        return match
    distances = annealed_distances()
    within = [t for t in TEMPERATURES if distances[t] <= _NEAR_MODE]
    want = max(within)
    if match == want:
        return right(
            f"T = {want:g}: the annealed mean is {distances[want]:.1f} Lab units from the mode there, "
            f"but still {distances[TEMPERATURES[TEMPERATURES.index(want) - 1]]:.1f} at the temperature above"
        )
    if match in within:
        return wrong(f"at T = {match:g} it is within 10 Lab units, but already at a higher temperature too")
    if match == 1.0:
        return wrong(f"at T = 1 the annealed mean is the plain mean, {distances[1.0]:.1f} Lab units from the mode")
    return wrong(f"at T = {match:g} the annealed mean is still {distances[match]:.1f} Lab units from the mode")


#: The saturations of the turn-up-the-colour exercise.
SATURATIONS = (1.0, 1.25, 1.5, 2.0, 3.0)
_PSNR_ALLOWANCE = 0.5  # dB


def saturation_table(
    model: Any, truths: dict[str, np.ndarray], network_size: int = 224
) -> dict[float, tuple[float, float]]:
    """``{s: (mean PSNR in dB, mean colourfulness)}`` of ``model``'s colorizations of ``truths``
    (``{name: (H, W, 3) uint8}``) with ``colorize(..., saturation=s)``, for every :data:`SATURATIONS`."""
    from ..infer import colorize
    from ..metrics import colorfulness

    table = {}
    for s in SATURATIONS:
        out = {n: colorize(t, model, size=network_size, saturation=s) for n, t in truths.items()}
        table[s] = (
            float(np.mean([psnr(out[n], truths[n]) for n in truths])),
            float(np.mean([colorfulness(out[n]) for n in truths])),
        )
    return table


def _best_saturation(table: dict[float, tuple[float, float]]) -> float:
    allowed = [s for s in SATURATIONS if table[s][0] >= table[1.0][0] - _PSNR_ALLOWANCE]
    return max(allowed, key=lambda s: table[s][1])


def check_saturation(answer: Any, model: Any, truths: dict[str, np.ndarray], network_size: int = 224) -> CheckResult:
    """``answer``: the saturation of :data:`SATURATIONS` that gives ``model`` the most colourfulness on
    ``truths`` while losing no more than 0.5 dB of mean PSNR against ``saturation=1``."""
    match = _one_of(answer, SATURATIONS, "SATURATIONS", "one saturation", 1.25)
    if isinstance(match, CheckResult):
        return match
    table = saturation_table(model, truths, network_size)
    want = _best_saturation(table)
    base = table[1.0][0]
    if match == want:
        return right(
            f"saturation {want:g}: PSNR {table[want][0]:.2f} dB ({table[want][0] - base:+.2f} dB), "
            f"colourfulness {table[want][1]:.1f} against {table[1.0][1]:.1f}"
        )
    if table[match][0] < base - _PSNR_ALLOWANCE:
        return wrong(f"at {match:g} the PSNR falls {base - table[match][0]:.2f} dB, more than 0.5 dB")
    return wrong(f"at {match:g} the PSNR holds, but a stronger saturation keeps it within 0.5 dB and is more colourful")


def solution_values() -> dict[str, float]:
    """The numbers that the worked solutions of lesson 4 state about :data:`EXAMPLE_AB` and the
    annealed mean, by the names the lesson's text marks them with (see notebooks/README.md)."""
    samples = EXAMPLE_AB
    mean, median = samples.mean(axis=0), np.median(samples, axis=0)
    reds, greens = samples[samples[:, 0] > 0], samples[samples[:, 0] < 0]
    distances = annealed_distances()
    return {
        "example_reds": float(len(reds)),
        "example_greens": float(len(greens)),
        "example_red_a": float(reds[:, 0].mean()),
        "example_green_a": float(greens[:, 0].mean()),
        "example_mse_a": float(mean[0]),
        "example_mse_b": float(mean[1]),
        "example_mse_chroma": float(math.hypot(*mean)),
        "example_mean_chroma": float(np.hypot(samples[:, 0], samples[:, 1]).mean()),
        "example_l1_a": float(median[0]),
        "example_l1_b": float(median[1]),
        "anneal_distance_0.2": distances[0.2],
        "anneal_distance_0.1": distances[0.1],
        "anneal_within_10": max(t for t in TEMPERATURES if distances[t] <= _NEAR_MODE),
    }
