"""colorlab: learn and use automatic image colorization (Deep Koalarization) with PyTorch.

A grayscale photo goes in, a plausible colour photo comes out. The pieces:

* :mod:`colorlab.color` - CIE Lab <-> sRGB in torch, and the network's scaling
* :mod:`colorlab.model` - encoder, frozen ImageNet feature extractor, fusion, decoder
* :mod:`colorlab.data` - photos, datasets, splits, bad-file handling, downloads
* :mod:`colorlab.train` - the training loop, checkpoints, resume
* :mod:`colorlab.infer` - :func:`colorize` for any image size; the demo model
* :mod:`colorlab.metrics` - PSNR, SSIM, colorfulness, the gray baseline
* :mod:`colorlab.cache` - a memory-mapped uint8 image cache for fast training

The most used names are importable from the top level, lazily (importing
``colorlab`` stays fast).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_EXPORTS = {
    "rgb_to_lab": "color",
    "lab_to_rgb": "color",
    "ColorizationNet": "model",
    "ModelConfig": "model",
    "build_model": "model",
    "sample_images": "data",
    "ColorDataset": "data",
    "load_image": "data",
    "Trainer": "train",
    "TrainConfig": "train",
    "colorize": "infer",
    "colorize_many": "infer",
    "load_model": "infer",
    "load_pretrained": "infer",
    "prepare": "cache",
    "CachedDataset": "cache",
    "download": "data",
    "evaluate": "metrics",
    "psnr": "metrics",
    "ssim": "metrics",
    "colorfulness": "metrics",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'colorlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))
