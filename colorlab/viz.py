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
    "overfit_figure",
    "constant_optima",
    "loss_optima_figure",
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


def ab_plane_figure(
    L: float = 60.0,
    a: float | None = None,
    b: float | None = None,
    steps: int = 221,
    *,
    mark_gamut: bool = True,
    ax: plt.Axes | None = None,
) -> Figure:
    """Every colour of lightness ``L`` on the (a, b) plane, with an optional marker at ``(a, b)``.

    With ``mark_gamut`` the colours a screen cannot show (outside the sRGB gamut: converting them
    to sRGB clips them, see :func:`out_of_srgb_gamut`) are painted gray and hatched; without it
    they are shown clipped. ``ax`` draws into an existing axes (for rows of planes).
    """
    v = torch.linspace(-AB_PLOT_LIMIT, AB_PLOT_LIMIT, steps, dtype=torch.float64)
    bb, aa = torch.meshgrid(v.flip(0), v, indexing="ij")  # b grows upward
    lab = torch.stack([torch.full_like(aa, float(L)), aa, bb])
    rgb = lab_to_rgb(lab).permute(1, 2, 0).numpy()
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 5))
    else:
        fig = ax.figure
    lim = AB_PLOT_LIMIT
    title = f"The (a, b) plane at L = {L:g}"
    if mark_gamut:
        outside = out_of_srgb_gamut(lab).numpy()
        rgb = rgb.copy()
        rgb[outside] = _OUT_OF_GAMUT_GRAY
        ax.contourf(aa.numpy(), bb.numpy(), outside.astype(float), levels=[0.5, 1.5], colors="none", hatches=["///"])
        ax.add_patch(Rectangle((0, 0), 0, 0, facecolor=(_OUT_OF_GAMUT_GRAY,) * 3, hatch="///", label="outside sRGB"))
        ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
        title += f": {100 * (1 - outside.mean()):.0f}% of the square in sRGB"
    ax.imshow(rgb, extent=(-lim, lim, -lim, lim), zorder=0)
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    if a is not None and b is not None:
        ax.plot([a], [b], marker="o", ms=12, mfc="none", mec="k", mew=2)
        ax.annotate(f"(a={a:g}, b={b:g})", (a, b), xytext=(8, 8), textcoords="offset points")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_xlabel("a (green - / red +)")
    ax.set_ylabel("b (blue - / yellow +)")
    ax.set_title(title, fontsize=10 if mark_gamut else None)
    fig.tight_layout()
    return fig


# --- Lesson 1: the Lab maths drawn, the gamut, other colour spaces -------------------

#: Lab units a colour may move when clipped to sRGB and still count as inside the gamut (the
#: reference white itself moves 0.005 because the sRGB matrix and the D65 white are rounded).
GAMUT_TOLERANCE = 0.05
#: The gray (sRGB, 0-1) that stands for "no sRGB colour here" on gamut plots.
_OUT_OF_GAMUT_GRAY = 0.82


def out_of_srgb_gamut(lab: torch.Tensor) -> torch.Tensor:
    """Where Lab colours lie outside the sRGB gamut: ``(3, H, W)`` -> ``(H, W)`` bool, ``(B, 3, H, W)`` -> ``(B, H, W)``.

    A colour is outside when converting it to sRGB has to clip it: going back to Lab then lands
    more than :data:`GAMUT_TOLERANCE` away (all in float64, with :mod:`colorlab.color`).
    """
    from .color import rgb_to_lab

    lab64 = lab.to(torch.float64)
    moved = rgb_to_lab(lab_to_rgb(lab64)) - lab64
    return moved.norm(dim=-3) > GAMUT_TOLERANCE


def gamut_slices_figure(lightnesses: Sequence[float] = (30.0, 60.0, 90.0), steps: int = 161) -> Figure:
    """A row of (a, b) planes, one per lightness, with the colours outside sRGB hatched."""
    fig, axes = plt.subplots(1, len(lightnesses), figsize=(4.4 * len(lightnesses), 4.6), squeeze=False)
    for ax, L in zip(axes[0], lightnesses):
        ab_plane_figure(L, steps=steps, ax=ax)
    fig.suptitle("The sRGB gamut changes shape with lightness (hatched: a screen cannot show it)")
    fig.tight_layout()
    return fig


