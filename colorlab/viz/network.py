"""The network described: its weights per part, its stages' shapes, FLOPs, receptive field, the whole
network and the fusion step drawn, and what its frozen ImageNet extractor sees (lessons 2 and 5)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from ..exercises.core import describe_layer, imagenet_classes, top_classes
from ..model import ColorizationNet

__all__ = [
    "PartRow",
    "parameter_table",
    "format_parameter_table",
    "measured_receptive_field",
    "StageRow",
    "stage_table",
    "format_stage_table",
    "flops_by_part",
    "network_figure",
    "fusion_diagram",
    "photo_top_classes",
    "top_classes_figure",
]


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
            f"{r.part:<11}{r.params:>12,}{r.trainable:>12,}"
            f"{100 * r.share_of_trainable:>19.1f}%{100 * r.share_of_all:>13.1f}%"
        )
    total, trainable = sum(r.params for r in rows), sum(r.trainable for r in rows)
    lines.append(f"{'total':<11}{total:>12,}{trainable:>12,}{100.0 if trainable else 0.0:>19.1f}%{100.0:>13.1f}%")
    return "\n".join(lines)


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
        rows.append(StageRow(name, describe_layer(module), shapes[name], params, trainable))
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

    from ..color import rgb_uint8_to_l, scale_l
    from ..infer import DEFAULT_SIZE, network_input_size

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
