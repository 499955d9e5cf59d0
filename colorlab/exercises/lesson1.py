"""Checks for lesson 1 (Why Lab?): Lab -> sRGB by hand, ΔE, luma against L, the gamut, loss in ΔE.

>>> from colorlab.exercises import lesson1
>>> lesson1.check_lab_to_rgb(my_lab_to_rgb)      # numpy (..., 3) Lab -> (..., 3) sRGB in [0, 1]
>>> lesson1.check_delta_e(my_delta_e)            # numpy (..., 3), (..., 3) Lab -> (...) ΔE76
>>> lesson1.check_luma_psnr(my_psnr)             # PSNR (dB) between Rec. 601 luma and the L-gray photo
>>> lesson1.check_gamut_edge(my_b)               # largest in-gamut b at L = 90, a = 0
>>> lesson1.check_rms_delta_e(my_rms)            # the RMS ΔE of a validation loss of LOSS_EXAMPLE

The worked implementation in the lesson, ``rgb_to_lab`` in numpy, is checked with
:func:`check_rgb_to_lab`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..color import AB_SCALE, lab_to_rgb, out_of_srgb_gamut, rgb_to_lab, srgb_to_linear
from .core import CheckResult, call_learner, right, wrong

__all__ = [
    "TOLERANCE",
    "GAMUT_L",
    "LOSS_EXAMPLE",
    "LUMA_PHOTO",
    "check_rgb_to_lab",
    "check_lab_to_rgb",
    "check_delta_e",
    "check_luma_psnr",
    "check_gamut_edge",
    "check_rms_delta_e",
]

#: How close a learner's conversion must come to colorlab.color (Lab units, or sRGB 0-1).
TOLERANCE = 1e-3
#: The lightness of the gamut exercise.
GAMUT_L = 90.0
#: The validation loss (MSE on scaled ab) of the last exercise.
LOSS_EXAMPLE = 0.005
#: The bundled photo of the luma exercise.
LUMA_PHOTO = "astronaut"


def _not_a_number(answer: Any) -> bool:
    return (
        isinstance(answer, bool) or not isinstance(answer, (int, float, np.floating, np.integer)) or math.isnan(answer)
    )


def _test_rgb() -> np.ndarray:
    """sRGB colours in [0, 1] as a (1, N, 3) float64 array: the cube's corners, grays, dark colours, random ones."""
    rng = np.random.default_rng(1)
    corners = np.array([[r, g, b] for r in (0, 1) for g in (0, 1) for b in (0, 1)], dtype=np.float64)
    grays = np.linspace(0, 1, 11)[:, None].repeat(3, axis=1)
    dark = rng.uniform(0, 0.04, (20, 3))  # the straight pieces near black
    mixed = rng.uniform(0, 1, (200, 3))
    return np.concatenate([corners, grays, dark, mixed])[None]


def _to_torch(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)


def _to_numpy(x: torch.Tensor) -> np.ndarray:
    return x.permute(1, 2, 0).numpy()


def _call(fn: Any, what: str, name: str, *args: np.ndarray) -> tuple[np.ndarray | None, CheckResult | None]:
    """Run a learner's function (see :func:`call_learner`) on copies of ``args``; return (its result as
    a float array, None) or (None, the verdict). ``name`` is the call as errors show it, e.g. ``"rgb_to_lab(rgb)"``."""
    got, problem = call_learner(fn, what, *(a.copy() for a in args), call=name)
    if problem is not None:
        return None, problem
    try:
        return np.asarray(got, dtype=np.float64), None
    except (TypeError, ValueError) as exc:
        return None, wrong(f"{name} should return a numpy array, got {type(got).__name__} ({exc})")


def _worst(got: np.ndarray, want: np.ndarray, inputs: np.ndarray, label: str) -> str:
    i = np.unravel_index(np.abs(got - want).max(axis=-1).argmax(), got.shape[:-1])

    def fmt(v: np.ndarray) -> str:
        return "(" + ", ".join(f"{x:.4g}" for x in v) + ")"

    return f"largest difference at {label}{fmt(inputs[i])}: expected {fmt(want[i])}, got {fmt(got[i])}"


#: Where the kinds of colour sit in :func:`_test_rgb`'s list.
_GRAYS = slice(8, 19)
_MID_GRAY = 13  # sRGB (0.5, 0.5, 0.5)
#: Colours darker than this L (Lab units) meet the straight pieces of f and of the sRGB gamma.
_DARK_L = 10.0


