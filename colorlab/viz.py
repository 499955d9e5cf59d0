"""Figures and tables for the lessons: Lab channels, the model's stages, training, results.

Every function here *draws* or *describes*; the colour maths, the model, the
metrics and the training loop live in their own modules and are only called.
Figures come back as :class:`matplotlib.figure.Figure` with a title and
labelled axes, so a notebook cell is one call and one picture.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from .color import lab_to_rgb, rgb_uint8_to_lab
from .data import center_crop_resize
from .model import ColorizationNet

__all__ = [
    "show_images",
    "lab_channels_figure",
    "ab_plane_figure",
    "StageRow",
    "stage_table",
    "format_stage_table",
    "flops_by_part",
    "imagenet_classes",
    "top_classes",
    "top_classes_figure",
    "fusion_diagram",
    "loss_curve",
    "LiveTraining",
    "comparison_grid",
    "ab_histograms",
]

#: The a and b range drawn on colour-plane plots (Lab units).
AB_PLOT_LIMIT = 110.0
#: Lightness used to paint the a and b channels as colours.
_CHANNEL_PAINT_L = 70.0


def _lab_colormap(axis: str, L: float = _CHANNEL_PAINT_L, limit: float = AB_PLOT_LIMIT) -> ListedColormap:
    """A colormap whose colours are Lab(L, v, 0) (``axis='a'``) or Lab(L, 0, v) (``axis='b'``)."""
    v = torch.linspace(-limit, limit, 256, dtype=torch.float64)
    lab = torch.zeros(3, 1, 256, dtype=torch.float64)
    lab[0] = L
    lab[1 if axis == "a" else 2] = v
    rgb = lab_to_rgb(lab)[:, 0, :].T.numpy()
    return ListedColormap(rgb, name=f"lab_{axis}")


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


def lab_channels_figure(rgb: np.ndarray, title: str = "A photo split into L, a and b") -> Figure:
    """The photo and its L, a, b channels; a and b painted with the colours they stand for."""
    lab = rgb_uint8_to_lab(rgb)
    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    axes[0].imshow(rgb)
    axes[0].set_title("sRGB photo")
    panels = [
        (lab[..., 0], "L: lightness (0 black, 100 white)", "gray", 0, 100),
        (lab[..., 1], "a: green (-) to red (+)", _lab_colormap("a"), -AB_PLOT_LIMIT, AB_PLOT_LIMIT),
        (lab[..., 2], "b: blue (-) to yellow (+)", _lab_colormap("b"), -AB_PLOT_LIMIT, AB_PLOT_LIMIT),
    ]
    for ax, (channel, name, cmap, lo, hi) in zip(axes[1:], panels):
        im = ax.imshow(channel, cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(name)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="Lab units")
    for ax in axes:
        ax.set_xlabel("x (px)")
        ax.set_ylabel("y (px)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def ab_plane_figure(L: float = 60.0, a: float | None = None, b: float | None = None, steps: int = 221) -> Figure:
    """Every colour of lightness ``L`` on the (a, b) plane, with an optional marker at ``(a, b)``.

    Colours outside the sRGB gamut are shown clipped (the edges where the
    plane turns flat).
    """
    v = torch.linspace(-AB_PLOT_LIMIT, AB_PLOT_LIMIT, steps, dtype=torch.float64)
    bb, aa = torch.meshgrid(v.flip(0), v, indexing="ij")  # b grows upward
    lab = torch.stack([torch.full_like(aa, float(L)), aa, bb])
    rgb = lab_to_rgb(lab).permute(1, 2, 0).numpy()
    fig, ax = plt.subplots(figsize=(5, 5))
    lim = AB_PLOT_LIMIT
    ax.imshow(rgb, extent=(-lim, lim, -lim, lim))
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    if a is not None and b is not None:
        ax.plot([a], [b], marker="o", ms=12, mfc="none", mec="k", mew=2)
        ax.annotate(f"(a={a:g}, b={b:g})", (a, b), xytext=(8, 8), textcoords="offset points")
    ax.set_xlabel("a (green - / red +)")
    ax.set_ylabel("b (blue - / yellow +)")
    ax.set_title(f"The (a, b) plane at L = {L:g}")
    fig.tight_layout()
    return fig


# --- The model, stage by stage -----------------------------------------------------


@dataclass
class StageRow:
    """One row of :func:`stage_table`."""

    stage: str
    layer: str
    output_shape: tuple[int, ...]
    params: int
    trainable: bool


def _stages(model: ColorizationNet) -> list[tuple[str, torch.nn.Module]]:
    stages: list[tuple[str, torch.nn.Module]] = []
    for i, layer in enumerate(model.encoder.layers, start=1):
        stages.append((f"encoder {i}", layer))
    stages.append(("extractor", model.extractor))
    stages.append(("fusion", model.fusion))
    for i, layer in enumerate(model.decoder.layers, start=1):
        stages.append((f"decoder {i}", layer))
    return stages


def _describe_layer(module: torch.nn.Module) -> str:
    if isinstance(module, torch.nn.Sequential):
        return " + ".join(_describe_layer(m) for m in module)
    if isinstance(module, torch.nn.Conv2d):
        k = module.kernel_size[0]
        s = f", stride {module.stride[0]}" if module.stride[0] != 1 else ""
        return f"conv {k}x{k} -> {module.out_channels}{s}"
    if isinstance(module, torch.nn.Upsample):
        return f"upsample x{module.scale_factor:g}"
    if isinstance(module, torch.nn.ReLU):
        return "ReLU"
    if isinstance(module, torch.nn.Tanh):
        return "tanh"
    if hasattr(module, "backbone"):
        return f"frozen {module.backbone} ({module.size}x{module.size} input)"
    if module.__class__.__name__ == "Fusion":
        return "tile + concat + conv 1x1 + ReLU"
    return module.__class__.__name__


@torch.no_grad()
def stage_table(model: ColorizationNet, size: int = 224) -> list[StageRow]:
    """Output shape and parameter count of every stage for one ``size x size`` gray input."""
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = []
    stages = _stages(model)
    for name, module in stages:
        hooks.append(module.register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape))))
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        model(torch.zeros(1, 1, size, size, device=device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    rows = [StageRow("input", "scaled L", (1, 1, size, size), 0, False)]
    for name, module in stages:
        params = sum(p.numel() for p in module.parameters())
        trainable = any(p.requires_grad for p in module.parameters())
        rows.append(StageRow(name, _describe_layer(module), shapes[name], params, trainable))
    return rows


def format_stage_table(rows: Sequence[StageRow]) -> str:
    """A plain-text table of :func:`stage_table` rows with totals."""
    lines = [f"{'stage':<11}{'layer':<42}{'output (B, C, H, W)':<22}{'params':>12}  trainable"]
    for r in rows:
        shape = "(" + ", ".join(str(s) for s in r.output_shape) + ")"
        lines.append(f"{r.stage:<11}{r.layer:<42}{shape:<22}{r.params:>12,}  {'yes' if r.trainable else 'no'}")
    trainable = sum(r.params for r in rows if r.trainable)
    frozen = sum(r.params for r in rows if not r.trainable)
    lines.append(f"{'total':<75}{trainable + frozen:>12,}")
    lines.append(f"{'  trainable':<75}{trainable:>12,}")
    lines.append(f"{'  frozen':<75}{frozen:>12,}")
    return "\n".join(lines)


@torch.no_grad()
def flops_by_part(model: ColorizationNet, size: int = 224) -> dict[str, int]:
    """FLOPs of one ``size x size`` forward pass, per part, counted by ``torch.utils.flop_counter``.

    A multiply-add counts as 2 FLOPs (the counter's convention); only
    convolutions and matrix products are counted.
    """
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    device = next(model.parameters()).device
    with FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 1, size, size, device=device))
    counts = counter.get_flop_counts()
    root = type(model).__name__
    out = {part: int(sum(counts.get(f"{root}.{part}", {}).values())) for part in ("encoder", "extractor", "fusion", "decoder")}
    out["total"] = int(sum(counts.get("Global", {}).values()))
    return out


def imagenet_classes() -> list[str]:
    """The 1000 ImageNet class names, in the order of the logits (shipped with torchvision, no network)."""
    from torchvision.models import EfficientNet_B0_Weights

    return list(EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"])


def top_classes(logits: torch.Tensor, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most likely ImageNet classes and their softmax probabilities for ``(1, 1000)`` logits."""
    probs = torch.softmax(logits.float().reshape(-1), dim=0)
    values, indices = probs.topk(k)
    names = imagenet_classes()
    return [(names[i], float(p)) for i, p in zip(indices.tolist(), values.tolist())]


def top_classes_figure(tops: Mapping[str, Sequence[tuple[str, float]]], title: str) -> Figure:
    """Horizontal bars of :func:`top_classes` results, one panel per input."""
    fig, axes = plt.subplots(1, len(tops), figsize=(5.5 * len(tops), 3), squeeze=False)
    for ax, (name, top) in zip(axes[0], tops.items()):
        labels = [c for c, _ in top][::-1]
        ax.barh(labels, [p for _, p in top][::-1], color="tab:blue")
        ax.set_xlim(0, 1)
        ax.set_xlabel("softmax probability")
        ax.set_ylabel("ImageNet class")
        ax.set_title(name)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def fusion_diagram(size: int = 224, encoder_channels: int = 256, embed_dim: int = 1000, fused: int = 256) -> Figure:
    """The fusion step drawn as blocks: encoder grid + tiled embedding -> concat -> 1x1 conv."""
    g = size // 8
    fig, ax = plt.subplots(figsize=(12, 4.2))

    def block(x: float, y: float, w: float, h: float, color: str, text: str) -> None:
        ax.add_patch(Rectangle((x, y), w, h, facecolor=color, edgecolor="k", alpha=0.85))
        ax.text(x + w / 2, y - 0.35, text, ha="center", va="top", fontsize=9)

    def arrow(x0: float, x1: float, y: float, text: str) -> None:
        ax.add_patch(FancyArrowPatch((x0, y), (x1, y), arrowstyle="-|>", mutation_scale=15, color="k"))
        ax.text((x0 + x1) / 2, y + 0.2, text, ha="center", va="bottom", fontsize=9)

    block(0.0, 1.0, 1.6, 1.6, "tab:blue", f"encoder features\n{g}x{g}x{encoder_channels}")
    block(0.6, 4.0, 0.25, 2.2, "tab:orange", f"embedding\n1x1x{embed_dim}")
    arrow(1.0, 2.2, 5.1, "tile over the grid")
    block(2.4, 3.6, 1.6, 1.6, "tab:orange", f"tiled\n{g}x{g}x{embed_dim}")
    arrow(1.8, 4.6, 1.8, "")
    arrow(4.2, 4.6, 4.4, "")
    block(4.8, 1.0, 1.6, 4.2, "tab:purple", f"concatenated\n{g}x{g}x{encoder_channels + embed_dim}")
    arrow(6.6, 8.0, 3.1, "conv 1x1 + ReLU")
    block(8.2, 2.3, 1.6, 1.6, "tab:green", f"fused\n{g}x{g}x{fused}")
    arrow(10.0, 11.2, 3.1, "decoder")
    ax.set_xlim(-0.3, 11.6)
    ax.set_ylim(-0.8, 6.6)
    ax.set_xlabel("data flow (left to right)")
    ax.set_ylabel("tensor blocks (not to scale)")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"Fusion: the global ImageNet embedding joins every cell of the {g}x{g} encoder grid")
    fig.tight_layout()
    return fig


