"""Training drawn: the loss per epoch, overfitting one photo, and what each loss predicts for a pixel
whose colour is uncertain (the constant optima of MSE, L1 and colour bins; averaging on the ab plane)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..color import lab_to_rgb
from .lab import AB_PLOT_LIMIT, _ab_background, _lab_swatch

__all__ = ["loss_curve", "overfit_figure", "constant_optima", "loss_optima_figure", "averaging_figure"]


def loss_curve(history: Sequence[Mapping[str, Any]], ax: plt.Axes | None = None) -> Figure:
    """Training and validation loss per epoch from a :class:`colorlab.engine.Trainer` history."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.5))
    else:
        fig = ax.figure
    epochs = [h["epoch"] for h in history]
    ax.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    if history and "val_loss" in history[0]:
        ax.plot(epochs, [h.get("val_loss", np.nan) for h in history], "s--", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE on scaled ab")
    ax.set_title("Loss")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def overfit_figure(losses: Sequence[float], snapshots: Mapping[int, np.ndarray], truth: np.ndarray) -> Figure:
    """Overfitting one photo: the loss of every step, then the photo as colorized after some steps, then the truth.

    ``losses`` are the per-step MSE on scaled ab; the right axis shows the same curve as the RMS
    ab error per channel in Lab units, ``AB_SCALE * sqrt(MSE)``. ``snapshots`` maps a step
    number (0: before training) to the ``(H, W, 3)`` uint8 colorization after that many steps.
    """
    from ..color import AB_SCALE

    n = len(snapshots) + 1
    fig, axes = plt.subplots(1, n + 1, figsize=(4.6 + 2.4 * n, 3.3), gridspec_kw={"width_ratios": [1.9] + [1] * n})
    ax = axes[0]
    ax.plot(np.arange(1, len(losses) + 1), losses, lw=1.5)
    ax.set_xlabel("step")
    ax.set_ylabel("MSE on scaled ab")
    ax.set_title("Loss, two units")
    ax.grid(alpha=0.3)
    rms = ax.secondary_yaxis(
        "right", functions=(lambda m: AB_SCALE * np.sqrt(np.maximum(m, 0.0)), lambda r: (np.asarray(r) / AB_SCALE) ** 2)
    )
    rms.set_ylabel("RMS ab error (Lab units)")
    panels = [(f"after {step} steps" if step else "before training", img) for step, img in snapshots.items()]
    for ax, (title, img) in zip(axes[1:], [*panels, ("truth", truth)]):
        ax.imshow(img)
        ax.set_title(title)
        ax.set_xlabel("x (px)")
        ax.set_ylabel("y (px)")
    fig.suptitle("Overfitting one photo: the loss falls and the colour comes in")
    fig.tight_layout()
    return fig


def constant_optima(ab_samples: np.ndarray, temperature: float | None = None) -> dict[str, np.ndarray]:
    """The one colour each objective predicts for a patch whose true colours over the data are ``ab_samples``.

    A network that cannot tell the samples apart (same lightness, same surroundings) can do no
    better than one answer for all of them; this is the answer that minimises each loss over the
    samples. ``ab_samples`` ``(N, 2)`` Lab units; returns ``(2,)`` Lab units under the keys
    ``"MSE"`` (the mean), ``"L1"`` (the median of a and of b), ``"bins: annealed mean"`` and
    ``"bins: mode"``. For the bins (the classification head of :mod:`colorlab.colorbins`) the
    cross-entropy optimum is the samples' own soft-encoded distribution over the bins, decoded by
    :func:`colorlab.colorbins.annealed_mean` at ``temperature`` (default: the paper's,
    :data:`colorlab.colorbins.TEMPERATURE`) and by its most probable bin.
    """
    from .. import colorbins

    ab = np.asarray(ab_samples, dtype=np.float64)
    if ab.ndim != 2 or ab.shape[1] != 2 or len(ab) == 0:
        raise ValueError(f"constant_optima: expected (N, 2) ab samples in Lab units, got shape {ab.shape}")
    bins = colorbins.gamut_bins()
    pixels = torch.from_numpy(ab).float().T.reshape(1, 2, -1, 1)  # (1, 2, N, 1): N pixels of one image
    distribution = colorbins.soft_encode(pixels, bins).mean(dim=(0, 2, 3))  # (Q,)
    logits = distribution.clamp(min=1e-12).log().view(1, -1, 1, 1)
    annealed = colorbins.annealed_mean(logits, bins, temperature or colorbins.TEMPERATURE)[0, :, 0, 0]
    return {
        "MSE": ab.mean(axis=0),
        "L1": np.median(ab, axis=0),
        "bins: annealed mean": annealed.double().numpy(),
        "bins: mode": bins[int(distribution.argmax())].double().numpy(),
    }


_OPTIMA_MARKERS = {"MSE": "X", "L1": "P", "bins: annealed mean": "D", "bins: mode": "*"}


def loss_optima_figure(panels: Mapping[str, np.ndarray], L: float, temperature: float | None = None) -> Figure:
    """What MSE, L1 and a choice among colour bins predict for a patch of uncertain colour.

    One column per entry of ``panels`` (title -> ``(N, 2)`` ab samples, Lab units, all at lightness
    ``L``): on top the samples and each objective's answer (:func:`constant_optima`) on the
    (a, b) plane; below, each answer painted as a swatch at lightness ``L``, with its chroma.
    """
    from ..color import lab_to_rgb_uint8

    cols = len(panels)
    fig, axes = plt.subplots(
        2, cols, figsize=(5.2 * cols, 8.2), squeeze=False, gridspec_kw={"height_ratios": [3, 1.25]}
    )
    lim = AB_PLOT_LIMIT
    v = torch.linspace(-lim, lim, 161, dtype=torch.float64)
    bb, aa = torch.meshgrid(v.flip(0), v, indexing="ij")  # b grows upward
    plane = lab_to_rgb(torch.stack([torch.full_like(aa, float(L)), aa, bb])).permute(1, 2, 0).numpy()

    def paint(ab: np.ndarray) -> np.ndarray:
        lab = np.concatenate([np.full((len(ab), 1), float(L)), ab], axis=1).reshape(1, -1, 3)
        return lab_to_rgb_uint8(lab.astype(np.float32))[0] / 255.0

    for col, (title, samples) in enumerate(panels.items()):
        samples = np.asarray(samples, dtype=np.float64)
        optima = constant_optima(samples, temperature)
        ax = axes[0, col]
        ax.imshow(plane, extent=(-lim, lim, -lim, lim), alpha=0.35)
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="k", lw=0.5)
        ax.scatter(
            samples[:, 0], samples[:, 1], s=14, c=paint(samples), edgecolors="k", linewidths=0.3, label="true colours"
        )
        for name, ab in optima.items():
            ax.scatter(
                [ab[0]],
                [ab[1]],
                s=180,
                marker=_OPTIMA_MARKERS[name],
                c=[paint(ab[None])[0]],
                edgecolors="k",
                linewidths=1.2,
                label=f"{name}: ({ab[0]:.0f}, {ab[1]:.0f})",
                zorder=3,
            )
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_xlabel("a (green - / red +)")
        ax.set_ylabel("b (blue - / yellow +)")
        ax.set_title(title)
        ax.legend(loc="lower left", fontsize=8)
        swatches = axes[1, col]
        names = list(optima)
        for i, name in enumerate(names):
            ab = optima[name]
            swatches.add_patch(Rectangle((i, 0), 0.9, 1, color=paint(ab[None])[0]))
            swatches.text(i + 0.45, -0.12, f"{name}\nchroma {np.hypot(*ab):.0f}", ha="center", va="top", fontsize=8)
        swatches.set_xlim(-0.1, len(names))
        swatches.set_ylim(-0.75, 1.05)
        swatches.set_xticks([])
        swatches.set_yticks([])
        swatches.set_xlabel("the colour each objective paints (chroma: distance from gray)")
        swatches.set_title(f"mean chroma of the true colours: {np.hypot(samples[:, 0], samples[:, 1]).mean():.0f}")
    fig.suptitle("One gray patch, several true colours: what each loss predicts")
    fig.tight_layout()
    return fig


