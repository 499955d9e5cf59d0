"""Results: rows of images, gray input | prediction | truth grids for one or several models, and
histograms of predicted against true a and b."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ..color import rgb_uint8_to_lab
from .lab import AB_PLOT_LIMIT

__all__ = ["show_images", "comparison_grid", "models_comparison_grid", "ab_histograms", "ab_histograms_by_model"]


def show_images(
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    suptitle: str,
    *,
    ncols: int | None = None,
    size: float = 3.2,
) -> Figure:
    """A row (or grid) of ``(H, W, 3)`` uint8 images, each titled, with pixel axes labelled."""
    n = len(images)
    ncols = ncols or n
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, img, title in zip(axes.flat, images, titles):
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
        ax.set_title(title)
        ax.set_xlabel("x (px)")
        ax.set_ylabel("y (px)")
    fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def comparison_grid(
    rows: Sequence[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
    title: str = "Gray input | prediction | truth",
    notes: Sequence[str] | None = None,
) -> Figure:
    """One row per photo ``(name, gray, prediction, truth)``; ``notes`` go under the prediction."""
    n = len(rows)
    fig, axes = plt.subplots(n, 3, figsize=(9, 3.1 * n), squeeze=False)
    for r, (name, gray, pred, truth) in enumerate(rows):
        for c, (img, col) in enumerate(((gray, "gray input"), (pred, "prediction"), (truth, "truth"))):
            ax = axes[r, c]
            ax.imshow(img)
            ax.set_title(f"{name}: {col}")
            ax.set_xticks([])
            ax.set_yticks([])
            if notes is not None and c == 1:
                ax.set_xlabel(notes[r])
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def models_comparison_grid(
    truths: Mapping[str, np.ndarray],
    predictions: Mapping[str, Mapping[str, np.ndarray]],
    title: str,
    notes: Mapping[str, Mapping[str, str]] | None = None,
) -> Figure:
    """One row per photo: the gray input, each model's colorization, the truth.

    ``truths`` is ``{photo: (H, W, 3) uint8}``, ``predictions`` ``{model: {photo: image}}``;
    ``notes[model][photo]`` goes under that panel (e.g. its PSNR).
    """
    from ..metrics import gray_baseline

    cols = 2 + len(predictions)
    fig, axes = plt.subplots(len(truths), cols, figsize=(3.0 * cols, 3.1 * len(truths)), squeeze=False)
    for r, (photo, truth) in enumerate(truths.items()):
        panels = [("gray input", gray_baseline(truth), "")]
        panels += [
            (model, preds[photo], (notes or {}).get(model, {}).get(photo, "")) for model, preds in predictions.items()
        ]
        panels.append(("truth", truth, ""))
        for ax, (name, img, note) in zip(axes[r], panels):
            ax.imshow(img)
            ax.set_title(f"{photo}: {name}", fontsize=10)
            ax.set_xlabel(note, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def ab_histograms(predictions: Sequence[np.ndarray], truths: Sequence[np.ndarray], bins: int = 101) -> Figure:
    """Histograms of a and b over all pixels, predicted vs true (log counts)."""
    pred_lab = np.concatenate([rgb_uint8_to_lab(p).reshape(-1, 3) for p in predictions])
    true_lab = np.concatenate([rgb_uint8_to_lab(t).reshape(-1, 3) for t in truths])
    edges = np.linspace(-AB_PLOT_LIMIT, AB_PLOT_LIMIT, bins)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for ax, k, name in ((axes[0], 1, "a"), (axes[1], 2, "b")):
        ax.hist(true_lab[:, k], bins=edges, alpha=0.6, label="truth", color="tab:gray")
        ax.hist(pred_lab[:, k], bins=edges, alpha=0.6, label="prediction", color="tab:red")
        ax.set_yscale("log")
        ax.set_xlabel(f"{name} (Lab units)")
        ax.set_ylabel("pixels (log scale)")
        ax.set_title(f"Distribution of {name}")
        ax.legend()
    fig.suptitle("Predicted colour is squeezed towards a = b = 0")
    fig.tight_layout()
    return fig


def ab_histograms_by_model(
    predictions: Mapping[str, Sequence[np.ndarray]], truths: Sequence[np.ndarray], title: str, bins: int = 101
) -> Figure:
    """Histograms of a and b over all pixels: the truth (filled) and each model's prediction (lines), log counts."""

    def ab(images: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate([rgb_uint8_to_lab(im)[..., 1:].reshape(-1, 2) for im in images])

    edges = np.linspace(-AB_PLOT_LIMIT, AB_PLOT_LIMIT, bins)
    true_ab = ab(truths)
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for k, (ax, name) in enumerate(zip(axes, "ab")):
        ax.hist(true_ab[:, k], bins=edges, color="tab:gray", alpha=0.5, label="truth")
        for model, images in predictions.items():
            ax.hist(ab(images)[:, k], bins=edges, histtype="step", lw=2, label=model)
        ax.set_yscale("log")
        ax.set_xlabel(f"{name} (Lab units)")
        ax.set_ylabel("pixels (log scale)")
        ax.set_title(f"Distribution of {name}")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
