"""Checks for lesson 8 (colorizing film without flicker).

Each check calls your function on a small synthetic clip whose answer is known
and says what is right or what to look at next::

    from colorlab.exercises import lesson8
    lesson8.check_smooth_ab(my_smooth_ab)     # the moving average, restarted at cuts
    lesson8.check_detect_cuts(my_detect_cuts) # scene cuts from the lightness alone
    lesson8.check_flicker(my_flicker)         # the flicker figure
    lesson8.check_time_constant(my_answer)    # (tau, alpha at 12 fps) for alpha = 0.3 at 24 fps
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from .. import video
from .core import CheckResult, call_learner, right, wrong

__all__ = [
    "check_smooth_ab",
    "check_detect_cuts",
    "check_flicker",
    "check_time_constant",
    "jittery_ab",
    "panning_lightness",
]


def jittery_ab(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A clip's predicted ab ``(8, 2, 4, 6)``: a reddish shot of 5 frames, a cut, a bluish shot of 3,
    each frame with its own jitter; and the cuts ``(8,)`` (True at frame 5)."""
    g = torch.Generator().manual_seed(seed)
    red = torch.tensor([35.0, 20.0]).view(1, 2, 1, 1).expand(5, 2, 4, 6)
    blue = torch.tensor([0.0, -35.0]).view(1, 2, 1, 1).expand(3, 2, 4, 6)
    ab = torch.cat([red, blue]) + 5.0 * torch.randn(8, 2, 4, 6, generator=g)
    cuts = torch.zeros(8, dtype=torch.bool)
    cuts[5] = True
    return ab, cuts


def panning_lightness(seed: int = 0) -> tuple[torch.Tensor, list[int]]:
    """``L`` ``(12, 1, 48, 64)`` of a camera panning 1 px per frame over a grainy scene, a hard cut at
    frame 7 to another scene; and the frames that start a shot after the first (``[7]``)."""
    g = torch.Generator().manual_seed(seed)
    texture = F.avg_pool2d(torch.rand(1, 1, 48, 80, generator=g) * 40, 5, 1, 2)
    scene1 = texture + torch.linspace(20, 60, 80).view(1, 1, 1, 80)
    scene2 = texture.flip(-1) + torch.linspace(80, 20, 48).view(1, 1, 48, 1)
    frames = [(scene1 if t < 7 else scene2)[..., t : t + 64] for t in range(12)]
    return torch.cat(frames) + 2.0 * torch.randn(12, 1, 48, 64, generator=g), [7]