def _slip_in_rgb_to_lab(got: np.ndarray, want: np.ndarray) -> str | None:
    """Name a typical slip from how an ``rgb_to_lab`` answer behaves on grays and dark colours."""
    g, w = got[0], want[0]
    mid_without_gamma = 116 * 0.5 ** (1 / 3) - 16  # L of a gray whose 0.5 was taken as linear light
    if abs(g[_MID_GRAY, 0] - mid_without_gamma) < 0.5:
        return (
            f"the gray 0.5 gives L = {g[_MID_GRAY, 0]:.1f}, expected {w[_MID_GRAY, 0]:.1f}: undo the sRGB gamma "
            "(((c + 0.055) / 1.055) ** 2.4, c / 12.92 near black) before the matrix"
        )
    grays_l_ok = np.abs(g[_GRAYS, 0] - w[_GRAYS, 0]).max() <= TOLERANCE
    if grays_l_ok and np.abs(g[_GRAYS, 1:]).max() > 1:
        return "grays come out tinted (a, b far from 0): divide X, Y, Z by the white's XYZ (D65_WHITE) before f"
    if not grays_l_ok and np.abs(g[_GRAYS, 1:]).max() > 1:
        return "grays come out wrong: check the matrix's orientation (XYZ_FROM_RGB @ rgb: its middle row gives Y)"
    rest = w[:, 0] >= _DARK_L
    if np.abs(g[rest] - w[rest]).max() <= TOLERANCE:
        return "only the darkest colours are off: f(t) is a straight line 7.787 t + 16/116 for t <= (6/29)³"
    return None


def check_rgb_to_lab(fn: Callable[[np.ndarray], np.ndarray] | None) -> CheckResult:
    """``fn(rgb)``: numpy ``(..., 3)`` sRGB in ``[0, 1]`` -> ``(..., 3)`` Lab, as :func:`colorlab.color.rgb_to_lab`."""
    rgb = _test_rgb()
    got, problem = _call(fn, "rgb_to_lab(rgb) for numpy (..., 3) arrays in [0, 1]", "rgb_to_lab(rgb)", rgb)
    if problem is not None:
        return problem
    want = _to_numpy(rgb_to_lab(_to_torch(rgb)))
    if got.shape != want.shape:
        return wrong(f"for an input of shape {rgb.shape} expected Lab of shape {want.shape}, got {got.shape}")
    if np.abs(got - want).max() <= TOLERANCE:
        return right(f"matches colorlab.color.rgb_to_lab to {TOLERANCE:g} Lab units on {rgb.shape[1]} colours")
    if np.abs(got).max() > 1000:
        return wrong("the values are huge: pass sRGB in [0, 1] (divide uint8 by 255), or scale inside your function")
    return wrong(_slip_in_rgb_to_lab(got, want) or _worst(got, want, rgb, "sRGB"))


#: Lab colours no screen can show, for the lab_to_rgb check.
_OUTSIDE_GAMUT = torch.tensor([[90.0, 0.0, 100.0], [60.0, 90.0, -90.0], [30.0, -80.0, 60.0], [50.0, 0.0, -100.0]])


def _slip_in_lab_to_rgb(got: np.ndarray, want: np.ndarray, lab: np.ndarray, n: int) -> str | None:
    """Name a typical slip from how a ``lab_to_rgb`` answer behaves on grays, dark and out-of-gamut colours."""
    g, w = got[0], want[0]
    if got.max() > 2:
        return "the values look like 0-255: return floats in [0, 1]"
    mid = g[_MID_GRAY]
    if abs(mid.mean() - float(srgb_to_linear(torch.tensor(0.5, dtype=torch.float64)))) < 0.005:
        return (
            f"the gray Lab({lab[0, _MID_GRAY, 0]:.1f}, 0, 0) gives {mid.mean():.3f}, expected 0.5: that is linear light; "
            "apply the sRGB gamma last (1.055 c^(1/2.4) - 0.055, 12.92 c near black)"
        )
    if np.abs(g[_GRAYS] - g[_GRAYS].mean(axis=1, keepdims=True)).max() > 0.02:
        return (
            "grays (a = b = 0) come out tinted: multiply by the white's XYZ (D65_WHITE) and use "
            "RGB_FROM_XYZ @ xyz (rows give R, G, B)"
        )
    if np.abs(g[:n] - w[:n]).max() <= TOLERANCE:
        if g.min() < -TOLERANCE or g.max() > 1 + TOLERANCE:
            return "colours outside the gamut must be clipped to [0, 1], as lab_to_rgb does"
        return None
    rest = lab[0, :n, 0] >= _DARK_L
    if np.abs(g[:n][rest] - w[:n][rest]).max() <= TOLERANCE:
        return "only the darkest colours are off: f's inverse is (f - 16/116) / 7.787 for f <= 6/29, and sRGB's gamma is 12.92 c near black"
    return None


