"""Spreading the user's hints over the photo, along its edges (with the network's answer as the prior).

A hint says "the colour here is this". The network that takes hints (:mod:`colorlab.hints`) learned
to use them only a little (measured in benchmarks/hint_gain.py), and a plain classical spread does
better: give every pixel the hints' colours weighted by how close each hint is. Here closeness is
*geodesic*: the cost of a path from the hint to the pixel grows with every step and with every
change of lightness it crosses (``1 + beta * |grad L|`` per pixel, on a slightly blurred L so
texture matters less than outlines), so a hint's colour flows over its own object and stops at its
edges. The network's own answer takes part as one more, weak "hint" present everywhere (weight
``prior``), so far from every hint the photo keeps the network's colours — but first fitted to the
hints (:func:`fit_to_hints`): where the clicks show that the network paints too strongly, too
weakly or with a cast, its colours are scaled and shifted to agree with them::

    ab(p) = (sum_i w_i(p) ab_i + prior * fit(ab_net)(p)) / (sum_i w_i(p) + prior),
    w_i(p) = 1 / (1 + (g_i(p) / sigma)^2),   g_i = geodesic distance from hint i

``sigma`` is a fraction of the photo's short side. Measured on held-out photos with 10 true hints
(benchmarks/hint_gain.py), this beats both the network alone and the inverse-distance spread of the
same hints.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "BETA",
    "BLUR",
    "FIT_MIN_HINTS",
    "FIT_OFFSET",
    "FIT_SCALE",
    "PRIOR",
    "SIGMA",
    "fit_to_hints",
    "geodesic_distances",
    "inverse_distance_field",
    "spread_hints",
]

#: Cost of crossing lightness: a path step costs ``1 + BETA * |grad L|`` (L in 0-100 per pixel).
BETA = 30.0
#: L is blurred by this much (pixels of the coarse grid) first, so texture does not stop a hint
#: the way an object's outline does.
BLUR = 2.0
#: Fall-off of a hint's weight, as a fraction of the photo's short side.
SIGMA = 0.5
#: Weight of the network's own answer at every pixel (a hint right there weighs 1).
PRIOR = 0.005
#: How firmly :func:`fit_to_hints` keeps the network's scale (1) and shift (0): ridge weights, the
#: scale's in units of the network's mean squared ab at the hints, the shift's in hints. Chosen on
#: held-out photos (issue 25; checked on a second, disjoint set of them).
FIT_SCALE = 1.0
FIT_OFFSET = 3.0
#: Fewer hints than this change nothing globally: one click says what colour *its* object is, not
#: that the whole photo is off.
FIT_MIN_HINTS = 3
#: The distances are computed on a grid this many times coarser (then upsampled): 4x fewer pixels.
STEP = 2


def geodesic_distances(lightness: np.ndarray, points: Sequence[tuple[float, float]], beta: float = BETA) -> np.ndarray:
    """``(N, H, W)`` edge-aware distances (in pixels of ``lightness``) from each ``(x, y)`` point."""
    from scipy.ndimage import gaussian_filter
    from skimage.graph import MCP_Geometric
    from skimage.transform import resize

    coarse = gaussian_filter(np.asarray(lightness, dtype=np.float64)[::STEP, ::STEP], BLUR)
    gy, gx = np.gradient(coarse)
    cost = 1.0 + beta * np.hypot(gx, gy)
    h, w = coarse.shape
    out = np.empty((len(points), *lightness.shape), dtype=np.float32)
    for i, (x, y) in enumerate(points):
        seed = (min(h - 1, int(y) // STEP), min(w - 1, int(x) // STEP))
        distance, _ = MCP_Geometric(cost).find_costs([seed])
        out[i] = resize(distance, lightness.shape, order=1) * STEP
    return out


def fit_to_hints(net_ab: np.ndarray, points: Sequence[tuple[float, float]], hint_ab: np.ndarray) -> np.ndarray:
    """``net_ab`` (``(H, W, 2)``, Lab units) scaled and shifted per channel, ``s * ab + t``, to agree
    with the hints at their pixels: ridge regression of the hints' ab on the network's there, pulled
    towards ``s = 1, t = 0`` (:data:`FIT_SCALE`, :data:`FIT_OFFSET`). Fewer than
    :data:`FIT_MIN_HINTS` hints: unchanged."""
    net_ab = np.asarray(net_ab, dtype=np.float32)
    if len(points) < FIT_MIN_HINTS:
        return net_ab
    h, w = net_ab.shape[:2]
    rows = [min(h - 1, max(0, round(y))) for _, y in points]
    cols = [min(w - 1, max(0, round(x))) for x, _ in points]
    at = net_ab[rows, cols].astype(np.float64)  # (N, 2): the network's answer under each hint
    target = np.asarray(hint_ab, dtype=np.float64)
    fitted = np.empty_like(net_ab)
    for c in range(2):
        x, y = at[:, c], target[:, c]
        pull = FIT_SCALE * max(float((x**2).mean()), 25.0)  # at least a 5-unit colour's worth
        lhs = np.array([[x @ x + pull, x.sum()], [x.sum(), len(x) + FIT_OFFSET]])
        scale, shift = np.linalg.solve(lhs, np.array([x @ y + pull, y.sum()]))
        fitted[..., c] = scale * net_ab[..., c] + shift
    return fitted


def spread_hints(
    lightness: np.ndarray,
    points: Sequence[tuple[float, float]],
    hint_ab: np.ndarray,
    net_ab: np.ndarray,
    *,
    beta: float = BETA,
    sigma: float = SIGMA,
    prior: float = PRIOR,
) -> np.ndarray:
    """The ``(H, W, 2)`` ab (Lab units) of the network's ``net_ab`` guided by hints.

    ``lightness`` is ``(H, W)`` L (0-100), ``points`` the hints' ``(x, y)`` pixels, ``hint_ab``
    their ``(N, 2)`` colours in Lab units. No hints: ``net_ab`` unchanged. Far from every hint the
    result is the network's answer fitted to the hints (:func:`fit_to_hints`).
    """
    if len(points) == 0:
        return np.asarray(net_ab, dtype=np.float32)
    distances = geodesic_distances(lightness, points, beta)
    weights = 1.0 / (1.0 + (distances / (sigma * min(lightness.shape))) ** 2)  # (N, H, W)
    ab = np.asarray(hint_ab, dtype=np.float32)
    total = np.einsum("nhw,nc->hwc", weights, ab) + prior * fit_to_hints(net_ab, points, ab)
    return total / (weights.sum(0) + prior)[..., None]


def inverse_distance_field(
    shape: tuple[int, int], points: Sequence[tuple[float, float]], hint_ab: np.ndarray
) -> np.ndarray:
    """The naive baseline: each pixel gets the hints' ab weighted by ``1 / (1 + squared distance)``."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    weights = np.stack([1.0 / (1.0 + (xx - x) ** 2 + (yy - y) ** 2) for x, y in points])
    return np.einsum("nhw,nc->hwc", weights, np.asarray(hint_ab, dtype=np.float64)) / weights.sum(0)[..., None]