def averaging_figure(
    samples: np.ndarray | torch.Tensor, answers: Mapping[str, Sequence[float]], L: float, title: str
) -> Figure:
    """Where a pixel's possible colours lie and where each candidate answer lands.

    Left: the (a, b) plane at lightness ``L``, the ``(N, 2)`` ``samples`` (Lab units) as dots and
    each answer ``{label: (a, b)}`` as a labelled marker. Right: each answer painted at ``L``.
    """
    pts = np.asarray(samples, dtype=np.float64)
    n = len(answers)
    fig = plt.figure(figsize=(6.0 + 2.0 * n, 5.0))
    grid = fig.add_gridspec(1, n + 3)
    ax = fig.add_subplot(grid[0, :3])
    _ab_background(ax, L)
    ax.scatter(pts[:, 0], pts[:, 1], s=6, color="k", alpha=0.35, label="the pixel's possible colours")
    markers = "oDs^vP*X"
    for i, (label, (a, b)) in enumerate(answers.items()):
        size = max(7, 16 - 3 * i)  # shrinking, so that answers at the same place stay visible
        ax.plot(
            [a], [b], marker=markers[i % len(markers)], ms=size, mfc="white", mec="k", mew=2, ls="none", label=label
        )
    ax.set_title(f"The (a, b) plane at L = {L:g}")
    ax.legend(loc="lower left", fontsize=8)
    for i, (label, (a, b)) in enumerate(answers.items()):
        sw = fig.add_subplot(grid[0, 3 + i])
        sw.imshow(np.tile(_lab_swatch(L, a, b), (8, 8, 1)))
        sw.set_title(label, fontsize=9)
        sw.set_xlabel(f"a={a:.0f}, b={b:.0f}\nchroma {np.hypot(a, b):.0f}", fontsize=8)
        sw.set_xticks([])
        sw.set_yticks([])
    fig.suptitle(title)
    fig.tight_layout()
    return fig
