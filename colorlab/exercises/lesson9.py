"""Checks for lesson 9, "You are the artist": guiding the colours with hints."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from .core import CheckResult, call_learner, right, wrong

__all__ = ["EXERCISE_PHOTO", "MAX_CLICKS", "exercise_photo", "wrong_region", "check_fix", "check_idw_weight"]

#: A held-out photo (the game's; no demo model trained on it) whose gray trousers the default model paints pink.
EXERCISE_PHOTO = "clothing-15eea7e2"
#: The most clicks exercise 1 allows.
MAX_CLICKS = 3
#: Pixels whose automatic colour is this far (ΔE in a, b) from the truth form the wrong region.
WRONG_DELTA_E = 15.0


@lru_cache(maxsize=1)
def _truth() -> np.ndarray:
    from ..crops import center_crop_resize
    from ..splits import game_images

    return center_crop_resize(game_images()[EXERCISE_PHOTO], 256)


@lru_cache(maxsize=1)
def _default_automatic() -> np.ndarray:
    from ..infer import colorize, load_pretrained

    return colorize(_truth(), load_pretrained("cpu"))


def exercise_photo(model: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """``(truth, automatic)``: the exercise's photo (256 x 256) and ``model``'s colours without hints
    (default: the demo model)."""
    from ..infer import colorize

    return _truth(), (_default_automatic() if model is None else colorize(_truth(), model))


def _ab_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from ..color import rgb_uint8_to_lab

    return np.linalg.norm(rgb_uint8_to_lab(a)[..., 1:] - rgb_uint8_to_lab(b)[..., 1:], axis=-1)


def wrong_region(model: Any = None) -> np.ndarray:
    """``(256, 256)`` bool: where the automatic colours are more than :data:`WRONG_DELTA_E` off."""
    truth, auto = exercise_photo(model)
    return _ab_error(auto, truth) > WRONG_DELTA_E


def check_fix(hints: Any, model: Any = None) -> CheckResult:
    """Exercise 1: at most :data:`MAX_CLICKS` hints that halve the colour error in the wrong region."""
    from ..hints import validate_hints
    from ..infer import colorize

    if hints is None:
        return wrong("make a list of hints [(x, y, colour), ...] and pass it here")
    try:
        checked = validate_hints(list(hints), 256, 256)
    except (TypeError, ValueError) as exc:
        return wrong(f"each hint is (x, y, colour) inside the 256 x 256 photo: {exc}")
    if not checked:
        return wrong("no hints yet: click where the colour is wrong, with the colour it should be")
    if len(checked) > MAX_CLICKS:
        return wrong(f"use at most {MAX_CLICKS} hints; you used {len(checked)}")
    from ..infer import load_pretrained

    truth, auto = exercise_photo(model)
    region = _ab_error(auto, truth) > WRONG_DELTA_E
    fixed = colorize(truth, model if model is not None else load_pretrained("cpu"), hints=checked)
    before, after = _ab_error(auto, truth)[region].mean(), _ab_error(fixed, truth)[region].mean()
    clicks = f"{len(checked)} hint{'s' if len(checked) > 1 else ''}"
    if after <= before / 2:
        return right(f"with {clicks} the wrong region's colour error fell from ΔE {before:.1f} to {after:.1f}")
    return wrong(
        f"with {clicks} the wrong region's colour error went from ΔE {before:.1f} to {after:.1f}; halve it. "
        "Put a hint inside the region, with the colour the photo has there (truth[y, x])"
    )


def check_idw_weight(fn: Any) -> CheckResult:
    """Exercise 2: ``idw_weight(d)`` is the inverse-distance baseline's weight 1 / (1 + d^2) for distances d."""
    d = np.array([0.0, 1.0, 2.0, 10.0])
    got, problem = call_learner(fn, "idw_weight(d) returning 1 / (1 + d**2)", d)
    if problem:
        return problem
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return wrong(f"idw_weight should return numbers, got {type(got).__name__}")
    expected = 1 / (1 + d**2)
    if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-9):
        return wrong(f"for d = {d.tolist()} expected {expected.round(4).tolist()}, got {np.round(got, 4).tolist()}")
    return right("a hint weighs 1 at its own pixel, 1/2 one pixel away and about 1/100 ten pixels away")
