"""Colour hints: the user's clicks as a network input (Zhang, Zhu et al., SIGGRAPH 2017).

A hint says "the colour here is this". A network that takes hints gets, beside the lightness, a
*hint image* ``(B, 3, H, W)``: scaled ``a`` and ``b`` (see :mod:`colorlab.color`) at the hinted
pixels and zero elsewhere, and a mask that is 1 where a hint is and 0 elsewhere. With no hint
the hint image is all zeros, and the network colours on its own.

Training cannot ask a person to click, so it *simulates* clicks from the true photo
(:func:`simulate_hints`): a random number of points per photo (none for half of them, so the
automatic result does not suffer), each a small square filled with the mean true colour of that
square. To make the most of them, the network must learn to spread a colour over the object it
belongs to, up to its edges: which is exactly what a user's click needs.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from typing import Any

import torch

__all__ = [
    "HINT_CHANNELS",
    "HINT_HALF",
    "Hint",
    "NO_HINTS_MESSAGE",
    "empty_hints",
    "hint_image",
    "parse_colour",
    "read_hints_file",
    "simulate_hints",
    "takes_hints",
    "validate_hints",
]

#: Channels of a hint image: scaled a, scaled b, mask.
HINT_CHANNELS = 3
#: A user's hint covers a square of ``2 * HINT_HALF + 1`` pixels of the network's input (7 at 224: the
#: size of the simulated clicks of training, relative to the photo).
HINT_HALF = 3
#: One hint: ``(x, y, (r, g, b))``, x the column and y the row of the photo, an sRGB colour 0-255.
Hint = tuple[float, float, tuple[int, int, int]]
#: What a model without hint channels says when given hints.
NO_HINTS_MESSAGE = (
    "this model takes no hints; models that do: the demo models 'regression' (the default) and 'classification', "
    "or a checkpoint trained with `colorlab train --arch unet --hints`"
)


def parse_colour(colour: Any) -> tuple[int, int, int]:
    """``"#RRGGBB"`` or three whole numbers 0-255 -> ``(r, g, b)``; a ``ValueError`` for anything else."""
    if isinstance(colour, str):
        m = re.fullmatch(r"#?([0-9a-fA-F]{6})", colour.strip())
        if not m:
            raise ValueError(f"hint colour {colour!r}: expected #RRGGBB, e.g. #d02020")
        return tuple(int(m[1][i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
    if (
        isinstance(colour, Sequence)
        and len(colour) == 3
        and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in colour)
    ):
        return (int(colour[0]), int(colour[1]), int(colour[2]))
    raise ValueError(f"hint colour {colour!r}: expected #RRGGBB or three whole numbers from 0 to 255")


def validate_hints(hints: Sequence[Any], width: int, height: int) -> list[Hint]:
    """Check ``[(x, y, colour), ...]`` against a ``width x height`` photo; return them normalized.

    ``x`` (column) and ``y`` (row) are pixel coordinates, ``0 <= x < width``, ``0 <= y < height``;
    the colour is ``"#RRGGBB"`` or ``(r, g, b)``. A bad hint raises a ``ValueError`` naming it.
    """
    out: list[Hint] = []
    for i, hint in enumerate(hints, start=1):
        if not isinstance(hint, Sequence) or isinstance(hint, str) or len(hint) != 3:
            raise ValueError(f"hint {i}: {hint!r} is not (x, y, colour)")
        x, y, colour = hint
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (x, y)):
            raise ValueError(f"hint {i}: x and y must be numbers, got {x!r}, {y!r}")
        if not (0 <= x < width and 0 <= y < height):
            raise ValueError(
                f"hint {i}: ({x}, {y}) is outside the {width}x{height} photo "
                f"(x from 0 to {width - 1}, y from 0 to {height - 1})"
            )
        out.append((float(x), float(y), parse_colour(colour)))
    return out


def read_hints_file(path: str | os.PathLike[str]) -> list[tuple[float, float, tuple[int, int, int]]]:
    """A JSON file ``[{"x": ..., "y": ..., "rgb": [r, g, b]}, ...]`` -> hints (positions unchecked)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the hints file ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    form = 'a list like [{"x": 10, "y": 20, "rgb": [200, 30, 30]}]'
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected {form}, got a {type(data).__name__}")
    hints = []
    for i, item in enumerate(data, start=1):
        if not isinstance(item, dict) or not {"x", "y", "rgb"} <= set(item):
            raise ValueError(f"{path}: entry {i} is not an object with x, y and rgb; expected {form}")
        hints.append((item["x"], item["y"], parse_colour(item["rgb"])))
    return hints


