"""Checks for lesson 2 (The architecture): weights of a convolution, the fusion's share, the
receptive field, fusion written from scratch.

>>> from colorlab.exercises import lesson2
>>> lesson2.check_conv_params(my_conv_params)        # my_conv_params(c_in, c_out, k) -> int
>>> lesson2.check_fusion_share(my_share)             # the fusion's fraction of the trainable weights
>>> lesson2.check_receptive_field(my_field)          # my_field([(k, s), ...]) -> int
>>> lesson2.check_fusion(my_fusion)                  # my_fusion(features, embedding, conv) -> fused
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from .core import CheckResult, call_learner, receptive_field, right, wrong

__all__ = ["ENCODER_LAYERS", "check_conv_params", "check_fusion_share", "check_receptive_field", "check_fusion"]

#: The encoder's eight convolutions as (kernel, stride), as in colorlab.model.Encoder.
ENCODER_LAYERS: tuple[tuple[int, int], ...] = ((3, 2), (3, 1), (3, 2), (3, 1), (3, 2), (3, 1), (3, 1), (3, 1))


def _not_a_number(answer: Any) -> bool:
    return isinstance(answer, bool) or not isinstance(answer, (int, float)) or math.isnan(answer)


def _own_rng() -> Any:
    """Layers built by a check draw their initial weights here, not from the learner's random state."""
    return torch.random.fork_rng(devices=[])


def _conv_weights(c_in: int, c_out: int, k: int) -> int:
    """Counted by PyTorch itself, not by formula: the check must not share the learner's mistake."""
    with _own_rng():
        return sum(p.numel() for p in nn.Conv2d(c_in, c_out, k).parameters())


#: (c_in, c_out, k) cases: encoder layers, the fusion's 1x1 and the decoder's last layer.
_CONV_CASES = ((1, 64, 3), (64, 128, 3), (512, 256, 3), (256 + 1000, 256, 1), (32, 2, 3), (3, 16, 5))


def check_conv_params(fn: Callable[[int, int, int], int] | None) -> CheckResult:
    """``fn(c_in, c_out, k)``: the number of weights of a ``k x k`` convolution with bias."""
    what = "conv_params(c_in, c_out, k) returning the weights of a k x k convolution"
    for c_in, c_out, k in _CONV_CASES:
        got, problem = call_learner(fn, what, c_in, c_out, k, call=f"conv_params({c_in}, {c_out}, {k})")
        if problem is not None:
            return problem
        want = _conv_weights(c_in, c_out, k)
        if got == want:
            continue
        if got == want - c_out:
            return wrong(f"conv_params({c_in}, {c_out}, {k}) = {got}: add one bias per output channel (+{c_out})")
        if got == c_in * c_out * k + c_out:
            return wrong(
                f"conv_params({c_in}, {c_out}, {k}) = {got}: a k x k kernel has k² = {k * k} weights per input channel"
            )
        if got == (c_in * k * k + 1) * c_out + c_in or got == c_in * c_out * k * k + c_in:
            return wrong(f"conv_params({c_in}, {c_out}, {k}) = {got}: the bias is one per *output* channel")
        return wrong(
            f"conv_params({c_in}, {c_out}, {k}) = {got!r}, expected {want:,}: weights k·k·c_in·c_out plus c_out biases"
        )
    return right(f"matches PyTorch's own count on {len(_CONV_CASES)} layers, the fusion's 1x1 included")


def _shares() -> dict[str, tuple[int, int]]:
    """(weights, trainable weights) per part of the default model, counted from a model built without weights."""
    from ..model import build_model

    with _own_rng():
        model = build_model(pretrained=False)
    parts = {name: getattr(model, name) for name in ("encoder", "extractor", "fusion", "decoder")}
    return {
        name: (sum(p.numel() for p in m.parameters()), sum(p.numel() for p in m.parameters() if p.requires_grad))
        for name, m in parts.items()
    }


def check_fusion_share(fraction: float | None) -> CheckResult:
    """``fraction``: the fusion's share of the default model's *trainable* weights, a fraction in [0, 1]."""
    if fraction is None:
        return wrong("count the fusion's weights, divide by all trainable weights, and pass the fraction")
    if _not_a_number(fraction):
        return wrong(f"pass one number (a fraction), got {fraction!r}")
    counts = _shares()
    trainable = sum(t for _, t in counts.values())
    total = sum(n for n, _ in counts.values())
    fusion = counts["fusion"][1]
    want = fusion / trainable
    if abs(fraction - want) <= 5e-4:
        return right(f"{fusion:,} of {trainable:,} trainable weights: {want:.3f}, not 'most of them'")
    if 1 < fraction <= 100 and abs(fraction / 100 - want) <= 5e-3:
        return wrong("that is a percentage; give the fraction (between 0 and 1)")
    if abs(fraction - fusion / total) <= 5e-4:
        return wrong("that divides by all weights, the frozen extractor's included; divide by the trainable ones")
    for part in ("encoder", "decoder"):
        if abs(fraction - counts[part][1] / trainable) <= 5e-4:
            return wrong(f"that is the {part}'s share; the question asks for the fusion's")
    if fraction == fusion:
        return wrong("that is the count; divide it by the number of trainable weights")
    return wrong(f"{fraction!r} is not it: viz.parameter_table(model) or sum(p.numel() ...) gives the counts")