def check_lab_to_rgb(fn: Callable[[np.ndarray], np.ndarray] | None) -> CheckResult:
    """``fn(lab)``: numpy ``(..., 3)`` Lab -> ``(..., 3)`` sRGB in ``[0, 1]``, clipped, as :func:`colorlab.color.lab_to_rgb`."""
    rgb = _test_rgb()
    n = rgb.shape[1]
    lab_t = torch.cat([rgb_to_lab(_to_torch(rgb)), _OUTSIDE_GAMUT.to(torch.float64).T[:, None, :]], dim=2)
    lab = _to_numpy(lab_t)
    got, problem = _call(fn, "lab_to_rgb(lab) for numpy (..., 3) Lab arrays", "lab_to_rgb(lab)", lab)
    if problem is not None:
        return problem
    want = _to_numpy(lab_to_rgb(lab_t))
    if got.shape != want.shape:
        return wrong(f"for Lab of shape {lab.shape} expected sRGB of shape {want.shape}, got {got.shape}")
    if np.abs(got - want).max() <= TOLERANCE:
        return right(
            f"matches colorlab.color.lab_to_rgb to {TOLERANCE:g} on {lab.shape[1]} colours, dark and out-of-gamut ones included"
        )
    slip = _slip_in_lab_to_rgb(got, want, lab, n)
    if slip:
        return wrong(slip)
    if np.abs(got[:, :n] - want[:, :n]).max() <= TOLERANCE:
        return wrong("in-gamut colours are right; " + _worst(got[:, n:], want[:, n:], lab[:, n:], "Lab"))
    return wrong(_worst(got, want, lab, "Lab"))


