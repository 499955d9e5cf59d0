"""Where colorlab's shipped files are: the demo models, the bundled photos, the split lists, the lessons.

They live in the repository's top-level ``data/`` folder (``data/README.md`` documents each
one) and, for the lesson notebooks, in ``notebooks/``. A wheel or sdist carries those folders
inside the package as ``colorlab/_data`` and ``colorlab/_lessons`` (see ``package-dir`` in
``pyproject.toml``), found here through :mod:`importlib.resources`; in a source checkout
(``pip install -e .`` or ``PYTHONPATH``) they are ``data/`` and ``notebooks/`` beside ``colorlab/``.
Nothing here checks that a file exists (except :func:`find_split`, which resolves a name the
user typed): callers say what is missing and how to get it.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

__all__ = [
    "data_dir",
    "model_path",
    "photo_path",
    "split_path",
    "BUNDLED_SPLITS",
    "find_split",
    "lessons_dir",
    "LESSON_PATTERNS",
    "lesson_files",
]

#: The split files that ship in ``data/splits`` (``NAME.csv``): which photos the demo models trained
#: on and which were held out. ``imagenet-sample``: the paper's nets; ``photo-mix``: the U-Nets.
BUNDLED_SPLITS = ("imagenet-sample", "photo-mix")
#: The lesson files that ship (relative to ``notebooks/``); pyproject.toml's package-data says the same.
LESSON_PATTERNS = ("0*.ipynb", "README.md", "figures/*")


def _shipped(packaged: str, checkout: str) -> Path:
    """The installed ``colorlab/<packaged>`` folder, else a checkout's ``<checkout>/`` beside ``colorlab/``."""
    resource = files(__package__) / packaged
    if resource.is_dir():
        # Wheels are unpacked on install, so the resource is a real folder (torch.load needs a path).
        return Path(str(resource))
    return Path(__file__).resolve().parent.parent / checkout


def data_dir() -> Path:
    """The folder holding colorlab's shipped files: the installed ``colorlab/_data``, else a checkout's ``data/``."""
    return _shipped("_data", "data")


def model_path(name: str) -> Path:
    """A shipped model file, e.g. ``model_path("colorlab-lite0-demo.pt")``."""
    return data_dir() / name


def photo_path(name: str) -> Path:
    """A bundled photo, e.g. ``photo_path("raccoon.jpg")``."""
    return data_dir() / "photos" / name


def split_path(name: str) -> Path:
    """A shipped file list (one split of a dataset), e.g. ``split_path("imagenet-val.csv")``."""
    return data_dir() / "splits" / name


def find_split(name: str | os.PathLike[str]) -> Path:
    """A split file the user named: a path to a CSV, or a bundled split's name (``imagenet-sample``,
    ``photo-mix``, with or without ``.csv``). An existing file wins; raises ``ValueError`` naming
    the bundled splits when neither is found."""
    path = Path(name)
    if path.is_file():
        return path
    stem = str(name).removesuffix(".csv")
    if stem in BUNDLED_SPLITS:
        return split_path(f"{stem}.csv")
    raise ValueError(
        f"{name}: no such split file; give a CSV file or a bundled split by name: {', '.join(BUNDLED_SPLITS)}"
    )


def lessons_dir() -> Path:
    """The lesson notebooks' folder: the installed ``colorlab/_lessons``, else a checkout's ``notebooks/``."""
    return _shipped("_lessons", "notebooks")


def lesson_files() -> list[Path]:
    """The shipped lesson files (:data:`LESSON_PATTERNS`), relative to :func:`lessons_dir`, sorted."""
    root = lessons_dir()
    found = {p.relative_to(root) for pattern in LESSON_PATTERNS for p in root.glob(pattern) if p.is_file()}
    return sorted(found)
