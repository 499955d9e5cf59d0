"""Checks for lesson 5 (colorize your own photos): the size the network sees, "does this photo
have colour?", and the extractor's top-5.

>>> from colorlab.exercises import lesson5
>>> lesson5.check_network_size(my_network_size)   # my_network_size(height, width, size) -> (h, w)
>>> lesson5.check_has_colour(my_has_colour)       # my_has_colour(rgb) -> True / False
>>> lesson5.check_top5(my_top5)                   # my_top5(logits) -> [(class name, probability), ...]
>>> lesson5.check_saturation(my_saturation)        # the first of SATURATIONS at which flower is as vivid as the truth
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..infer import MAX_NETWORK_SIDE, network_input_size
from .core import CheckResult, call_learner, imagenet_classes, learner_problem, right, top_classes, wrong

__all__ = ["check_network_size", "check_has_colour", "check_top5", "check_saturation", "SIZE_CASES", "SATURATIONS"]

#: (height, width) photos the network-size check tries, at short side 224: portrait, landscape,
#: odd sizes, a tiny one, and a panorama whose long side hits the cap.
SIZE_CASES: tuple[tuple[int, int], ...] = ((300, 451), (173, 259), (90, 61), (7, 7), (200, 1500), (1000, 4000))
_SIZE = 224


def _pair(value: Any) -> tuple[int, int] | None:
    try:
        h, w = value
        return int(h), int(w)
    except (TypeError, ValueError):
        return None


def check_network_size(fn: Callable[[int, int, int], tuple[int, int]] | None) -> CheckResult:
    """``fn(height, width, size) -> (h, w)``: the size :func:`colorlab.colorize` gives the network for a
    ``height x width`` photo (short side ``size``, aspect ratio kept, multiples of 8, long side at most
    :data:`colorlab.infer.MAX_NETWORK_SIDE`)."""
    for height, width in SIZE_CASES:
        got, problem = call_learner(fn, "my_network_size(height, width, size) returning (h, w)", height, width, _SIZE)
        if problem is not None:
            return problem
        pair = _pair(got)
        if pair is None:
            return wrong(f"return two whole numbers (h, w); my_network_size({height}, {width}, {_SIZE}) gave {got!r}")
        want = network_input_size(height, width, _SIZE)
        if pair == want:
            continue
        h, w = pair
        case = f"for a {height}x{width} photo you gave ({h}, {w}), the network sees {want}"
        if pair == want[::-1]:
            return wrong(f"{case}: return (height, width), in that order, as numpy shapes are")
        if pair == (_SIZE, _SIZE) and height != width:
            return wrong(f"{case}: the network sees the whole photo, not a square crop; keep the aspect ratio")
        if h % 8 or w % 8:
            return wrong(f"{case}: round each side to a multiple of 8 (the encoder halves the size three times)")
        if max(pair) > MAX_NETWORK_SIDE:
            return wrong(f"{case}: a very long photo would not fit in memory; cap the long side at {MAX_NETWORK_SIDE}")
        if min(pair) < 8:
            return wrong(f"{case}: both sides must be at least 8")
        return wrong(
            f"{case}: scale so the short side becomes {_SIZE}, then round each side to the nearest multiple of 8"
        )
    return right(
        f"the same sizes as colorlab.infer.network_input_size on {len(SIZE_CASES)} photos, the capped panorama included"
    )


def _colour_cases() -> list[tuple[str, np.ndarray, bool]]:
    """(description, photo, has colour?) for the colour check: a colour photo, its exact gray version,
    the gray version as a JPEG leaves it (channels a unit or two apart), and a faintly tinted photo."""
    from ..metrics import gray_baseline
    from ..samples import sample_images

    photo = sample_images(["coffee"])["coffee"][::4, ::4]  # small: the check runs in a blink
    gray = np.repeat(gray_baseline(photo)[..., 1:2], 3, axis=2)  # exactly R = G = B
    rng = np.random.default_rng(0)
    jpeg_gray = np.clip(gray.astype(int) + rng.integers(-1, 2, gray.shape), 0, 255).astype(np.uint8)
    tinted = np.clip(gray.astype(int) + np.array([18, 6, -12]), 0, 255).astype(np.uint8)  # an old sepia print
    return [
        ("a colour photo", photo, True),
        ("a black-and-white photo (R = G = B)", gray, False),
        ("a black-and-white photo saved as JPEG (channels differ by a unit or two)", jpeg_gray, False),
        ("a sepia print (every pixel tinted brown)", tinted, True),
    ]


def check_has_colour(fn: Callable[[np.ndarray], bool] | None) -> CheckResult:
    """``fn(rgb) -> bool``: does an ``(H, W, 3)`` uint8 photo have colour (so the app shows an original)?"""
    what = "my_has_colour(rgb) returning True or False"
    problem = learner_problem(fn, what)  # before loading the photos
    if problem is not None:
        return problem
    answers = []
    for text, image, want in _colour_cases():
        got, problem = call_learner(fn, what, image.copy())
        if problem is not None:
            return problem
        if not isinstance(got, (bool, np.bool_)):
            return wrong(f"return True or False, got {got!r} for {text}")
        answers.append((text, bool(got), want))
    wrong_ones = [(text, got) for text, got, want in answers if got != want]
    if not wrong_ones:
        return right("colour and sepia say yes; gray says no, even with the JPEG's unit-or-two differences")
    if all(got != want for _, got, want in answers):
        return wrong(
            "every answer is the opposite: the function should say whether the photo HAS colour (True for colour)"
        )
    text, got = wrong_ones[0]
    if "JPEG" in text:
        return wrong(
            f"{text}: you said {got}. Exact equality of R, G and B is too strict: allow a small tolerance, "
            "e.g. the mean of |R - G| and |G - B| above 2"
        )
    if "sepia" in text:
        return wrong(f"{text}: you said {got}. A tint is colour too: compare the channels, not their spread")
    return wrong(f"{text}: you said {got}, the answer is {not got}")


def _example_logits() -> torch.Tensor:
    """``(1000,)`` logits with a clear winner and a few runners-up (fixed)."""
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(1000, generator=g)
    logits[[285, 281, 282, 287, 728]] += torch.tensor([7.0, 5.5, 5.0, 4.0, 3.5])
    return logits


def check_top5(fn: Callable[[torch.Tensor], list[tuple[str, float]]] | None) -> CheckResult:
    """``fn(logits) -> [(class name, probability), ...]``: the 5 most likely ImageNet classes of ``(1000,)``
    logits, most likely first, with softmax probabilities."""
    logits = _example_logits()
    got, problem = call_learner(fn, "my_top5(logits) returning [(class name, probability), ...]", logits.clone())
    if problem is not None:
        return problem
    try:
        pairs = [(str(name), float(p)) for name, p in got]
    except (TypeError, ValueError):
        return wrong(f"return a list of (class name, probability) pairs, got {type(got).__name__}")
    want = top_classes(logits, 5)
    names = [n for n, _ in pairs]
    if len(pairs) != 5:
        return wrong(f"return exactly 5 pairs, got {len(pairs)}")
    if names == [n for n, _ in want] and all(abs(p - q) < 1e-4 for (_, p), (_, q) in zip(pairs, want)):
        return right(f"{want[0][0]} first at {want[0][1]:.0%}: softmax, then the 5 largest, most likely first")
    if sorted(names) == sorted(n for n, _ in want) and names != [n for n, _ in want]:
        return wrong("the right five classes in the wrong order: the most likely first (topk gives that order)")
    if names == [n for n, _ in want]:
        if any(p > 1 for _, p in pairs) or sum(p for _, p in pairs) > 1 + 1e-6:
            return wrong("the right classes, but those are raw logits: turn them into probabilities with torch.softmax")
        return wrong(f"the right classes, wrong probabilities: expected {[round(q, 4) for _, q in want]}")
    classes = imagenet_classes()
    lowest = [classes[i] for i in logits.argsort()[:5].tolist()]
    if set(names) == set(lowest):
        return wrong("those are the five LEAST likely classes: take the largest values (topk, or argsort descending)")
    return wrong(f"expected the classes {[n for n, _ in want]}; name index i with viz.imagenet_classes()[i]")


#: The saturations exercise 4 tries on the held-out photo ``flower`` with the regression demo model.
SATURATIONS: tuple[float, ...] = (1.0, 1.5, 2.0, 2.5, 3.0)


def saturation_table(model: Any = None, photo: str = "flower") -> tuple[dict[float, float], float]:
    """``({saturation: colourfulness of the colorized photo}, colourfulness of the truth)`` for the
    regression demo model (or ``model``) at :data:`SATURATIONS`, at the lessons' network size."""
    from ..infer import colorize, load_pretrained
    from ..metrics import colorfulness
    from ..splits import heldout_images

    truth = heldout_images()[photo]
    model = load_pretrained(head="regression") if model is None else model
    values = {k: colorfulness(colorize(truth, model, saturation=k, size=_SIZE)) for k in SATURATIONS}
    return values, colorfulness(truth)