def _field(layers: Sequence[tuple[int, int]]) -> int:
    """The receptive field of a chain of (kernel, stride) layers, by building it and reading :func:`receptive_field`."""
    with _own_rng():
        chain = nn.Sequential(*(nn.Conv2d(1, 1, k, stride=s) for k, s in layers))
    rows = receptive_field(chain)
    return rows[-1].field if rows else 1


#: Chains the learner's function is compared on; the encoder's comes first.
_FIELD_CASES: tuple[tuple[tuple[int, int], ...], ...] = (
    ENCODER_LAYERS,
    ((3, 1), (3, 1), (3, 1)),
    ((7, 2), (3, 2)),
    ((5, 1), (2, 2), (3, 1)),
    ((3, 2),),
)


def check_receptive_field(fn: Callable[[list[tuple[int, int]]], int] | None) -> CheckResult:
    """``fn(layers)``: the receptive field (side, in input pixels) of a chain of ``(kernel, stride)`` layers."""
    what = "receptive_field(layers) for a list of (kernel, stride) pairs"
    for layers in _FIELD_CASES:
        got, problem = call_learner(fn, what, list(layers), call=f"receptive_field({list(layers)})")
        if problem is not None:
            return problem
        want = _field(layers)
        if got == want:
            continue
        if got == 1 + sum(k - 1 for k, _ in layers):
            return wrong(
                f"receptive_field({list(layers)}) = {got}: that ignores the strides; after a stride-2 layer each step "
                "of the next kernel moves 2 input pixels (r += (k - 1) · jump; jump *= s)"
            )
        if got == sum(k for k, _ in layers):
            return wrong(
                f"receptive_field({list(layers)}) = {got}: kernels overlap; a k-wide kernel adds k - 1, times the jump"
            )
        return wrong(f"receptive_field({list(layers)}) = {got!r}, expected {want}: start from r = 1, jump = 1")
    return right(
        f"the encoder sees {_field(ENCODER_LAYERS)}x{_field(ENCODER_LAYERS)} pixels; right on {len(_FIELD_CASES)} chains"
    )


def check_fusion(fn: Callable[[torch.Tensor, torch.Tensor, nn.Conv2d], torch.Tensor] | None) -> CheckResult:
    """``fn(features, embedding, conv)``: ``(B, C, h, w)`` and ``(B, D)`` -> ``(B, out, h, w)``, as :class:`colorlab.model.Fusion`."""
    from ..model import Fusion

    what = "fusion(features, embedding, conv) with tile, concatenate, conv and ReLU"
    with _own_rng():
        torch.manual_seed(0)
        fusion = Fusion(encoder_channels=6, embed_dim=5, out_channels=4)
        features, embedding = torch.randn(2, 6, 3, 4), torch.randn(2, 5)
    call = "fusion(features (2, 6, 3, 4), embedding (2, 5), conv 11 -> 4)"
    with torch.no_grad():
        got, problem = call_learner(fn, what, features.clone(), embedding.clone(), fusion.conv, call=call)
    if problem is not None:
        return problem
    if not isinstance(got, torch.Tensor):
        return wrong(f"return a tensor, got {type(got).__name__}")
    with torch.no_grad():
        want = fusion(features, embedding)
        tiled = embedding[:, :, None, None].expand(-1, -1, 3, 4)
        no_relu = fusion.conv(torch.cat([features, tiled], 1))
        wrong_order = torch.relu(fusion.conv(torch.cat([tiled, features], 1)))
    if tuple(got.shape) != tuple(want.shape):
        return wrong(
            f"expected shape {tuple(want.shape)} (B, out, h, w), got {tuple(got.shape)}: tile the embedding to h x w"
        )
    if torch.allclose(got, want, atol=1e-5):
        return right("the same as colorlab.model.Fusion: every cell gets the same global vector next to its local one")
    if torch.allclose(got, no_relu, atol=1e-5):
        return wrong("the ReLU is missing after the 1x1 convolution")
    if torch.allclose(got, wrong_order, atol=1e-5):
        return wrong(
            "concatenate the encoder features first, then the tiled embedding: the conv's weights expect that order"
        )
    return wrong(
        "the numbers differ from Fusion's: tile with embedding[:, :, None, None].expand(-1, -1, h, w), "
        "torch.cat([features, tiled], dim=1), then conv and ReLU"
    )