def _delta_e76(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    return np.sqrt(((lab1 - lab2) ** 2).sum(axis=-1))


def check_delta_e(fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None) -> CheckResult:
    """``fn(lab1, lab2)``: numpy ``(..., 3)`` Lab pairs -> ``(...)`` CIE76 ΔE, one per pixel."""
    rng = np.random.default_rng(2)
    lab1 = np.stack([rng.uniform(0, 100, (4, 5)), rng.uniform(-80, 80, (4, 5)), rng.uniform(-80, 80, (4, 5))], axis=-1)
    lab2 = lab1 + rng.normal(0, 6, lab1.shape)
    got, problem = _call(fn, "delta_e(lab1, lab2) returning one ΔE per pixel", "delta_e(lab1, lab2)", lab1, lab2)
    if problem is not None:
        return problem
    want = _delta_e76(lab1, lab2)
    if got.shape != want.shape:
        if got.size == 1:
            return wrong(f"return one ΔE per pixel (shape {want.shape}), not one number: sum over the last axis only")
        return wrong(f"for two Lab arrays of shape {lab1.shape} expected ΔE of shape {want.shape}, got {got.shape}")
    if np.allclose(got, want, atol=TOLERANCE):
        return right(f"CIE76 ΔE on {want.size} pairs of Lab colours")
    d = lab1 - lab2
    mistakes = {
        "that is ΔE squared: take the square root": (d**2).sum(-1),
        "that leaves out ΔL: ΔE76 uses all three of L, a and b": np.sqrt((d[..., 1:] ** 2).sum(-1)),
        "that adds absolute differences (city-block); ΔE76 is the Euclidean distance": np.abs(d).sum(-1),
        "that is the root of the *mean* of the three squares; ΔE76 sums them": np.sqrt((d**2).mean(-1)),
    }
    for message, value in mistakes.items():
        if np.allclose(got, value, atol=TOLERANCE):
            return wrong(message)
    return wrong(
        f"expected ΔE {want.flat[0]:.3f} for the first pair, got {got.flat[0]:.3f}: ΔE76 = sqrt(ΔL² + Δa² + Δb²)"
    )


def luma_psnr_answer() -> dict[str, float]:
    """The right answer of the luma exercise and what typical slips give (PSNR in dB)."""
    from PIL import Image

    from ..metrics import gray_baseline, psnr
    from ..samples import sample_images

    rgb = sample_images([LUMA_PHOTO])[LUMA_PHOTO]
    luma = np.asarray(Image.fromarray(rgb).convert("L"))
    luma3 = np.repeat(luma[..., None], 3, axis=2)
    return {
        "right": psnr(luma3, gray_baseline(rgb)),
        "luma vs colour": psnr(luma3, rgb),
        "L-gray vs colour": psnr(gray_baseline(rgb), rgb),
    }


def check_luma_psnr(value: float | None) -> CheckResult:
    """``value``: PSNR (dB) between the Rec. 601 luma gray (PIL ``convert("L")``) and ``gray_baseline`` of :data:`LUMA_PHOTO`."""
    if value is None:
        return wrong(f"compute psnr(luma, gray_baseline(rgb)) for the {LUMA_PHOTO} photo and pass the number")
    if _not_a_number(value):
        return wrong(f"pass one number (dB), got {value!r}")
    answers = luma_psnr_answer()
    if abs(value - answers["right"]) <= 0.05:
        return right(
            f"{answers['right']:.2f} dB: close but not equal. Luma weighs gamma-encoded R, G, B; L comes from "
            "linear-light Y, so the two grays differ most on saturated colours"
        )
    if abs(value - answers["luma vs colour"]) <= 0.05:
        return wrong("that compares the luma gray with the colour photo; compare it with gray_baseline(rgb)")
    if abs(value - answers["L-gray vs colour"]) <= 0.05:
        return wrong("that is the gray baseline against the colour photo; compare the two grays with each other")
    return wrong(
        f"{value!r} is not it: stack the luma to three channels (np.repeat(luma[..., None], 3, axis=2)) and "
        "use colorlab.metrics.psnr(luma3, gray_baseline(rgb)) on the full-size photo"
    )


def gamut_edge(L: float = GAMUT_L, a: float = 0.0, step: float = 0.01) -> float:
    """The largest ``b >= 0`` with Lab(L, a, b) inside sRGB, to ``step`` (bisection over colorlab.color.out_of_srgb_gamut)."""

    def inside(b: float) -> bool:
        return not bool(out_of_srgb_gamut(torch.tensor([[[L]], [[a]], [[b]]], dtype=torch.float64)).item())

    low, high = 0.0, AB_SCALE
    while high - low > step:
        mid = (low + high) / 2
        low, high = (mid, high) if inside(mid) else (low, mid)
    return low


def check_gamut_edge(b: float | None) -> CheckResult:
    """``b``: the largest ``b`` (towards yellow) with Lab(:data:`GAMUT_L`, 0, b) inside the sRGB gamut, to ±1."""
    if b is None:
        return wrong(f"find the largest b at L = {GAMUT_L:g}, a = 0 that a screen can show, and pass it")
    if _not_a_number(b):
        return wrong(f"pass one number (Lab units), got {b!r}")
    want = gamut_edge()
    if abs(b - want) <= 1.0:
        return right(f"b = {want:.1f}: beyond it Lab({GAMUT_L:g}, 0, b) needs red above 1, so it is clipped")
    if b < 0:
        return wrong("towards yellow b is positive; the blue edge is a different question")
    if abs(b - 110) < 1:
        return wrong("110 is the edge of the plotted square, not of the gamut: test colours with out_of_srgb_gamut")
    if abs(b - AB_SCALE) <= 1 or abs(b - 127) <= 1:
        return wrong("that is the range the network's scaling allows (ab/128), not what sRGB can show")
    side = "outside the gamut" if b > want else "inside, but not the largest"
    return wrong(f"b = {b:g} is {side}: walk b up from 0 in small steps until out_of_srgb_gamut says True")


def check_rms_delta_e(value: float | None) -> CheckResult:
    """``value``: the RMS ΔE of a validation loss of :data:`LOSS_EXAMPLE` (MSE on ab / 128, L exact)."""
    if value is None:
        return wrong(f"turn the loss {LOSS_EXAMPLE} into an RMS ΔE in Lab units and pass the number")
    if _not_a_number(value):
        return wrong(f"pass one number (Lab units), got {value!r}")
    want = AB_SCALE * math.sqrt(2 * LOSS_EXAMPLE)
    if abs(value - want) <= 0.01:
        return right(f"{want:.2f} Lab units: mean ΔE² = 2 · 128² · loss when L is exact")
    mistakes = {
        AB_SCALE
        * math.sqrt(LOSS_EXAMPLE): "the loss averages over the two channels a and b: multiply by 2 before the root",
        math.sqrt(2 * LOSS_EXAMPLE): f"that is still in scaled units: multiply by AB_SCALE = {AB_SCALE:g}",
        2 * AB_SCALE**2 * LOSS_EXAMPLE: "that is the mean ΔE²: take the square root",
        AB_SCALE**2 * LOSS_EXAMPLE: "that is the mean of Δa² and Δb²: multiply by 2 and take the square root",
    }
    for mistake, message in mistakes.items():
        if abs(value - mistake) <= 0.01:
            return wrong(message)
    return wrong(
        f"{value!r} is not it: undo the scaling (x 128), then the mean over two channels (x 2), then the square"
    )
