"""Colour as classification (lesson 6): the colour bins on the (a, b) plane, class rebalancing, and a
photo decoded at several temperatures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..color import lab_to_rgb
from .lab import AB_PLOT_LIMIT

__all__ = ["bins_figure", "rebalancing_figure", "temperature_strip"]


def _bin_colours(bins: torch.Tensor, preferred_l: float = 65.0) -> np.ndarray:
    """A displayable colour ``(Q, 3)`` in [0, 1] for each bin centre ``(Q, 2)``: the bin's (a, b) at the
    lightness nearest ``preferred_l`` where that colour is inside sRGB (or nearly, for edge cells)."""
    from ..color import rgb_to_lab

    levels = torch.arange(5.0, 100.0, 2.5, dtype=torch.float64)  # (K,)
    ab = bins.to(torch.float64)
    q, k = ab.shape[0], levels.shape[0]
    lab = torch.stack([levels[None, :].expand(q, k), ab[:, 0:1].expand(q, k), ab[:, 1:2].expand(q, k)])  # (3, Q, K)
    rgb = lab_to_rgb(lab)  # clipped into the gamut
    miss = (rgb_to_lab(rgb) - lab).norm(dim=0)  # 0 where the colour is displayable as it is
    cost = miss + 0.01 * (levels[None, :] - preferred_l).abs()  # in gamut first, then near the preferred L
    best = cost.argmin(dim=1)
    return rgb[:, torch.arange(q), best].T.numpy()


def _draw_bins(ax: plt.Axes, bins: torch.Tensor, facecolors: Any, grid: float) -> None:
    from matplotlib.collections import PatchCollection

    half = grid / 2
    squares = [Rectangle((float(a) - half, float(b) - half), grid, grid) for a, b in bins.tolist()]
    ax.add_collection(PatchCollection(squares, facecolors=facecolors, edgecolors="white", linewidths=0.4))
    lim = AB_PLOT_LIMIT + grid
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("a (green - / red +)")
    ax.set_ylabel("b (blue - / yellow +)")


def bins_figure(bins: torch.Tensor, grid: float | None = None, title: str | None = None) -> Figure:
    """The colour bins ``(Q, 2)`` (centres, Lab units) as squares on the (a, b) plane, each painted in a
    colour it stands for (at the lightness where that colour exists)."""
    from ..colorbins import GRID

    grid = grid or GRID
    fig, ax = plt.subplots(figsize=(6, 6))
    _draw_bins(ax, bins, _bin_colours(bins), grid)
    ax.set_title(title or f"The Q = {len(bins)} bins of {grid:g} x {grid:g} Lab units that sRGB colours reach")
    fig.tight_layout()
    return fig


#: Priors below this are drawn at this value (log scales would otherwise span 40 decades).
_RAREST_SHOWN = 1e-7


def rebalancing_figure(
    bins: torch.Tensor, prior: torch.Tensor, weights: torch.Tensor, lam: float, grid: float | None = None
) -> Figure:
    """How common each bin is (``prior`` ``(Q,)``) and the loss weight it gets (``weights`` ``(Q,)``), on the
    (a, b) plane (log colour scales); right, weight against prior for several mixing factors λ."""
    from matplotlib.colors import LogNorm

    from ..colorbins import GRID, rebalance_weights

    grid = grid or GRID
    p, w = prior.detach().double().cpu(), weights.detach().double().cpu()
    shown_p = p.clamp(min=_RAREST_SHOWN)  # the smoothed prior reaches 1e-40 at the gamut's edge
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2))
    for ax, values, name, cmap in (
        (axes[0], shown_p, "prior p: share of the pixels in each bin", "viridis"),
        (axes[1], w, f"loss weight w (λ = {lam:g})", "magma"),
    ):
        norm = LogNorm(vmin=float(values.min()), vmax=float(values.max()))
        colours = plt.get_cmap(cmap)(norm(values.numpy()))
        _draw_bins(ax, bins, colours, grid)
        fig.colorbar(
            plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, fraction=0.046, pad=0.04, label=name.split(":")[0]
        )
        ax.set_title(name)
    order = torch.argsort(p)
    ax = axes[2]
    for mix in sorted({1.0, float(lam), 0.1}, reverse=True):
        curve = rebalance_weights(p, mix)
        ax.plot(
            shown_p[order].numpy(),
            curve[order].numpy(),
            lw=2 if mix == lam else 1,
            label=f"λ = {mix:g}" + (" (used)" if mix == lam else ""),
        )
    ax.scatter(shown_p.numpy(), w.numpy(), s=8, color="k", zorder=3, label="the bins")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"prior p of the bin (log; below {_RAREST_SHOWN:g} drawn at {_RAREST_SHOWN:g})")
    ax.set_ylabel("weight w (log)")
    ax.set_title("Rare colours weigh more: w ∝ 1 / ((1-λ)p + λ/Q)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.suptitle("Class rebalancing: the colour prior of the training photos and the loss weights it gives")
    fig.tight_layout()
    return fig


def temperature_strip(images: Mapping[float, np.ndarray], truth: np.ndarray, title: str | None = None) -> Figure:
    """A photo decoded at several temperatures, ``{T: (H, W, 3) uint8}`` (e.g. from
    ``colorize(..., temperature=T)``), then the ``truth``; each panel gives its colourfulness."""
    from ..metrics import colorfulness

    panels = [(f"T = {t:g}" + (" (mean)" if t == 1 else ""), img) for t, img in images.items()] + [("truth", truth)]
    fig, axes = plt.subplots(1, len(panels), figsize=(2.8 * len(panels), 3.2), squeeze=False)
    for ax, (name, img) in zip(axes[0], panels):
        ax.imshow(img)
        ax.set_title(name)
        ax.set_xlabel(f"colourfulness {colorfulness(img):.0f}")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title or "Annealed mean: from the mean of the colours (T = 1) towards the most likely one (T → 0)")
    fig.tight_layout()
    return fig