@functools.lru_cache(maxsize=1)
def _demo_saturation_table() -> tuple[dict[float, float], float]:
    return saturation_table()


def check_saturation(answer: Any, model: Any = None) -> CheckResult:
    """``answer``: the first saturation of :data:`SATURATIONS` at which the regression demo model's
    ``flower`` is at least as colourful as the truth (``model`` replaces the demo model)."""
    if answer is None:
        return wrong(
            f"colorize flower at each saturation of {SATURATIONS}, and pass the first whose colourfulness "
            "reaches the truth's"
        )
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return wrong(f"pass one saturation, a number from {SATURATIONS}, got {answer!r}")
    if not any(abs(answer - k) < 1e-9 for k in SATURATIONS):
        return wrong(f"pass one of the saturations tried, {SATURATIONS}")
    values, target = _demo_saturation_table() if model is None else saturation_table(model)
    k = next(k for k in SATURATIONS if abs(answer - k) < 1e-9)
    reached = [s for s in SATURATIONS if values[s] >= target]
    if values[k] < target:
        return wrong(f"at saturation {k:g} the colourfulness is {values[k]:.1f}, still below the truth's {target:.1f}")
    if k != reached[0]:
        return wrong(f"{k:g} reaches it ({values[k]:.1f} >= {target:.1f}), but {reached[0]:g} already does")
    below = max((s for s in SATURATIONS if s < k), default=None)
    before = f"; at {below:g} it was {values[below]:.1f}" if below is not None else ""
    return right(f"at {k:g} the colourfulness is {values[k]:.1f}, the truth's is {target:.1f}{before}")