def hint_image(hints: Sequence[Hint], width: int, height: int, net_w: int, net_h: int) -> torch.Tensor:
    """Validated hints on a ``width x height`` photo -> the hint image ``(1, 3, net_h, net_w)`` the
    network sees: each hint's ``ab`` (its colour's, whatever its lightness) in a small square."""
    from .color import rgb_to_lab, scale_ab

    image = torch.zeros(1, HINT_CHANNELS, net_h, net_w)
    for x, y, rgb in hints:
        ab = scale_ab(rgb_to_lab(torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1) / 255.0)[:, 1:])[0, :, 0, 0]
        cx, cy = min(net_w - 1, int(x * net_w / width)), min(net_h - 1, int(y * net_h / height))
        y0, y1 = max(0, cy - HINT_HALF), min(net_h, cy + HINT_HALF + 1)
        x0, x1 = max(0, cx - HINT_HALF), min(net_w, cx + HINT_HALF + 1)
        image[0, :2, y0:y1, x0:x1] = ab[:, None, None]
        image[0, 2, y0:y1, x0:x1] = 1.0
    return image


def empty_hints(l_net: torch.Tensor) -> torch.Tensor:
    """The hint image that says nothing: zeros ``(B, 3, H, W)`` like ``l_net`` ``(B, 1, H, W)``."""
    b, _, h, w = l_net.shape
    return l_net.new_zeros(b, HINT_CHANNELS, h, w)


def simulate_hints(
    ab: torch.Tensor,
    *,
    none_prob: float = 0.5,
    p: float = 1 / 8,
    max_points: int = 32,
    max_half: int = 4,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Simulated clicks on the true scaled ``ab`` ``(B, 2, H, W)`` -> a hint image ``(B, 3, H, W)``.

    Each photo gets no hint with probability ``none_prob``; otherwise ``n`` points, ``n`` drawn
    from a geometric distribution with success probability ``p`` (mean ``1/p``, at most
    ``max_points``). Each point is a square of side ``2k + 1`` (``k`` uniform in ``0..max_half``)
    at a uniformly random place, filled with the mean true colour of that square.
    """
    if ab.dim() != 4 or ab.shape[1] != 2:
        raise ValueError(f"simulate_hints expects scaled ab (B, 2, H, W), got {tuple(ab.shape)}")
    b, _, h, w = ab.shape
    hints = ab.new_zeros(b, HINT_CHANNELS, h, w)
    u = torch.rand(b, 2 + 2 * max_points * 3, generator=generator).tolist()  # drawn once, on the CPU
    for i, r in enumerate(u):
        if r[0] < none_prob:
            continue
        n = min(max_points, 1 + int(math.log(max(r[1], 1e-12)) / math.log(1 - p)))
        for k in range(n):
            ry, rx, rs = r[2 + 3 * k : 5 + 3 * k]
            half = min(max_half, int(rs * (max_half + 1)))
            y, x = min(h - 1, int(ry * h)), min(w - 1, int(rx * w))
            y0, y1, x0, x1 = max(0, y - half), min(h, y + half + 1), max(0, x - half), min(w, x + half + 1)
            hints[i, :2, y0:y1, x0:x1] = ab[i, :, y0:y1, x0:x1].mean(dim=(1, 2), keepdim=True)
            hints[i, 2, y0:y1, x0:x1] = 1.0
    return hints


def takes_hints(model: torch.nn.Module) -> bool:
    """Whether ``model`` (or the model inside a DDP or compiled wrapper) takes a hint image."""
    for _ in range(3):
        model = getattr(model, "module", getattr(model, "_orig_mod", model))
    config = getattr(model, "config", None)
    return bool(getattr(config, "hints", False))
