"""colorlab: learn and use automatic image colorization (Deep Koalarization) with PyTorch.

A grayscale photo goes in, a plausible colour photo comes out. The pieces:

The core a learner reads top to bottom (under 500 non-blank lines):

* :mod:`colorlab.color` - CIE Lab <-> sRGB in torch, and the network's scaling
* :mod:`colorlab.model` - encoder, frozen ImageNet feature extractor, fusion, decoder
* :mod:`colorlab.train` - the loss, one training step, validation, a plain training loop

Around it:

* :mod:`colorlab.images` - image files in (any mode, profile, bit depth), results out, safely
* :mod:`colorlab.samples` - the bundled sample photos (no download)
* :mod:`colorlab.data` - the folder dataset of training crops, skipping bad files
* :mod:`colorlab.splits` - committed train/held-out splits, the held-out photos
* :mod:`colorlab.crops` - the one random-crop sampler, for folders and the cache
* :mod:`colorlab.backbones` - where each feature extractor and its ImageNet weights come from
* :mod:`colorlab.checkpoint` - the checkpoint format, safe loading, export, the demo models
* :mod:`colorlab.transfer` - the U-Net over the pretrained trunk, and :func:`~colorlab.transfer.create_model`
* :mod:`colorlab.hints` - colour hints: simulated clicks for training, a user's clicks for colorize
* :mod:`colorlab.infer` - :func:`colorize` for any image size
* :mod:`colorlab.metrics` - PSNR, SSIM, colorfulness, the gray baseline
* :mod:`colorlab.device` - the device and number format (bf16 where the hardware has it)
* :mod:`colorlab.files` - atomic writes that never replace a user's file by surprise
* :mod:`colorlab.engine` - the production trainer (bf16, compile, DDP, resume) on the core's step
* :mod:`colorlab.cache` - a memory-mapped uint8 image cache for fast training
* :mod:`colorlab.download` - dataset archives, checksummed and safely extracted
* :mod:`colorlab.colorbins` - colour as classification: gamut bins, soft targets, rebalancing, annealed mean
* :mod:`colorlab.video` - colorize films without flicker (PyAV)
* :mod:`colorlab.game` - "real or colorized?": the paper's user study as a classroom game
* :mod:`colorlab.viz` (a package of figures by subject), :mod:`colorlab.widgets` - figures and apps for the lessons
* :mod:`colorlab.exercises` - checks for the lessons' exercises
* :mod:`colorlab.cli` - the ``colorlab`` command

README.md ("How the code is organised") shows the floors and what each module may import.

The most used names are importable from the top level, lazily (importing
``colorlab`` stays fast).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.3.0"

_EXPORTS = {
    "rgb_to_lab": "color",
    "lab_to_rgb": "color",
    "ColorizationNet": "model",
    "ModelConfig": "model",
    "build_model": "model",
    "sample_images": "samples",
    "ColorDataset": "data",
    "load_image": "images",
    "Trainer": "engine",
    "TrainConfig": "engine",
    "colorize": "infer",
    "colorize_many": "infer",
    "load_model": "checkpoint",
    "load_pretrained": "checkpoint",
    "prepare": "cache",
    "CachedDataset": "cache",
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
