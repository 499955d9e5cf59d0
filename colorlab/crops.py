"""Random resized crops and flips: one sampler for photo folders and the uint8 cache alike.

Training sees a random part of each photo: an area fraction drawn from ``scale``, an aspect
ratio drawn log-uniformly from ``ratio`` (clamped so the crop fits), a random position, and a
horizontal flip half of the time. The draw for item ``index`` in ``epoch`` is a pure function of
``(seed, epoch, index)``, so a resumed run, a DataLoader worker and the cache reader all see the
same crop. Boxes are fractions of the image, ``(x0, y0, x1, y1)`` in ``[0, 1]``, so the same box
can cut a PIL image (folders) or drive ``grid_sample`` on a batch (the cache, on the device).

With ``colorful=k > 1`` the most colourful of ``k`` candidate boxes wins (mean Lab chroma,
judged on a small thumbnail through a summed-area table): training then sees more coloured
regions and fewer gray walls, a push against the washed-out colours MSE learns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .color import rgb_uint8_to_lab

__all__ = [
    "CropSpec",
    "sample_crop",
    "center_box",
    "center_crop_resize",
    "pixel_box",
    "chroma_table",
    "mean_in_box",
    "crop_batch",
    "resize_batch",
    "thumbnail",
]

#: Side of the thumbnail on which crops are judged for colourfulness.
THUMB_SIDE = 64


@dataclass(frozen=True)
class CropSpec:
    """How random crops are drawn: area ``scale``, aspect ``ratio``, ``colorful`` candidates, ``seed``."""

    scale: tuple[float, float] = (0.25, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    colorful: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f"crop scale must satisfy 0 < min <= max <= 1, got {self.scale}")
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"crop ratio must satisfy 0 < min <= max, got {self.ratio}")
        if self.colorful < 1:
            raise ValueError(f"colorful crops must be at least 1, got {self.colorful}")


def center_box(width: int, height: int) -> tuple[float, float, float, float]:
    """The largest centred square of a ``width x height`` image, as fractions."""
    s = min(width, height)
    fx, fy = s / width, s / height
    return ((1 - fx) / 2, (1 - fy) / 2, (1 + fx) / 2, (1 + fy) / 2)


def _boxes(rng: np.random.Generator, k: int, aspect: float, spec: CropSpec) -> np.ndarray:
    """``k`` random boxes ``(k, 4)`` as fractions of an image whose width/height is ``aspect``."""
    u = rng.random((k, 4))
    area = spec.scale[0] + (spec.scale[1] - spec.scale[0]) * u[:, 0]
    r = np.exp(math.log(spec.ratio[0]) + u[:, 1] * (math.log(spec.ratio[1]) - math.log(spec.ratio[0])))
    fw = np.minimum(1.0, np.sqrt(area * r / aspect))  # crop width / image width
    fh = np.minimum(1.0, np.sqrt(area * aspect / r))
    x0, y0 = u[:, 2] * (1 - fw), u[:, 3] * (1 - fh)
    return np.stack([x0, y0, x0 + fw, y0 + fh], axis=1)


def sample_crop(
    spec: CropSpec, epoch: int, index: int, width: int, height: int, thumb: np.ndarray | None = None
) -> tuple[tuple[float, float, float, float], bool]:
    """The crop box (fractions) and flip of item ``index`` in ``epoch`` for a ``width x height`` image.

    ``thumb``, a small ``(h, w, 3)`` uint8 copy of the image, is needed when ``spec.colorful > 1``.
    """
    rng = np.random.default_rng([spec.seed, epoch, index])
    boxes = _boxes(rng, spec.colorful, width / height, spec)
    flip = bool(rng.random() < 0.5)
    if spec.colorful > 1:
        if thumb is None:
            raise ValueError("colourful crops need a thumbnail of the image")
        table = chroma_table(thumb)
        boxes = boxes[int(np.argmax([mean_in_box(table, b) for b in boxes]))][None]
    return tuple(float(v) for v in boxes[0]), flip  # type: ignore[return-value]


def chroma_table(thumb: np.ndarray) -> np.ndarray:
    """Summed-area table ``(h + 1, w + 1)`` of the Lab chroma of a small ``(h, w, 3)`` uint8 image."""
    lab = rgb_uint8_to_lab(thumb)
    chroma = np.hypot(lab[..., 1], lab[..., 2]).astype(np.float64)
    return np.pad(chroma.cumsum(0).cumsum(1), ((1, 0), (1, 0)))


def mean_in_box(table: np.ndarray, box: tuple[float, float, float, float] | np.ndarray) -> float:
    """Mean of the thumbnail's values under ``box`` (fractions), from its summed-area table."""
    th, tw = table.shape[0] - 1, table.shape[1] - 1
    x0, y0 = min(int(box[0] * tw), tw - 1), min(int(box[1] * th), th - 1)
    x1, y1 = max(x0 + 1, min(tw, round(box[2] * tw))), max(y0 + 1, min(th, round(box[3] * th)))
    total = table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
    return float(total / ((x1 - x0) * (y1 - y0)))