def lab_curves_figure() -> Figure:
    """The two nonlinear steps of sRGB -> Lab: the sRGB decoding curve and CIE's ``f``, with their straight pieces."""
    from .color import lab_f, srgb_to_linear

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    c = torch.linspace(0, 1, 501, dtype=torch.float64)
    left.plot(c, srgb_to_linear(c), label="sRGB decoding (colorlab.color.srgb_to_linear)")
    left.plot(c, c, "k:", lw=1, label="no gamma (straight line)")
    left.plot(c, c**2.2, "--", lw=1, label="plain power 2.2 (a common shortcut)")
    left.set_xlabel("stored sRGB value c (0-1)")
    left.set_ylabel("linear light (0-1)")
    left.set_title("Step 1: undo the gamma")
    left.legend(fontsize=8, loc="upper left")
    t = torch.linspace(0, 1, 501, dtype=torch.float64)
    right.plot(t, lab_f(t), label="f(t) (colorlab.color.lab_f)")
    right.plot(t, t ** (1 / 3), "--", lw=1, label="pure cube root")
    right.plot(t, t, "k:", lw=1, label="straight line t")
    right.set_xlabel("t = Y / Y_white (relative luminance)")
    right.set_ylabel("f(t)")
    right.set_title("Step 3: CIE's f, a cube root with a straight start")
    right.legend(fontsize=8, loc="lower right")
    zooms = (
        (left, c * 0.1, srgb_to_linear, "c", "linear", "zoom: straight up to c = 0.04045"),
        (right, t * 0.03, lab_f, "t", "f(t)", "zoom: straight up to t = 0.0089"),
    )
    for ax, x, curve, xlabel, ylabel, title in zooms:
        ax.grid(alpha=0.3)
        inset = ax.inset_axes((0.62, 0.1, 0.33, 0.25) if ax is left else (0.5, 0.28, 0.33, 0.3))
        inset.plot(x, curve(x))
        inset.plot(x, x ** (2.2 if ax is left else 1 / 3), "--", lw=1)
        inset.set_title(title, fontsize=7)
        inset.set_xlabel(xlabel, fontsize=7, labelpad=0)
        inset.set_ylabel(ylabel, fontsize=7, labelpad=0)
        inset.tick_params(labelsize=6)
    fig.suptitle("The two curves of sRGB -> Lab")
    fig.tight_layout()
    return fig


def color_spaces_figure(rgb: np.ndarray, title: str = "One photo in four colour spaces") -> Figure:
    """The photo's three channels in sRGB, YCbCr, HSV and Lab: one row per space, ``(H, W, 3)`` uint8 in."""
    from skimage.color import rgb2hsv, rgb2ycbcr

    spaces = [
        ("sRGB", rgb.astype(np.float64), ("R", "G", "B"), [(0, 255)] * 3),
        (
            "YCbCr",
            rgb2ycbcr(rgb),
            ("Y' (luma)", "Cb (blue - luma)", "Cr (red - luma)"),
            [(16, 235), (16, 240), (16, 240)],
        ),
        ("HSV", rgb2hsv(rgb), ("H (hue, circular)", "S (saturation)", "V = max(R, G, B)"), [(0, 1)] * 3),
        (
            "Lab",
            rgb_uint8_to_lab(rgb),
            ("L (lightness)", "a (green - red)", "b (blue - yellow)"),
            [(0, 100), (-AB_PLOT_LIMIT, AB_PLOT_LIMIT), (-AB_PLOT_LIMIT, AB_PLOT_LIMIT)],
        ),
    ]
    fig, axes = plt.subplots(len(spaces), 3, figsize=(9, 2.7 * len(spaces)))
    for row, (space, values, names, ranges) in zip(axes, spaces):
        for k, (ax, name, (lo, hi)) in enumerate(zip(row, names, ranges)):
            cmap = "hsv" if name.startswith("H ") else "gray"
            if space == "Lab" and k > 0:
                cmap = _lab_colormap("ab"[k - 1])
            im = ax.imshow(values[..., k], cmap=cmap, vmin=lo, vmax=hi)
            ax.set_title(f"{space}: {name}", fontsize=10)
            ax.set_xlabel("x (px)")
            ax.set_ylabel("y (px)")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --- Lesson 2: the whole network, its parameters, its receptive field -------------------


@dataclass
class PartRow:
    """One row of :func:`parameter_table`: a part of the network and its share of the weights."""

    part: str
    params: int
    trainable: int
    share_of_trainable: float  # fraction of all trainable weights, 0-1
    share_of_all: float  # fraction of all weights, frozen ones included, 0-1


def parameter_table(model: ColorizationNet) -> list[PartRow]:
    """Weights per part (encoder, extractor, fusion, decoder), counted from the model, with their shares."""
    parts = [(name, getattr(model, name)) for name in ("encoder", "extractor", "fusion", "decoder")]
    counts = [
        (name, sum(p.numel() for p in m.parameters()), sum(p.numel() for p in m.parameters() if p.requires_grad))
        for name, m in parts
    ]
    total = sum(n for _, n, _ in counts) or 1
    trainable = sum(t for _, _, t in counts) or 1
    return [PartRow(name, n, t, t / trainable, n / total) for name, n, t in counts]