# --- Training ----------------------------------------------------------------------


def loss_curve(history: Sequence[Mapping[str, Any]], ax: plt.Axes | None = None) -> Figure:
    """Training and validation loss per epoch from a :class:`colorlab.train.Trainer` history."""
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


class LiveTraining:
    """An ``on_epoch_end`` callback for :class:`colorlab.train.Trainer`: loss curve and samples, redrawn in place.

    ``photos`` maps names to ``(H, W, 3)`` uint8 photos; each is shown as the
    current model colorizes it (at ``size``, the training size). In a notebook
    the figure updates in one output; elsewhere nothing is drawn until
    :meth:`figure` is called.
    """

    def __init__(self, photos: Mapping[str, np.ndarray], size: int, thumb: int = 128) -> None:
        self.photos = {name: center_crop_resize(img, thumb) for name, img in photos.items()}
        self.size = size
        self.history: list[dict[str, Any]] = []
        self._model: ColorizationNet | None = None
        self._handle: Any = None

    def __call__(self, trainer: Any, record: Mapping[str, Any]) -> None:
        self.history = list(trainer.history)
        self._model = trainer.model
        fig = self.figure()
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:  # pragma: no cover - IPython ships with ipywidgets
            plt.close(fig)
            return
        if get_ipython() is not None:
            if self._handle is None:
                self._handle = display(fig, display_id=True)
            else:
                self._handle.update(fig)
        plt.close(fig)

    def figure(self) -> Figure:
        """The loss curve next to the current colorizations of the sample photos."""
        from .infer import colorize

        n = len(self.photos)
        fig, axes = plt.subplots(1, n + 1, figsize=(4.2 + 2.6 * n, 3.4), gridspec_kw={"width_ratios": [1.6] + [1] * n})
        loss_curve(self.history, axes[0])
        for ax, (name, img) in zip(axes[1:], self.photos.items()):
            shown = colorize(img, self._model, size=self.size) if self._model is not None else img
            ax.imshow(shown)
            ax.set_title(name)
            ax.set_xlabel("x (px)")
            ax.set_ylabel("y (px)")
        epoch = self.history[-1]["epoch"] if self.history else 0
        fig.suptitle(f"Training, after epoch {epoch}: loss and colorized samples")
        fig.tight_layout()
        return fig