def check_smooth_ab(fn: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor] | None) -> CheckResult:
    """Check ``fn(ab_seq, cuts, alpha) -> (T, 2, h, w)``: the moving average of ab, restarted at cuts."""
    signature = "my_smooth_ab(ab_seq, cuts, alpha) returning a (T, 2, h, w) tensor"
    ab, cuts = jittery_ab()
    alpha = 0.3
    original = ab.clone()
    got, problem = call_learner(fn, signature, ab, cuts.clone(), alpha)
    if problem is not None:
        return problem
    if not torch.equal(ab, original):
        return wrong("your function changed ab_seq in place; write the smoothed frames into a new tensor")
    try:
        got = torch.as_tensor(got, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        return wrong(f"return a tensor of shape {tuple(ab.shape)}, not {type(got).__name__}")
    if tuple(got.shape) != tuple(ab.shape):
        return wrong(f"return one smoothed frame per input frame: shape {tuple(ab.shape)}, got {tuple(got.shape)}")
    expected = video.smooth_ab(ab, cuts, alpha)
    if torch.allclose(got, expected, atol=1e-4):
        return right("s_t = alpha * ab_t + (1 - alpha) * s_(t-1), started afresh at the cut: the library's smooth_ab")
    if torch.allclose(got, video.smooth_ab(ab, torch.zeros_like(cuts), alpha), atol=1e-4):
        return wrong("the colours blend across the cut at frame 5: where cuts[t] is True, start again from ab_t")
    if torch.allclose(got, video.smooth_ab(ab, cuts, 1 - alpha), atol=1e-4):
        return wrong(
            "alpha weights the newest frame: s_t = alpha * ab_t + (1 - alpha) * s_(t-1), not the other way round"
        )
    if torch.allclose(got, ab, atol=1e-4):
        return wrong("that is the raw sequence: nothing was averaged")
    bad = [t for t in range(len(ab)) if not torch.allclose(got[t], expected[t], atol=1e-4)]
    return wrong(
        f"frame {bad[0]} differs (first of {len(bad)}); frame 0 is ab_0, each later frame mixes ab_t with s_(t-1)"
    )


def check_detect_cuts(fn: Callable[[torch.Tensor, float], torch.Tensor] | None) -> CheckResult:
    """Check ``fn(l_seq, threshold) -> (T,) bool`` on a grainy pan with one hard cut (any method that finds it)."""
    signature = "my_detect_cuts(l_seq, threshold) returning a (T,) bool tensor"
    L, truth = panning_lightness()
    got, problem = call_learner(fn, signature, L.clone(), video.DEFAULT_CUT_THRESHOLD)
    if problem is not None:
        return problem
    try:
        got = torch.as_tensor(got).reshape(-1).bool()
    except (TypeError, ValueError, RuntimeError):
        return wrong(f"return a (T,) bool tensor, not {type(got).__name__}")
    if got.numel() != len(L):
        return wrong(f"return one entry per frame ({len(L)}), got {got.numel()}")
    found = torch.nonzero(got).flatten().tolist()
    if found == truth:
        return right(f"one cut, at frame {truth[0]}, and the pan with grain is not mistaken for one")
    if found == [t - 1 for t in truth]:
        return wrong(
            f"you marked frame {truth[0] - 1}, the last frame of the old shot; mark the first frame of the new one"
        )
    if not found:
        return wrong(f"no cut found; the cut is at frame {truth[0]}: compare each frame with the one before it")
    if len(found) > len(truth):
        return wrong(
            f"{len(found)} frames marked ({found}); only frame {truth[0]} starts a new shot. Slow motion and grain "
            "change single pixels a lot: compare coarse copies (average-pool L to a small grid) instead"
        )
    return wrong(f"you marked {found}; the cut is at frame {truth[0]}")


def check_flicker(fn: Callable[[torch.Tensor, torch.Tensor], float] | None) -> CheckResult:
    """Check ``fn(ab_seq, cuts) -> float``: the mean colour change between frames, pairs across cuts left out."""
    signature = "my_flicker(ab_seq, cuts) returning a float"
    ab, cuts = jittery_ab(seed=1)
    got, problem = call_learner(fn, signature, ab.clone(), cuts.clone())
    if problem is not None:
        return problem
    try:
        value = float(got)
    except (TypeError, ValueError, RuntimeError):
        return wrong(f"return one number (a float), not {type(got).__name__}")
    expected = video.flicker(ab, cuts)
    if abs(value - expected) < 1e-3:
        return right(f"{expected:.3f} Lab units per frame: the pair across the cut left out, as the library's flicker")
    if abs(value - video.flicker(ab)) < 1e-3:
        return wrong("you counted the pair across the cut (frames 4 -> 5): a new shot's colour change is not flicker")
    keep = ~cuts[1:]
    per_channel = (ab[1:] - ab[:-1]).abs().mean(dim=(1, 2, 3))[keep].mean()
    if abs(value - float(per_channel)) < 1e-3:
        return wrong("measure each pixel's change as the length sqrt(da^2 + db^2), not |da| and |db| averaged")
    return wrong(
        f"got {value:.3f}; take the mean over pixels of sqrt(da^2 + db^2) per frame pair, then the mean over pairs"
    )


def check_time_constant(answer: Any) -> CheckResult:
    """``answer = (tau, alpha_12)``: the time constant (seconds) that gives ``alpha = 0.3`` at 24 fps
    through ``alpha = 1 - exp(-dt / tau)``, and the ``alpha`` it gives at 12 fps."""
    if answer is None:
        return wrong("work out tau (in seconds) and alpha at 12 fps, and pass them as (tau, alpha_12)")
    try:
        tau, alpha_12 = (float(v) for v in answer)
    except (TypeError, ValueError):
        return wrong(f"pass two numbers, (tau, alpha_12), got {answer!r}")
    want_tau = -(1 / 24) / math.log(1 - 0.3)
    want_alpha = 1 - math.exp(-(1 / 12) / want_tau)
    if not (math.isfinite(tau) and math.isfinite(alpha_12)):
        return wrong(f"pass two finite numbers, got ({tau!r}, {alpha_12!r})")
    if abs(tau - 1 / (24 * 0.3)) < 2e-3:
        return wrong(
            f"tau = {tau:.3f} s is 1 / (24 * 0.3), the 'about 1/alpha frames' rule of thumb; solve "
            "0.3 = 1 - exp(-(1/24) / tau) exactly: tau = -(1/24) / ln(0.7)"
        )
    if abs(tau / 1000 - want_tau) < 2e-3:
        return wrong("tau looks like milliseconds; give it in seconds")
    if abs(tau - want_tau) > 2e-3:
        return wrong(f"tau = {tau:.4f} s is not it: solve 0.3 = 1 - exp(-(1/24) / tau) for tau")
    if abs(alpha_12 - 0.3) < 1e-3:
        return wrong("alpha at 12 fps is not 0.3: with a fixed tau, a longer gap between frames gives a larger alpha")
    if abs(alpha_12 - 0.6) < 1e-3:
        return wrong("doubling alpha is the linear guess; use alpha = 1 - exp(-(1/12) / tau), i.e. 1 - 0.7**2")
    if abs(alpha_12 - want_alpha) > 5e-3:
        return wrong(f"alpha at 12 fps = {alpha_12:.3f} is not it: alpha = 1 - exp(-(1/12) / tau)")
    return right(
        f"tau = {want_tau:.3f} s; at 12 fps alpha = 1 - 0.7**2 = {want_alpha:.2f}: two 24 fps steps in one, "
        "so the smoothing lasts the same time"
    )