def format_parameter_table(rows: Sequence[PartRow]) -> str:
    """A plain-text table of :func:`parameter_table` rows with totals."""
    lines = [f"{'part':<11}{'weights':>12}{'trainable':>12}{'share of trainable':>20}{'share of all':>14}"]
    for r in rows:
        lines.append(
            f"{r.part:<11}{r.params:>12,}{r.trainable:>12,}{100 * r.share_of_trainable:>19.1f}%{100 * r.share_of_all:>13.1f}%"
        )
    total, trainable = sum(r.params for r in rows), sum(r.trainable for r in rows)
    lines.append(f"{'total':<11}{total:>12,}{trainable:>12,}{100.0 if trainable else 0.0:>19.1f}%{100.0:>13.1f}%")
    return "\n".join(lines)


@dataclass
class FieldRow:
    """One layer of :func:`receptive_field`: after it, each output cell sees ``field x field`` input pixels,
    and neighbouring cells are ``jump`` input pixels apart."""

    layer: str
    kernel: int
    stride: int
    jump: int
    field: int


def receptive_field(module: torch.nn.Module) -> list[FieldRow]:
    """The receptive field after each convolution or pooling layer of a chain such as ``model.encoder``.

    With ``r`` the field and ``j`` the jump (input pixels between neighbouring cells) before a
    layer of kernel ``k`` (dilation ``d``) and stride ``s``: ``r <- r + (k - 1) d j``, ``j <- j s``,
    starting from ``r = j = 1``.
    """
    rows: list[FieldRow] = []
    field, jump = 1, 1
    for name, layer in module.named_modules():
        if isinstance(layer, torch.nn.Upsample):
            raise TypeError(
                f"receptive_field: {name} is an Upsample; pass a chain of convolutions and pooling (model.encoder)"
            )
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.MaxPool2d, torch.nn.AvgPool2d)):
            k, s, d = (layer.kernel_size, layer.stride, getattr(layer, "dilation", 1))
            k, s, d = (v[0] if isinstance(v, tuple) else v for v in (k, s, d))
            field += (k - 1) * d * jump
            jump *= s
            rows.append(FieldRow(_describe_layer(layer), k, s, jump, field))
    return rows


