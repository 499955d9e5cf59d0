"""Where colorlab's shipped files are: the demo models, the bundled photos, the split lists.

They live in the repository's top-level ``data/`` folder (``data/README.md`` documents each
one). A wheel or sdist carries that folder inside the package as ``colorlab/_data`` (see
``package-dir`` in ``pyproject.toml``), found here through :mod:`importlib.resources`; in a
source checkout (``pip install -e .`` or ``PYTHONPATH``) it is ``data/`` beside ``colorlab/``.
Nothing here checks that a file exists: callers say what is missing and how to get it.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["data_dir", "model_path", "photo_path", "split_path"]


def data_dir() -> Path:
    """The folder holding colorlab's shipped files: the installed ``colorlab/_data``, else a checkout's ``data/``."""
    packaged = files(__package__) / "_data"
    if packaged.is_dir():
        # Wheels are unpacked on install, so the resource is a real folder (torch.load needs a path).
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "data"


def model_path(name: str) -> Path:
    """A shipped model file, e.g. ``model_path("colorlab-lite0-demo.pt")``."""
    return data_dir() / name


def photo_path(name: str) -> Path:
    """A bundled photo, e.g. ``photo_path("raccoon.jpg")``."""
    return data_dir() / "photos" / name


def split_path(name: str) -> Path:
    """A shipped file list (one split of a dataset), e.g. ``split_path("imagenet-val.csv")``."""
    return data_dir() / "splits" / name
