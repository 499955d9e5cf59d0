"""The folder dataset: square uint8 RGB crops of photos, for training and validation.

:class:`ColorDataset` turns photo files (or in-memory photos) into ``(3, S, S)`` uint8 crops, the
same random resized crops and flips as the prepared cache (:mod:`colorlab.crops`). Colour
conversion does *not* happen here: a batch source yields uint8 RGB and training turns whole
batches into network tensors on its device (:func:`colorlab.train.to_network`). Per-sample work
in loader workers is limited to decoding, cropping and resizing.

Bad files never stop training: :meth:`ColorDataset.batches` leaves an unusable file out of its
batch and warns once per file.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from .crops import CropSpec, center_crop_resize, pixel_box, sample_crop, thumbnail
from .images import IMAGE_EXTENSIONS, ImageLoadError, _array_to_rgb, find_images, is_grayscale
from .samples import load_item

__all__ = ["ColorDataset", "SkippedFiles"]

#: Largest side an image is decoded at for training (JPEG draft mode), in multiples of the crop size.
_DRAFT_FACTOR = 2

# --- The folder dataset -------------------------------------------------------------


class SkippedFiles:
    """Remembers unusable files and warns once per file: ``skipping <file>: <reason>``."""

    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}

    def report(self, name: str, reason: str) -> None:
        if name not in self.reasons:
            self.reasons[name] = reason
            warnings.warn(f"skipping {name}: {reason}", stacklevel=2)

    def __len__(self) -> int:
        return len(self.reasons)


class ColorDataset(torch.utils.data.Dataset):
    """Square uint8 RGB crops ``(3, size, size)`` from image files or in-memory photos.

    ``items`` are paths or ``(H, W, 3)`` arrays (e.g. the values of :func:`sample_images`).
    With ``augment=True`` each access takes a random resized crop and flip drawn by
    :func:`colorlab.crops.sample_crop` (``scale`` of the area, ``ratio`` aspect range, the most
    colourful of ``colorful_crops`` candidates; a pure function of ``(seed, epoch, index)``);
    otherwise a center crop. ``repeats`` makes one epoch visit every item that many times.

    ``ds[i]`` raises :class:`ImageLoadError` for an unusable file (and, with
    ``skip_grayscale``, for a photo without colour: it would teach "no colour");
    :meth:`batches`, which training uses, skips those with one warning per file instead.
    """

    def __init__(
        self,
        items: Sequence[str | os.PathLike[str] | np.ndarray],
        size: int = 224,
        augment: bool = True,
        scale: tuple[float, float] = (0.25, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        repeats: int = 1,
        seed: int = 0,
        skip_grayscale: bool = True,
        colorful_crops: int = 1,
    ) -> None:
        if size < 8 or size % 8:
            raise ValueError(f"size must be a positive multiple of 8, got {size}")
        if colorful_crops < 1:
            raise ValueError(f"colorful_crops must be at least 1, got {colorful_crops}")
        if len(items) == 0:
            raise ValueError("ColorDataset got no images; check the folder or list you passed")
        self.items = list(items)
        self.size, self.augment, self.repeats = size, augment, max(1, int(repeats))
        self.crops = CropSpec(scale, ratio, colorful_crops, seed)
        self.epoch = 0
        self.skip_grayscale = skip_grayscale
        self.skipped = SkippedFiles()
        self._memory = [Image.fromarray(_array_to_rgb(it)) if isinstance(it, np.ndarray) else None for it in self.items]

    @classmethod
    def from_folder(cls, root: str | os.PathLike[str], **kwargs: Any) -> ColorDataset:
        """All images below ``root`` (recursive)."""
        paths = find_images(root)
        if not paths:
            raise ValueError(f"{root}: no images found (looked for {', '.join(IMAGE_EXTENSIONS)})")
        return cls(paths, **kwargs)

    def set_epoch(self, epoch: int) -> None:
        """Choose the random crops of ``epoch`` (call before iterating)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.items) * self.repeats

    def name(self, index: int) -> str:
        item = self.items[index % len(self.items)]
        return str(item) if not isinstance(item, np.ndarray) else f"<photo {index % len(self.items)}>"

    def _pil(self, i: int) -> Image.Image:
        mem = self._memory[i]
        return mem if mem is not None else Image.fromarray(load_item(self.items[i], max_side=self.size * _DRAFT_FACTOR))

    def __getitem__(self, index: int) -> torch.Tensor:
        img = self._pil(index % len(self.items))
        rgb = np.asarray(img)
        if self.skip_grayscale and is_grayscale(thumbnail(rgb)):
            raise ImageLoadError(self.name(index), "grayscale photo (no colour to learn from), skipped")
        if not self.augment:
            return torch.from_numpy(center_crop_resize(rgb, self.size)).permute(2, 0, 1)
        box, flip = sample_crop(self.crops, self.epoch, index, img.width, img.height, thumbnail(rgb))
        crop = np.array(
            img.resize(
                (self.size, self.size), Image.BILINEAR, box=pixel_box(box, img.width, img.height), reducing_gap=2.0
            )
        )
        return torch.from_numpy(np.ascontiguousarray(crop[:, ::-1] if flip else crop)).permute(2, 0, 1)

    def batches(self, chunks: Sequence[Sequence[int]], epoch: int, device: torch.device, workers: int = 0):
        """uint8 RGB batches ``(b, 3, size, size)`` on ``device``, one per chunk of indices (a batch source).

        Files are decoded and cropped by ``workers`` DataLoader processes. An unusable file is
        left out of its batch with one warning (a batch may come out smaller, even empty).
        """
        self.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(
            _Tolerant(self),
            batch_sampler=chunks,
            num_workers=workers,
            collate_fn=functools.partial(_stack_good, size=self.size),
            pin_memory=torch.device(device).type == "cuda",
        )
        for images, bad in loader:
            for index, reason in bad:
                self.skipped.report(self.name(index), reason)
            yield images.to(device, non_blocking=True)


class _Tolerant(torch.utils.data.Dataset):
    """``(image, index, None)`` or ``(None, index, reason)``: a bad file must not stop a DataLoader."""

    def __init__(self, dataset: ColorDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[torch.Tensor | None, int, str | None]:
        try:
            return self.dataset[index], index, None
        except ImageLoadError as exc:
            return None, index, exc.reason
        except Exception as exc:  # anything a decoder throws must not kill training
            return None, index, f"{type(exc).__name__}: {exc}"


def _stack_good(
    batch: list[tuple[torch.Tensor | None, int, str | None]], size: int
) -> tuple[torch.Tensor, list[tuple[int, str]]]:
    good = [image for image, _, _ in batch if image is not None]
    bad = [(index, reason or "unusable") for image, index, reason in batch if image is None]
    return (torch.stack(good) if good else torch.empty((0, 3, size, size), dtype=torch.uint8)), bad