def measured_receptive_field(module: torch.nn.Module, size: int = 160, in_channels: int = 1) -> int:
    """The receptive field measured by backpropagation: how many input rows change the centre output cell.

    Feeds one random ``(1, in_channels, size, size)`` input, backpropagates from the centre cell of
    the output and measures the extent of the nonzero gradient; ``size`` must exceed the field.
    """
    generator = torch.Generator().manual_seed(0)
    param = next(module.parameters(), torch.empty(0))  # a chain of pooling layers has no parameters
    x = (
        torch.randn(1, in_channels, size, size, generator=generator, dtype=param.dtype)
        .to(param.device)
        .requires_grad_(True)
    )
    with torch.enable_grad():
        y = module(x)
        # autograd.grad, not backward(): the module's own .grad stays untouched
        (grad,) = torch.autograd.grad(y[0, :, y.shape[-2] // 2, y.shape[-1] // 2].sum(), x)
    rows = (grad[0].abs().sum(0) > 0).any(dim=1).nonzero()
    return int(rows.max() - rows.min() + 1) if len(rows) else 0


def network_figure(model: ColorizationNet, size: int = 224) -> Figure:
    """The whole network as boxes, with each part's output shape (C x H x W) and weights, traced at ``size``."""
    rows = stage_table(model, size)
    shape = {r.stage: r.output_shape for r in rows}
    enc = shape[f"encoder {len(model.encoder.layers)}"]
    out = shape[f"decoder {len(model.decoder.layers)}"]
    params = {r.part: r for r in parameter_table(model)}
    fig, ax = plt.subplots(figsize=(15, 5.6))

    def box(x: float, y: float, w: float, h: float, color: str, title: str, body: str, frozen: bool = False) -> None:
        ax.add_patch(
            Rectangle(
                (x, y),
                w,
                h,
                facecolor=color,
                edgecolor="k",
                alpha=0.55 if frozen else 0.8,
                hatch="xx" if frozen else None,
            )
        )
        label = {"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1.5}
        ax.text(x + w / 2, y + h - 0.15, title, ha="center", va="top", fontsize=10, weight="bold", bbox=label)
        ax.text(x + w / 2, y + h / 2 - 0.2, body, ha="center", va="center", fontsize=8.5, bbox=label)

    def arrow(p: tuple[float, float], q: tuple[float, float], text: str = "", dy: float = 0.12) -> None:
        ax.add_patch(FancyArrowPatch(p, q, arrowstyle="-|>", mutation_scale=14, color="k"))
        if text:
            ax.text((p[0] + q[0]) / 2, (p[1] + q[1]) / 2 + dy, text, ha="center", va="bottom", fontsize=8)

    def dims(s: tuple[int, ...]) -> str:
        return " x ".join(str(v) for v in s[1:])

    def weights(part: str) -> str:
        r = params[part]
        if r.trainable == 0:
            return f"{r.params:,} weights, frozen"
        return f"{r.trainable:,} weights ({100 * r.share_of_trainable:.1f}% of trainable)"

    box(0.0, 1.0, 1.6, 1.8, "lightgray", "input", f"scaled L\n{dims((1, 1, size, size))}\nL/50 - 1 in [-1, 1]")
    box(
        2.3,
        0.5,
        3.0,
        2.8,
        "tab:blue",
        "encoder",
        f"8 conv 3x3 + ReLU\nstride 2 at 1, 3, 5\nout {dims(enc)}\n{weights('encoder')}",
    )
    if model.extractor.dim:
        ex = model.extractor
        extractor_text = (
            f"{ex.backbone}\nL -> gray RGB at {ex.size}x{ex.size}\nout {ex.dim} logits\n{weights('extractor')}"
        )
        box(2.3, 4.0, 3.0, 2.2, "tab:gray", "feature extractor", extractor_text, frozen=True)
        arrow((1.6, 2.4), (2.3, 5.0), "whole photo", dy=0.25)
        arrow((5.3, 5.1), (6.4, 3.3), "tile over the grid")
    box(
        6.0,
        0.5,
        3.0,
        2.8,
        "tab:purple",
        "fusion",
        f"concat {enc[1]} + {model.extractor.dim}\nconv 1x1 + ReLU\nout {dims(shape['fusion'])}\n{weights('fusion')}",
    )
    if model.config.head == "regression":
        layers, result = "up x2, conv, conv + tanh, up x2", f"scaled ab\n{dims(out)}\nab/128 in [-1, 1]"
    else:
        layers, result = "up x2, conv, conv -> bin logits", f"{out[1]} bin logits\n{dims(out)}\nannealed mean -> ab"
    box(
        9.7,
        0.5,
        3.0,
        2.8,
        "tab:green",
        "decoder",
        f"conv, up x2, conv, conv,\n{layers}\nout {dims(out)}\n{weights('decoder')}",
    )
    box(13.4, 1.0, 1.8, 1.8, "lightgray", "output", result)
    arrow((1.6, 1.9), (2.3, 1.9), "local")
    arrow((5.3, 1.9), (6.0, 1.9))
    arrow((9.0, 1.9), (9.7, 1.9))
    arrow((12.7, 1.9), (13.4, 1.9))
    ax.text(14.3, 0.55, "colour photo = input L + ab\n(colorlab.color.lab_to_rgb)", ha="center", va="top", fontsize=8)
    ax.set_xlim(-0.2, 15.4)
    ax.set_ylim(-0.3, 6.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("data flow (left to right); hatched: frozen, never trained")
    ax.set_ylabel("local path (bottom), global path (top)")
    total = sum(r.trainable for r in params.values())
    ax.set_title(f"Deep Koalarization traced at {size}x{size}: shapes are C x H x W; {total:,} trainable weights")
    fig.tight_layout()
    return fig


__all__ += [  # lessons 1 and 2: kept next to their functions
    "GAMUT_TOLERANCE",
    "out_of_srgb_gamut",
    "gamut_slices_figure",
    "lab_curves_figure",
    "color_spaces_figure",
    "PartRow",
    "parameter_table",
    "format_parameter_table",
    "FieldRow",
    "receptive_field",
    "measured_receptive_field",
    "network_figure",
]


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
    out = {
        part: int(sum(counts.get(f"{root}.{part}", {}).values()))
        for part in ("encoder", "extractor", "fusion", "decoder")
    }
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
    from .color import AB_SCALE

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
    from . import colorbins

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
    from .color import lab_to_rgb_uint8

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


class LiveTraining:
    """An ``on_epoch_end`` callback for :class:`colorlab.engine.Trainer`: loss curve and samples, redrawn in place.

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


def photo_top_classes(
    model: ColorizationNet, rgb: np.ndarray, *, size: int | None = None, k: int = 5
) -> list[tuple[str, float]]:
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
    L = rgb_uint8_to_l(
        torch.from_numpy(np.array(image)).permute(2, 0, 1)[None]
    )  # (1, 1, H, W), 0-100; a copy: inputs may be read-only
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


def rebalancing_figure(
    bins: torch.Tensor, prior: torch.Tensor, weights: torch.Tensor, lam: float, grid: float | None = None
) -> Figure:
    """How common each bin is (``prior`` ``(Q,)``) and the loss weight it gets (``weights`` ``(Q,)``), on the
    (a, b) plane (log colour scales); right, weight against prior for several mixing factors λ."""
    from matplotlib.colors import LogNorm

    from .colorbins import GRID, rebalance_weights

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
