"""The Deep Koalarization network: encoder, frozen feature extractor, fusion, decoder.

Shapes for an ``H x W`` input (``H`` and ``W`` multiples of 8):

====================  ==========================================  ======================
part                  layers                                      output
====================  ==========================================  ======================
``Encoder``           8 conv 3x3 + ReLU, stride 2 at 1, 3, 5      ``(B, 256, H/8, W/8)``
``FeatureExtractor``  frozen ImageNet classifier on the gray L    ``(B, D)`` logits
``Fusion``            tile, concat (256 + D), 1x1 conv, ReLU      ``(B, 256, H/8, W/8)``
``Decoder``           conv/upsample ..., conv 2 + tanh, up x2     ``(B, 2, H, W)``
====================  ==========================================  ======================

The network takes scaled lightness ``(B, 1, H, W)`` in ``[-1, 1]`` and returns scaled ``ab``
``(B, 2, H, W)`` in ``[-1, 1]`` (see :mod:`colorlab.color`).

That is the paper's *regression* head. ``ModelConfig(head="classification")`` swaps the decoder's
last layer for logits over Q colour bins at half resolution (Zhang et al. 2016; the maths is in
:mod:`colorlab.colorbins`); :meth:`ColorizationNet.decode` turns either output into scaled ab.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import BACKBONES, create_backbone
from .color import l_to_gray_rgb, scale_ab, unscale_l

#: The spatial stride of the encoder: inputs must be multiples of this.
STRIDE = 8
#: The decoder's last layer: the paper's ab regression, or colour classification over bins.
HEADS = ("regression", "classification")
#: The most weights a configuration may ask for (the paper's net has 6.6 M): a bound against absurd sizes.
MAX_WEIGHTS = 100_000_000
#: The architectures: the paper's net (this module) and the U-Net over a pretrained trunk
#: (:mod:`colorlab.transfer`).
ARCHS = ("paper", "unet")


@dataclass
class ModelConfig:
    """Everything needed to rebuild a :class:`ColorizationNet` (stored in checkpoints).

    ``backbone`` is one of :data:`colorlab.backbones.BACKBONES`; ``pretrained=False`` gives the
    extractor random weights (for tests and shape studies); ``backbone_weights`` is an optional
    local weights file for the inception backbones. ``head`` is ``"regression"`` (the paper's) or
    ``"classification"`` (bins of ``grid`` Lab units, decoded at ``temperature``).

    ``arch="unet"`` builds :class:`colorlab.transfer.TransferNet` instead (see
    :func:`colorlab.transfer.create_model`); ``hints`` and ``trainable_stages`` apply to it only. Checkpoints made
    before these fields existed are paper nets without hints.
    """

    backbone: str = "efficientnet_lite0"
    pretrained: bool = True
    backbone_weights: str | None = None
    encoder_channels: tuple[int, ...] = (64, 128, 128, 256, 256, 512, 512, 256)
    fusion_channels: int = 256
    head: str = "regression"
    grid: float = 10.0
    temperature: float = 0.38
    arch: str = "paper"
    hints: bool = False
    trainable_stages: int = 0

    def __post_init__(self) -> None:
        import math

        def whole(v: Any, lo: int, hi: int) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi

        channels = self.encoder_channels
        if not (
            isinstance(channels, (tuple, list)) and len(channels) == 8 and all(whole(c, 1, 4096) for c in channels)
        ):
            raise ValueError(f"encoder_channels must be 8 whole numbers from 1 to 4096, got {channels!r}")
        if not whole(self.fusion_channels, 1, 4096):
            raise ValueError(f"fusion_channels must be a whole number from 1 to 4096, got {self.fusion_channels!r}")
        weights = (
            sum(9 * i * o for i, o in zip((1, *channels[:-1]), channels)) + (channels[-1] + 1000) * self.fusion_channels
        )
        if weights > MAX_WEIGHTS:
            raise ValueError(
                f"encoder_channels {list(channels)} would make {weights:,} weights, more than {MAX_WEIGHTS:,}"
            )
        if not (
            isinstance(self.grid, (int, float))
            and not isinstance(self.grid, bool)
            and math.isfinite(self.grid)
            and 2 <= self.grid <= 64
        ):
            raise ValueError(f"grid must be a number of Lab units from 2 to 64, got {self.grid!r}")
        for name in ("backbone", "head", "arch"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a name, got {getattr(self, name)!r}")
        for name in ("pretrained", "hints"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.backbone_weights is not None and not isinstance(self.backbone_weights, str):
            raise ValueError(f"backbone_weights must be a file name, got {self.backbone_weights!r}")
        if not whole(self.trainable_stages, 0, 7):
            raise ValueError(f"trainable_stages counts Lite0's last stages: 0 to 7, got {self.trainable_stages!r}")
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r}; choose one of {', '.join(HEADS)}")
        if self.arch not in ARCHS:
            raise ValueError(f"unknown architecture {self.arch!r}; choose one of {', '.join(ARCHS)}")
        if self.arch == "unet" and self.backbone != "efficientnet_lite0":
            raise ValueError(
                "the unet architecture reads EfficientNet-Lite0's feature maps; "
                f"backbone {self.backbone!r} is not supported"
            )
        if self.arch == "paper" and (self.hints or self.trainable_stages):
            raise ValueError("hints and trainable_stages need arch='unet'; the paper's net has neither")
        from .checks import check_temperature

        self.temperature = check_temperature(self.temperature, "the model's temperature")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "encoder_channels": list(self.encoder_channels)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        if not isinstance(d, dict):
            raise ValueError(f"a model configuration is a mapping of its fields, got a {type(d).__name__}")
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if isinstance(known.get("encoder_channels"), list):
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
        ins = (1,) + tuple(channels[:-1])
        self.layers = nn.Sequential(
            *(_conv(i, o, 2 if n in (1, 3, 5) else 1) for n, (i, o) in enumerate(zip(ins, channels), 1))
        )
        self.out_channels = channels[-1]

    def forward(self, l_net: torch.Tensor) -> torch.Tensor:
        return self.layers(l_net)


class FeatureExtractor(nn.Module):
    """A frozen ImageNet classifier: scaled ``L`` ``(B, 1, H, W)`` -> ``(B, D)`` logits.

    The classifier sees the gray photo as a camera would give it: ``L`` turned back into sRGB
    gray, resized to the backbone's size, repeated to 3 channels and normalized as the backbone
    was trained. It never learns (no gradients) and stays in eval mode even inside a model in
    training mode, so its BatchNorm statistics cannot drift.
    """

    def __init__(self, backbone: str = "efficientnet_lite0", pretrained: bool = True, weights: str | None = None):
        super().__init__()
        self.net = create_backbone(backbone, pretrained, weights)
        spec = BACKBONES[backbone]
        self.backbone, self.size, self.dim = backbone, spec["size"], spec["dim"]
        self.register_buffer("mean", torch.tensor(spec["mean"]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec["std"]).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> FeatureExtractor:
        return super().train(False)  # frozen: always eval, whatever the parent asks

    def preprocess(self, l_net: torch.Tensor) -> torch.Tensor:
        """Scaled ``L`` ``(B, 1, H, W)`` -> normalized gray RGB ``(B, 3, size, size)``."""
        gray = l_to_gray_rgb(unscale_l(l_net))
        if gray.shape[-2:] != (self.size, self.size):
            gray = F.interpolate(gray, size=(self.size, self.size), mode="bilinear", antialias=True)
        return (gray.expand(-1, 3, -1, -1) - self.mean) / self.std

    @torch.no_grad()
    def forward(self, l_net: torch.Tensor) -> torch.Tensor:
        if self.net is None:
            return l_net.new_zeros(l_net.shape[0], 0)
        return self.net(self.preprocess(l_net))


class Fusion(nn.Module):
    """Tile the ``(B, D)`` logits over the encoder's grid, concatenate, 1x1 conv + ReLU."""

    def __init__(self, encoder_channels: int = 256, embed_dim: int = 1000, out_channels: int = 256) -> None:
        super().__init__()
        self.conv = nn.Conv2d(encoder_channels + embed_dim, out_channels, kernel_size=1)

    def forward(self, features: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        b, _, h, w = features.shape
        tiled = embedding.to(features.dtype)[:, :, None, None].expand(b, embedding.shape[1], h, w)
        return F.relu(self.conv(torch.cat([features, tiled], dim=1)))


class Decoder(nn.Module):
    """conv 128, up x2, conv 64, conv 64, up x2, conv 32, conv 2 + tanh, up x2.

    With ``bins=Q`` the last layer is conv Q instead: logits ``(B, Q, H/2, W/2)``.
    """

    def __init__(self, in_channels: int = 256, bins: int | None = None) -> None:
        super().__init__()

        def up() -> nn.Upsample:
            return nn.Upsample(scale_factor=2, mode="nearest")

        head = (
            [nn.Conv2d(32, 2, 3, padding=1), nn.Tanh(), up()] if bins is None else [nn.Conv2d(32, bins, 3, padding=1)]
        )
        self.layers = nn.Sequential(
            _conv(in_channels, 128), up(), _conv(128, 64), _conv(64, 64), up(), _conv(64, 32), *head
        )

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        return self.layers(fused)


class ColorizationNet(nn.Module):
    """Scaled ``L`` ``(B, 1, H, W)`` in ``[-1, 1]`` -> scaled ``ab`` ``(B, 2, H, W)`` in ``[-1, 1]``.

    ``H`` and ``W`` must be multiples of 8; :func:`colorlab.colorize` handles any size.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ModelConfig()
        self.encoder = Encoder(tuple(c.encoder_channels))
        self.extractor = FeatureExtractor(c.backbone, pretrained=c.pretrained, weights=c.backbone_weights)
        self.fusion = Fusion(self.encoder.out_channels, self.extractor.dim, c.fusion_channels)
        bins = None
        if c.head == "classification":
            from .colorbins import gamut_bins

            # Bin centres (Q, 2); how common each bin is in the training photos and its loss weight (Q,).
            self.register_buffer("ab_bins", gamut_bins(c.grid))
            self.register_buffer("ab_prior", torch.full((len(self.ab_bins),), 1.0 / len(self.ab_bins)))
            self.register_buffer("ab_weights", torch.ones(len(self.ab_bins)))
            bins = len(self.ab_bins)
        self.decoder = Decoder(c.fusion_channels, bins)

    def forward(self, l_net: torch.Tensor) -> torch.Tensor:
        if l_net.dim() != 4 or l_net.shape[1] != 1:
            raise ValueError(f"ColorizationNet expects (B, 1, H, W) scaled lightness, got {tuple(l_net.shape)}")
        if l_net.shape[-2] % STRIDE or l_net.shape[-1] % STRIDE:
            raise ValueError(
                f"ColorizationNet needs H and W that are multiples of {STRIDE}, "
                f"got {l_net.shape[-2]}x{l_net.shape[-1]}; "
                "resize first or use colorlab.colorize(), which handles any size"
            )
        return self.decoder(self.fusion(self.encoder(l_net), self.extractor(l_net)))

    def decode(self, output: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        """The network's output -> scaled ``ab`` ``(B, 2, H, W)``: as it is for regression; for
        classification the annealed mean of the bins at ``temperature``, upsampled x2."""
        if self.config.head == "regression":
            return output
        from .colorbins import annealed_mean

        ab = annealed_mean(output, self.ab_bins, self.config.temperature if temperature is None else temperature)
        return F.interpolate(scale_ab(ab), scale_factor=2, mode="bilinear")

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights that training changes (the frozen extractor's come from its package)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("extractor.")}


def build_model(backbone: str = "efficientnet_lite0", pretrained: bool = True, **kwargs: Any) -> ColorizationNet:
    """The paper's network: shorthand for ``ColorizationNet(ModelConfig(backbone=..., pretrained=..., ...))``.

    The U-Net (``arch="unet"``) is built by :func:`colorlab.transfer.create_model`, which builds either.
    """
    config = ModelConfig(backbone=backbone, pretrained=pretrained, **kwargs)
    if config.arch != "paper":
        raise ValueError(
            f"build_model builds the paper's network; for arch={config.arch!r} use colorlab.transfer.create_model"
        )
    return ColorizationNet(config)
