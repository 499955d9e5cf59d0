"""The result type every exercise check returns, the safe call of a learner's function, and the
measures that checks and figures share: a network's receptive field, the ImageNet classes of logits.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = [
    "CheckResult",
    "right",
    "wrong",
    "learner_problem",
    "call_learner",
    "FieldRow",
    "receptive_field",
    "describe_layer",
    "imagenet_classes",
    "top_classes",
]


@dataclass(frozen=True)
class CheckResult:
    """The verdict of an exercise check: ``passed`` and a one-line ``message`` that says why."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return f"{'right' if self.passed else 'not yet'}: {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = "#1b7f3b" if self.passed else "#b00020"
        mark = "&#10004; right" if self.passed else "&#10008; not yet"
        return f"<span style='color:{colour}'><b>{mark}:</b> {html.escape(self.message)}</span>"


def right(message: str) -> CheckResult:
    """A passed check with its reason."""
    return CheckResult(True, message)


def wrong(message: str) -> CheckResult:
    """A failed check with what to look at next."""
    return CheckResult(False, message)


def learner_problem(fn: Any, what: str, *, missing: str | None = None) -> CheckResult | None:
    """The verdict for something that cannot be called (nothing passed, or not a function), else ``None``.

    ``what`` names the function to write, e.g. ``"my_top5(logits) returning [(class name, probability), ...]"``;
    ``missing`` replaces the whole "write a function ``what`` and pass it here" message."""
    if fn is None:
        return wrong(missing or f"write a function {what} and pass it here")
    if not callable(fn):
        return wrong(f"pass the function itself (its name, without brackets); got a {type(fn).__name__}")
    return None


def call_learner(
    fn: Any,
    what: str,
    *args: Any,
    missing: str | None = None,
    call: str = "your function",
    explain: Callable[[Exception], str | None] | None = None,
) -> tuple[Any, CheckResult | None]:
    """``fn(*args)`` and ``None``, or ``None`` and the verdict to return instead: nothing to call,
    not a function (see :func:`learner_problem`, which ``what`` and ``missing`` go to), or the
    learner's error, reported, never raised: "``call`` raised TypeError: ...", where ``call`` may
    name the arguments, e.g. ``"wilson(5, 10)"``. ``explain(exc)`` may give a check's own message
    for an error it recognises (``None``: the plain one)."""
    problem = learner_problem(fn, what, missing=missing)
    if problem is not None:
        return None, problem
    try:
        return fn(*args), None
    except Exception as exc:  # a learner's function may fail in any way: report it, never raise
        known = explain(exc) if explain is not None else None
        return None, wrong(known or f"{call} raised {type(exc).__name__}: {exc}")


# --- Measures the checks share with the figures (colorlab.viz re-exports them) ------------------


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
            rows.append(FieldRow(describe_layer(layer), k, s, jump, field))
    return rows


def describe_layer(module: torch.nn.Module) -> str:
    """A short description of one layer or chain of layers, e.g. ``"conv 3x3 -> 64, stride 2 + ReLU"``."""
    if isinstance(module, torch.nn.Sequential):
        return " + ".join(describe_layer(m) for m in module)
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