# --- Results -----------------------------------------------------------------------


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


# --- What the extractor sees (lesson 5) and colour as classification (lesson 6) -------------


def photo_top_classes(model: ColorizationNet, rgb: np.ndarray, *, size: int | None = None, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` ImageNet classes the model's frozen extractor sees in a photo, most likely first.

    ``rgb`` is ``(H, W, 3)`` (or gray ``(H, W)``) uint8; like the network, the extractor sees only
    its lightness, at the size :func:`colorlab.colorize` gives it (short side ``size``, default
    :data:`colorlab.infer.DEFAULT_SIZE`). Returns ``[(class name, softmax probability), ...]``, or
    ``[]`` for a model without an ImageNet extractor (backbone ``"none"``).
    """
    import torch.nn.functional as F

    from .color import rgb_uint8_to_l, scale_l
    from .infer import DEFAULT_SIZE, network_input_size

    if model.extractor.dim != len(imagenet_classes()):
        return []
    image = np.repeat(rgb[..., None], 3, axis=2) if rgb.ndim == 2 else rgb
    L = rgb_uint8_to_l(torch.from_numpy(np.array(image)).permute(2, 0, 1)[None])  # (1, 1, H, W), 0-100; a copy: inputs may be read-only
    h, w = network_input_size(image.shape[0], image.shape[1], size or DEFAULT_SIZE)
    L = F.interpolate(L, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    device = next(model.parameters()).device
    with torch.no_grad():
        logits = model.extractor(scale_l(L).to(device))
    return top_classes(logits.float().cpu(), k)


def _lab_swatch(L: float, a: float, b: float) -> np.ndarray:
    """The sRGB colour ``(3,)`` in [0, 1] of one Lab triple (clipped where it is out of gamut)."""
    return lab_to_rgb(torch.tensor([[[L]], [[a]], [[b]]], dtype=torch.float64))[:, 0, 0].numpy()


def lab_swatches(colours: Mapping[str, Sequence[float]], title: str, size: float = 2.2) -> Figure:
    """One painted square per colour ``{label: (L, a, b)}``, titled with its Lab values and chroma."""
    n = len(colours)
    fig, axes = plt.subplots(1, n, figsize=(size * n, size + 0.9), squeeze=False)
    for ax, (label, (L, a, b)) in zip(axes[0], colours.items()):
        ax.imshow(np.tile(_lab_swatch(L, a, b), (8, 8, 1)))
        ax.set_title(label)
        ax.set_xlabel(f"Lab({L:.0f}, {a:.0f}, {b:.0f})\nchroma {np.hypot(a, b):.0f}")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _ab_background(ax: plt.Axes, L: float, steps: int = 221) -> None:
    """Paint ``ax`` with every colour of lightness ``L`` on the (a, b) plane (clipped out of gamut)."""
    v = torch.linspace(-AB_PLOT_LIMIT, AB_PLOT_LIMIT, steps, dtype=torch.float64)
    bb, aa = torch.meshgrid(v.flip(0), v, indexing="ij")  # b grows upward
    rgb = lab_to_rgb(torch.stack([torch.full_like(aa, float(L)), aa, bb])).permute(1, 2, 0).numpy()
    lim = AB_PLOT_LIMIT
    ax.imshow(rgb, extent=(-lim, lim, -lim, lim), alpha=0.55)
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("a (green - / red +)")
    ax.set_ylabel("b (blue - / yellow +)")


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
        ax.plot([a], [b], marker=markers[i % len(markers)], ms=size, mfc="white", mec="k", mew=2, ls="none", label=label)
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


def _bin_colours(bins: torch.Tensor, preferred_l: float = 65.0) -> np.ndarray:
    """A displayable colour ``(Q, 3)`` in [0, 1] for each bin centre ``(Q, 2)``: the bin's (a, b) at the
    lightness nearest ``preferred_l`` where that colour is inside sRGB (or nearly, for edge cells)."""
    from .color import rgb_to_lab

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
    from .colorbins import GRID

    grid = grid or GRID
    fig, ax = plt.subplots(figsize=(6, 6))
    _draw_bins(ax, bins, _bin_colours(bins), grid)
    ax.set_title(title or f"The Q = {len(bins)} bins of {grid:g} x {grid:g} Lab units that sRGB colours reach")
    fig.tight_layout()
    return fig


#: Priors below this are drawn at this value (log scales would otherwise span 40 decades).
_RAREST_SHOWN = 1e-7


def rebalancing_figure(bins: torch.Tensor, prior: torch.Tensor, weights: torch.Tensor, lam: float, grid: float | None = None) -> Figure:
    """How common each bin is (``prior`` ``(Q,)``) and the loss weight it gets (``weights`` ``(Q,)``), on the
    (a, b) plane (log colour scales); right, weight against prior for several mixing factors λ."""
    from matplotlib.colors import LogNorm

    from .colorbins import GRID, rebalance_weights

    grid = grid or GRID
    p, w = prior.detach().double().cpu(), weights.detach().double().cpu()
    shown_p = p.clamp(min=_RAREST_SHOWN)  # the smoothed prior reaches 1e-40 at the gamut's edge
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2))
    for ax, values, name, cmap in ((axes[0], shown_p, "prior p: share of the pixels in each bin", "viridis"),
                                   (axes[1], w, f"loss weight w (λ = {lam:g})", "magma")):
        norm = LogNorm(vmin=float(values.min()), vmax=float(values.max()))
        colours = plt.get_cmap(cmap)(norm(values.numpy()))
        _draw_bins(ax, bins, colours, grid)
        fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, fraction=0.046, pad=0.04, label=name.split(":")[0])
        ax.set_title(name)
    order = torch.argsort(p)
    ax = axes[2]
    for mix in sorted({1.0, float(lam), 0.1}, reverse=True):
        curve = rebalance_weights(p, mix)
        ax.plot(shown_p[order].numpy(), curve[order].numpy(), lw=2 if mix == lam else 1,
                label=f"λ = {mix:g}" + (" (used)" if mix == lam else ""))
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
    from .metrics import colorfulness

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
    from .metrics import gray_baseline

    cols = 2 + len(predictions)
    fig, axes = plt.subplots(len(truths), cols, figsize=(3.0 * cols, 3.1 * len(truths)), squeeze=False)
    for r, (photo, truth) in enumerate(truths.items()):
        panels = [("gray input", gray_baseline(truth), "")]
        panels += [(model, preds[photo], (notes or {}).get(model, {}).get(photo, "")) for model, preds in predictions.items()]
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


__all__ += [
    "photo_top_classes",
    "lab_swatches",
    "averaging_figure",
    "bins_figure",
    "rebalancing_figure",
    "temperature_strip",
    "models_comparison_grid",
    "ab_histograms_by_model",
]
