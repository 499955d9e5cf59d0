"""Colorize photos of any size with a trained model.

Models come from :mod:`colorlab.checkpoint` (:func:`load_model`, :func:`load_pretrained`,
re-exported here). The recipe (as in richzhang/colorization): predict ab on a small copy whose
short side is the training size, upsample ab bilinearly to the original size,
and join it with the original full-resolution L. Large images are joined in
horizontal strips so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .checkpoint import describe_checkpoint, load_model, load_pretrained, pretrained_path
from .checks import check_saturation, check_size, check_temperature
from .color import AB_SCALE, lab_to_rgb, rgb_to_lab, rgb_uint8_to_l, scale_l
from .device import choose_precision
from .hints import NO_HINTS_MESSAGE, hint_image, takes_hints, validate_hints
from .images import ImageSource, load_image
from .model import STRIDE, ColorizationNet
from .spread import spread_hints

__all__ = [
    "DEFAULT_SIZE",
    "colorize",
    "colorize_many",
    "predict_ab",
    "join_lightness",
    "load_model",
    "load_pretrained",
    "pretrained_path",
    "network_input",
    "network_input_size",
    "describe_checkpoint",
]

#: The short side the network sees at inference unless told otherwise.
DEFAULT_SIZE = 224
#: The longest side the network ever sees (very elongated images are squeezed to this).
MAX_NETWORK_SIDE = 1024
#: Pixels joined in one go by :func:`join_lightness`: bounds memory, and keeps tensor operations few.
JOIN_PIXELS = 1 << 20


def network_input_size(height: int, width: int, size: int = DEFAULT_SIZE) -> tuple[int, int]:
    """The ``(h, w)`` the network sees for an ``height x width`` photo.

    The short side becomes ``size`` (a multiple of 8), the aspect ratio is
    kept up to :data:`MAX_NETWORK_SIDE` on the long side; both at least 8.
    """
    if height < 1 or width < 1:
        raise ValueError(f"image has no pixels ({height}x{width})")
    scale = size / min(height, width)
    if max(height, width) * scale > MAX_NETWORK_SIDE:
        scale = MAX_NETWORK_SIDE / max(height, width)

    def snap(v: float) -> int:
        return max(STRIDE, int(round(v / STRIDE)) * STRIDE)

    return snap(height * scale), snap(width * scale)


def _model_device(model: torch.nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:  # pragma: no cover
        return torch.device("cpu")


@torch.no_grad()
def predict_ab(
    model: ColorizationNet,
    rgb_small: np.ndarray | torch.Tensor,
    *,
    temperature: float | None = None,
    precision: str = "auto",
    hints: torch.Tensor | None = None,
) -> torch.Tensor:
    """ab in Lab units ``(B, 2, h, w)`` for uint8 RGB ``(B, h, w, 3)`` or ``(h, w, 3)`` at network size.

    ``temperature`` decodes a classification head (default: the model's own); ``precision``
    is :func:`colorlab.device.choose_precision`'s (bf16 where the hardware runs it natively);
    ``hints`` is a hint image ``(B, 3, h, w)`` (:func:`colorlab.hints.hint_image`) for a model that takes hints.
    """
    if hints is not None and not takes_hints(model):
        raise ValueError(NO_HINTS_MESSAGE)
    device = _model_device(model)
    t = torch.from_numpy(np.array(rgb_small)) if not isinstance(rgb_small, torch.Tensor) else rgb_small
    if t.dim() == 3:
        t = t.unsqueeze(0)
    prec = choose_precision(device, precision, min_side=min(t.shape[1], t.shape[2]))
    l_net = scale_l(rgb_uint8_to_l(t.to(device).permute(0, 3, 1, 2)))
    if prec.channels_last:
        l_net = l_net.contiguous(memory_format=torch.channels_last)
    was_training = model.training
    model.eval()
    try:
        with prec.autocast():
            output = model(l_net, hints.to(device)) if hints is not None else model(l_net)
        return model.decode(output.float(), temperature).float() * AB_SCALE
    finally:
        model.train(was_training)


def join_lightness(images: np.ndarray | torch.Tensor, ab_small: torch.Tensor, saturation: float = 1.0) -> np.ndarray:
    """Each image's own full-resolution ``L`` + ``ab_small`` ``(B, 2, h, w)`` (Lab units) upsampled
    bilinearly -> ``(B, H, W, 3)`` uint8 RGB. ``images`` are uint8 ``(B, H, W, 3)`` or gray ``(B, H, W)``.

    Computed on ``ab_small``'s device, at most :data:`JOIN_PIXELS` pixels at a time: several small
    images together, whole rows of a large one, or pieces of a row wider than that, so memory
    stays bounded whatever the shape. ``saturation`` scales the colour (0 gives the gray photo).
    """
    t = images if isinstance(images, torch.Tensor) else np.asarray(images)
    if t.dtype not in (torch.uint8, np.uint8) or t.ndim not in (3, 4) or (t.ndim == 4 and t.shape[-1] != 3):
        raise ValueError(f"expected uint8 images (B, H, W, 3) or (B, H, W), got {t.dtype} {tuple(t.shape)}")
    if ab_small.dim() != 4 or ab_small.shape[:2] != (t.shape[0], 2):
        raise ValueError(f"expected ab (B, 2, h, w) for {t.shape[0]} image(s), got {tuple(ab_small.shape)}")
    B, H, W = t.shape[:3]
    device = ab_small.device
    ab_small = ab_small.float() * float(saturation)
    out = np.empty((B, H, W, 3), dtype=np.uint8)
    at_once = max(1, JOIN_PIXELS // (H * W))
    rows, cols = (H, W) if at_once > 1 else (max(1, JOIN_PIXELS // W), min(W, JOIN_PIXELS))
    for first in range(0, B, at_once):
        last = min(B, first + at_once)
        for top in range(0, H, rows):
            bottom = min(H, top + rows)
            # sample positions equal to F.interpolate(..., mode="bilinear", align_corners=False)
            gy = (torch.arange(top, bottom, dtype=torch.float32, device=device) * 2 + 1) / H - 1
            for left in range(0, W, cols):
                right = min(W, left + cols)
                gx = (torch.arange(left, right, dtype=torch.float32, device=device) * 2 + 1) / W - 1
                grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)[None].expand(
                    last - first, -1, -1, -1
                )
                ab = F.grid_sample(
                    ab_small[first:last], grid, mode="bilinear", padding_mode="border", align_corners=False
                )
                piece = t[first:last, top:bottom, left:right]
                piece = (piece if isinstance(piece, torch.Tensor) else torch.from_numpy(np.array(piece))).to(device)
                piece = piece[:, None] if piece.dim() == 3 else piece.permute(0, 3, 1, 2)
                rgb = lab_to_rgb(torch.cat([rgb_uint8_to_l(piece), ab], dim=1))
                out[first:last, top:bottom, left:right] = (
                    rgb.permute(0, 2, 3, 1).mul_(255.0).round_().to(torch.uint8).cpu().numpy()
                )
    return out


def _check_options(size: int, saturation: float, temperature: float | None) -> None:
    check_size(size)
    check_saturation(saturation)
    if temperature is not None:
        check_temperature(temperature)


def network_input(rgb: np.ndarray, size: int = DEFAULT_SIZE) -> np.ndarray:
    """The photo as the network sees it: uint8 RGB ``(h, w, 3)`` at :func:`network_input_size`
    (bilinear; a gray ``(H, W)`` photo repeated to three channels). :func:`predict_ab` takes it."""
    h, w = network_input_size(rgb.shape[0], rgb.shape[1], size)
    if (h, w) == rgb.shape[:2]:
        small = rgb
    else:
        small = np.asarray(Image.fromarray(rgb).resize((w, h), Image.BILINEAR, reducing_gap=2.0))
    if small.ndim == 2:  # gray (see load_image(gray_ok=True)): the network takes RGB
        small = np.repeat(small[:, :, None], 3, axis=2)
    return small


def colorize(
    image: ImageSource,
    model: ColorizationNet | None = None,
    *,
    size: int = DEFAULT_SIZE,
    saturation: float = 1.0,
    temperature: float | None = None,
    precision: str = "auto",
    hints: Sequence[tuple[float, float, Any]] | None = None,
) -> np.ndarray:
    """Colorize one photo; returns ``(H, W, 3)`` uint8 RGB at the input's exact size.

    ``image`` is a path, a PIL image (any mode) or an array (``(H, W)`` gray,
    ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA; uint8, uint16, bool or float in
    ``[0, 1]``). A colour input is treated as gray: only its lightness is used.
    ``model`` defaults to :func:`load_pretrained`. ``saturation`` scales the
    predicted ab (1 = as predicted, 0 = gray); ``temperature`` decodes a
    classification head (from the mean at 1 towards the mode near 0).

    ``hints`` guide the colours (a model that takes hints, such as the default): a list of
    ``(x, y, colour)``, ``x`` the column and ``y`` the row of a pixel of ``image``, the colour
    ``"#RRGGBB"`` or ``(r, g, b)`` 0-255, e.g. ``[(120, 80, "#d02020")]``. The network spreads
    each hint's colour over what it belongs to; ``[]`` is the automatic result.
    """
    _check_options(size, saturation, temperature)
    model = model if model is not None else load_pretrained()
    if hints is not None and not takes_hints(model):
        raise ValueError(NO_HINTS_MESSAGE)
    rgb = load_image(image, gray_ok=True)
    small = network_input(rgb, size)
    if hints is None:
        ab = predict_ab(model, small, temperature=temperature, precision=precision)
        return join_lightness(rgb[None], ab, saturation)[0]
    checked = validate_hints(hints, rgb.shape[1], rgb.shape[0])
    hint_net = hint_image(checked, rgb.shape[1], rgb.shape[0], small.shape[1], small.shape[0])
    ab = predict_ab(model, small, temperature=temperature, precision=precision, hints=hint_net)
    return join_lightness(rgb[None], _guided(ab, small, checked, rgb.shape[:2]), saturation)[0]


def _guided(ab: torch.Tensor, small: np.ndarray, hints: Sequence[tuple[float, float, Any]], full: tuple[int, int]):
    """The network's ``(1, 2, h, w)`` ab with the hints spread along the photo's edges (:mod:`colorlab.spread`)."""
    if not hints:
        return ab
    h, w = small.shape[:2]
    points = [((x + 0.5) * w / full[1] - 0.5, (y + 0.5) * h / full[0] - 0.5) for x, y, _ in hints]
    colours = torch.tensor([c for _, _, c in hints], dtype=torch.uint8).view(1, -1, 1, 3)
    hint_ab = rgb_to_lab(colours.permute(0, 3, 1, 2).float() / 255.0)[0, 1:, :, 0].T.numpy()
    lightness = rgb_uint8_to_l(torch.from_numpy(np.array(small)).permute(2, 0, 1)[None])[0, 0].numpy()
    net_ab = ab[0].permute(1, 2, 0).float().cpu().numpy()
    guided = spread_hints(lightness, points, hint_ab, net_ab)
    return torch.from_numpy(guided).permute(2, 0, 1)[None].to(ab.device)


def colorize_many(
    images: Iterable[ImageSource],
    model: ColorizationNet | None = None,
    *,
    size: int = DEFAULT_SIZE,
    saturation: float = 1.0,
    batch_size: int = 16,
    temperature: float | None = None,
    precision: str = "auto",
) -> list[np.ndarray]:
    """Colorize many photos, batching those that share a network input size.

    Returns the colorized images in input order. Errors (e.g.
    :class:`colorlab.images.ImageLoadError`) propagate; use :func:`colorize` in
    a loop to handle files one by one.
    """
    _check_options(size, saturation, temperature)
    model = model if model is not None else load_pretrained()
    rgbs = [load_image(im, gray_ok=True) for im in images]
    smalls = [network_input(r, size) for r in rgbs]
    groups: dict[tuple[int, int], list[int]] = {}
    for i, s in enumerate(smalls):
        groups.setdefault(s.shape[:2], []).append(i)
    results: list[np.ndarray | None] = [None] * len(rgbs)
    for idx in groups.values():
        for start in range(0, len(idx), batch_size):
            chunk = idx[start : start + batch_size]
            ab = predict_ab(model, np.stack([smalls[i] for i in chunk]), temperature=temperature, precision=precision)
            for j, i in enumerate(chunk):
                results[i] = join_lightness(rgbs[i][None], ab[j : j + 1], saturation)[0]
    return [r for r in results if r is not None]
