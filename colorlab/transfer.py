"""The transfer network: a U-Net decoder over a frozen, pretrained EfficientNet-Lite0 trunk.

The paper's net (:mod:`colorlab.model`) borrows ImageNet's understanding once: the classifier's
1,000 logits, tiled over its own encoder's grid. This network borrows it at *every* scale
(Larsson et al. 2016's hypercolumns, DeOldify's U-Net on a pretrained ResNet): the frozen
classifier's own feature maps at strides 2, 4, 8, 16 and 32 are the encoder, and a decoder with
skip connections climbs back up, reading each of them. The paper's global fusion stays: the
logits are tiled at the deepest level. The decoder predicts at half resolution; the regression
head's ``ab`` is upsampled x2, the classification head's bins are decoded and upsampled by
:meth:`TransferNet.decode`, exactly like the paper net's.

For an ``H x W`` input (``H`` and ``W`` multiples of 8; padded inside to multiples of 32):

=============  ============================================  ==========================
part           layers                                        output
=============  ============================================  ==========================
``trunk``      Lite0 stem and 7 stages, frozen, on gray L    16, 24, 40, 112, 320 ch at
                                                             H/2, H/4, H/8, H/16, H/32;
                                                             logits ``(B, 1000)``
``fusion``     tile logits at H/32, concat, 1x1 conv, ReLU   ``(B, 256, H/32, W/32)``
``up16..up2``  up x2, concat skip (+ hints), conv BN ReLU    192, 128, 64, 32 channels
``head``       conv 2 + tanh, up x2 (or 1x1 conv Q: bins)    ``(B, 2, H, W)``
=============  ============================================  ==========================

With ``ModelConfig(hints=True)`` every decoder level also reads the hint image
(:mod:`colorlab.hints`), pooled to its scale: the mean hinted ``ab`` and whether any hint is there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .backbones import BACKBONES, create_backbone
from .color import l_to_gray_rgb, unscale_l
from .hints import HINT_CHANNELS, empty_hints
from .model import STRIDE, ColorizationNet, ModelConfig

__all__ = ["TransferNet", "Trunk", "create_model", "TRUNK_CHANNELS", "DECODER_CHANNELS", "PAD_TO"]

#: Channels of the Lite0 trunk at strides 2, 4, 8, 16, 32.
TRUNK_CHANNELS = (16, 24, 40, 112, 320)
#: Stage index of timm's ``efficientnet_lite0.blocks`` whose output is read at each stride.
_TAPS = (0, 1, 2, 4, 6)
#: Decoder channels at strides 32, 16, 8, 4, 2.
DECODER_CHANNELS = (256, 192, 128, 64, 32)
#: Inputs are padded (reflected) to a multiple of this inside the network.
PAD_TO = 32


class Trunk(nn.Module):
    """The frozen EfficientNet-Lite0 read at five scales, and its logits.

    Like the paper's extractor it sees ``L`` as a camera's gray photo, normalized as Lite0 was
    trained, and it never learns and stays in eval mode. ``trainable_stages=k`` lets the last
    ``k`` of its 7 stages (and its head) learn; their BatchNorm statistics still stay fixed.
    """

    def __init__(self, pretrained: bool = True, weights: str | None = None, trainable_stages: int = 0) -> None:
        super().__init__()
        net = create_backbone("efficientnet_lite0", pretrained, weights)
        spec = BACKBONES["efficientnet_lite0"]
        self.stem = nn.Sequential(net.conv_stem, net.bn1)
        self.stages = net.blocks
        self.head = nn.Sequential(net.conv_head, net.bn2, net.global_pool, net.classifier)
        self.size, self.dim, self.backbone = spec["size"], 1000, "efficientnet_lite0"
        self.register_buffer("mean", torch.tensor(spec["mean"]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec["std"]).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.trainable_stages = trainable_stages
        if trainable_stages:
            for stage in list(self.stages)[len(self.stages) - trainable_stages :]:
                stage.requires_grad_(True)
            self.head.requires_grad_(True)
        super().train(False)

    def train(self, mode: bool = True) -> Trunk:
        return super().train(False)  # BatchNorm statistics never drift

    def _gray(self, l_net: torch.Tensor) -> torch.Tensor:
        return (l_to_gray_rgb(unscale_l(l_net)).expand(-1, 3, -1, -1) - self.mean) / self.std

    def pyramid(self, l_net: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Scaled ``L`` ``(B, 1, H, W)``, ``H`` and ``W`` multiples of 32 -> (features at strides 2..32, logits)."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.trainable_stages > 0):
            x = self.stem(self._gray(l_net))
            features = []
            for i, stage in enumerate(self.stages):
                x = stage(x)
                if i in _TAPS:
                    features.append(x)
            return features, self.head(x)

    @torch.no_grad()
    def forward(self, l_net: torch.Tensor) -> torch.Tensor:
        """The classifier's logits for the photo resized to 224 (what the app's top-5 guesses show)."""
        gray = self._gray(l_net)
        if gray.shape[-2:] != (self.size, self.size):
            gray = F.interpolate(gray, size=(self.size, self.size), mode="bilinear", antialias=True)
        x = self.stem(gray)
        for stage in self.stages:
            x = stage(x)
        return self.head(x)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def _pool_hints(hints: torch.Tensor, factor: int) -> torch.Tensor:
    """A hint image pooled by ``factor``: the mean hinted ab in each cell and whether any hint is there."""
    if factor == 1:
        return hints
    ab, mask = hints[:, :2], hints[:, 2:]
    count = F.avg_pool2d(mask, factor)
    ab = F.avg_pool2d(ab * mask, factor) / count.clamp(min=1e-6)
    return torch.cat([ab, (count > 0).to(hints.dtype)], dim=1)


class TransferNet(nn.Module):
    """Scaled ``L`` ``(B, 1, H, W)`` (and optionally a hint image) -> scaled ``ab`` ``(B, 2, H, W)``.

    Same interface as :class:`colorlab.model.ColorizationNet`: ``forward``, ``decode``,
    ``trainable_state_dict``, ``config``; ``extractor`` gives the trunk's ImageNet logits.
    """

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ModelConfig(arch="unet")
        if c.backbone != "efficientnet_lite0":
            raise ValueError(
                "the unet architecture reads EfficientNet-Lite0's feature maps; "
                f"backbone {c.backbone!r} is not supported"
            )
        self.extractor = Trunk(c.pretrained, c.backbone_weights, c.trainable_stages)
        h = HINT_CHANNELS if c.hints else 0
        d32, d16, d8, d4, d2 = DECODER_CHANNELS
        t2, t4, t8, t16, t32 = TRUNK_CHANNELS
        self.fusion = nn.Sequential(nn.Conv2d(t32 + self.extractor.dim, d32, 1), nn.ReLU(inplace=True))
        self.up32 = _block(d32 + h, d32)
        self.up16 = nn.Sequential(_block(d32 + t16 + h, d16), _block(d16, d16))
        self.up8 = nn.Sequential(_block(d16 + t8 + h, d8), _block(d8, d8))
        self.up4 = _block(d8 + t4 + h, d4)
        self.up2 = _block(d4 + t2 + 1 + h, d2)  # + L at half resolution: the edges
        if c.head == "classification":
            from .colorbins import gamut_bins

            self.register_buffer("ab_bins", gamut_bins(c.grid))
            self.register_buffer("ab_prior", torch.full((len(self.ab_bins),), 1.0 / len(self.ab_bins)))
            self.register_buffer("ab_weights", torch.ones(len(self.ab_bins)))
            # A 1x1 conv: 261 bins at half resolution from a 3x3 conv would cost more than the rest of the decoder.
            self.head = nn.Conv2d(d2, len(self.ab_bins), 1)
        else:
            self.head = nn.Sequential(nn.Conv2d(d2, 2, 3, padding=1), nn.Tanh())

    def forward(self, l_net: torch.Tensor, hints: torch.Tensor | None = None) -> torch.Tensor:
        if l_net.dim() != 4 or l_net.shape[1] != 1:
            raise ValueError(f"TransferNet expects (B, 1, H, W) scaled lightness, got {tuple(l_net.shape)}")
        if l_net.shape[-2] % STRIDE or l_net.shape[-1] % STRIDE:
            raise ValueError(
                f"TransferNet needs H and W that are multiples of {STRIDE}, got {l_net.shape[-2]}x{l_net.shape[-1]}; "
                "resize first or use colorlab.colorize(), which handles any size"
            )
        if hints is not None and not self.config.hints:
            raise ValueError("this model takes no hints; use a model trained with hints (ModelConfig(hints=True))")
        H, W = l_net.shape[-2:]
        if self.config.hints:
            hints = empty_hints(l_net) if hints is None else hints.to(l_net.dtype)
            if hints.shape != (l_net.shape[0], HINT_CHANNELS, H, W):
                raise ValueError(
                    f"hints must be (B, {HINT_CHANNELS}, H, W) like the lightness, got {tuple(hints.shape)}"
                )
        ph, pw = -H % PAD_TO, -W % PAD_TO
        if ph or pw:  # reflect where it can; replicate for inputs smaller than the padding
            mode = "reflect" if ph < H and pw < W else "replicate"
            l_net = F.pad(l_net, (0, pw, 0, ph), mode=mode)
            hints = F.pad(hints, (0, pw, 0, ph)) if hints is not None else None
        (f2, f4, f8, f16, f32), logits = self.extractor.pyramid(l_net)

        def up(x: torch.Tensor, skip: list[torch.Tensor], factor: int) -> torch.Tensor:
            x = F.interpolate(x, scale_factor=2, mode="nearest") if factor < 32 else x
            parts = [x, *skip] + ([_pool_hints(hints, factor)] if hints is not None else [])
            return torch.cat([p.to(x.dtype) for p in parts], dim=1)

        b, _, h32, w32 = f32.shape
        x = self.fusion(torch.cat([f32, logits.to(f32.dtype)[:, :, None, None].expand(b, -1, h32, w32)], dim=1))
        x = self.up32(up(x, [], 32))
        x = self.up16(up(x, [f16], 16))
        x = self.up8(up(x, [f8], 8))
        x = self.up4(up(x, [f4], 4))
        x = self.up2(up(x, [f2, F.avg_pool2d(l_net, 2)], 2))
        out = self.head(x)[..., : H // 2, : W // 2]
        if self.config.head == "regression":
            out = F.interpolate(out, scale_factor=2, mode="bilinear")
        return out

    #: The network's output -> scaled ``ab`` ``(B, 2, H, W)``: exactly the paper net's decoding.
    decode = ColorizationNet.decode

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights that training changes: the decoder's, and the trunk's stages it unfroze."""
        trained = {n for n, p in self.named_parameters() if p.requires_grad}
        return {k: v for k, v in self.state_dict().items() if not k.startswith("extractor.") or k in trained}


def create_model(config: ModelConfig) -> nn.Module:
    """The network ``config`` describes: the paper's :class:`~colorlab.model.ColorizationNet`
    (``arch="paper"``) or this module's :class:`TransferNet` (``arch="unet"``)."""
    return TransferNet(config) if config.arch == "unet" else ColorizationNet(config)