def crop_batch(images: torch.Tensor, boxes: torch.Tensor, flips: torch.Tensor, size: int) -> torch.Tensor:
    """Cut ``boxes`` ``(B, 4)`` (fractions) out of uint8 ``images`` ``(B, 3, S, S)`` on any device,
    flip where ``flips`` ``(B,)`` is true, resize to ``size``: uint8 RGB ``(B, 3, size, size)``.

    One bilinear ``grid_sample`` for the whole batch, on the batch's device; the result is
    rounded to 8 bits like a crop of a photo file, so every batch source yields the same kind
    of batch (:func:`colorlab.train.to_network` makes network tensors of it).
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"crop_batch expects (B, 3, H, W) images, got {tuple(images.shape)}")
    x = images.float()  # 0-255: resampling needs floats; no other change of scale here
    b = boxes.to(x.device, torch.float32)
    sign = torch.where(flips.to(x.device), -1.0, 1.0)
    theta = torch.zeros((len(x), 2, 3), device=x.device)
    theta[:, 0, 0] = (b[:, 2] - b[:, 0]) * sign
    theta[:, 1, 1] = b[:, 3] - b[:, 1]
    theta[:, 0, 2] = b[:, 0] + b[:, 2] - 1
    theta[:, 1, 2] = b[:, 1] + b[:, 3] - 1
    grid = F.affine_grid(theta, [len(x), 3, size, size], align_corners=False)
    return _to_uint8(F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False))


def resize_batch(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``(B, 3, S, S)`` -> uint8 ``(B, 3, size, size)`` (bilinear, antialiased; unchanged at ``S``)."""
    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    return _to_uint8(F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True))


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return x.round_().clamp_(0.0, 255.0).to(torch.uint8)


def thumbnail(image: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """A ``<= side`` px uint8 copy of an ``(H, W, 3)`` image by striding (cheap; for judging colour only)."""
    step = max(1, math.ceil(max(image.shape[:2]) / side))
    return np.ascontiguousarray(image[::step, ::step])


def pixel_box(box: tuple[float, float, float, float], w: int, h: int) -> tuple[float, float, float, float]:
    """A box in fractions of a ``w x h`` image -> the same box in pixels (PIL's ``box=``)."""
    return (box[0] * w, box[1] * h, box[2] * w, box[3] * h)


def center_crop_resize(image: np.ndarray, size: int) -> np.ndarray:
    """Center crop an ``(H, W, 3)`` uint8 photo to its short side, resize to ``size x size``
    (the usual evaluation protocol, and what the prepared cache stores)."""
    box = pixel_box(center_box(image.shape[1], image.shape[0]), image.shape[1], image.shape[0])
    return np.array(Image.fromarray(image).resize((size, size), Image.BICUBIC, box=box, reducing_gap=3.0))
