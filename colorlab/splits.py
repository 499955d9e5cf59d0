"""Fixed train/held-out splits of a photo collection, as small committed files with checksums.

A split file is a CSV with one row per photo: ``split`` (``train`` or ``heldout``), ``name``
(a path relative to the collection's folder, or ``sample:NAME`` for one of colorlab's bundled
photos) and ``sha256`` of the file (empty for bundled photos). It says exactly which photos a
model learned from and which it was judged on, without committing the photos themselves::

    colorlab prepare  --data ~/imagenet-sample-images --split imagenet-sample --out cache/
    colorlab evaluate --data ~/imagenet-sample-images --split imagenet-sample

(``--split`` takes a bundled split by name, see :func:`colorlab.resources.find_split`, or a CSV path.)

:func:`imagenet_sample_split` makes the split the demo models use, by a rule that never looks at
the pictures: every tenth ImageNet class (by WordNet id) is held out, plus ``china`` and ``flower``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .files import atomic_write
from .images import find_images
from .samples import SAMPLE_PHOTOS, SAMPLE_PREFIX, item_name, load_item

__all__ = [
    "SAMPLE_PREFIX",
    "SPLITS",
    "SplitRow",
    "read_split",
    "write_split",
    "select",
    "imagenet_sample_split",
    "photo_mix_split",
    "MIX_SOURCES",
    "sha256_of",
    "heldout_images",
    "GAME_FOLDER",
    "game_photo_items",
    "game_images",
    "split_items",
]

#: The subsets a split file knows.
SPLITS = ("train", "heldout")
#: Bundled photos held out from the demo models' training.
HELD_OUT_SAMPLES = ("china", "flower")
#: The folder of ``data/photos`` with the game's photos: small copies of held-out photos (data/README.md).
GAME_FOLDER = "game"


@dataclass(frozen=True)
class SplitRow:
    split: str
    name: str
    sha256: str = ""


def sha256_of(path: str | os.PathLike[str]) -> str:
    """The SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_split(path: str | os.PathLike[str]) -> list[SplitRow]:
    """The rows of a split file (raises ``ValueError`` naming the file and the line for a bad one)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such split file")
    rows = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None or not {"split", "name"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: not a split file (expected the columns split,name,sha256)")
        for line, rec in enumerate(reader, start=2):
            if rec["split"] not in SPLITS or not rec["name"]:
                raise ValueError(
                    f"{path}:{line}: split must be one of {SPLITS} with a name, got {rec['split']!r}, {rec['name']!r}"
                )
            rows.append(SplitRow(rec["split"], rec["name"], (rec.get("sha256") or "").strip()))
    return rows


def write_split(path: str | os.PathLike[str], rows: Sequence[SplitRow], *, overwrite: bool = False) -> Path:
    """Write ``rows`` as a split file (atomically; an existing file is kept unless ``overwrite``)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["split", "name", "sha256"])
    writer.writerows((r.split, r.name, r.sha256) for r in rows)
    with atomic_write(path, overwrite=overwrite) as f:
        f.write(text.getvalue().encode())
    return Path(path)


def select(
    rows: Sequence[SplitRow], subset: str, root: str | os.PathLike[str], *, verify: bool = True
) -> list[Path | str]:
    """The photos of ``subset``: paths under ``root``, and ``"sample:NAME"`` for bundled photos.

    With ``verify``, every file must exist and match its checksum; otherwise a ``ValueError``
    says how many do not and names the first few (the collection is another version, or incomplete).
    """
    if subset not in SPLITS:
        raise ValueError(f"unknown subset {subset!r}; choose one of {SPLITS}")
    root = Path(root)
    items: list[Path | str] = []
    missing, changed = [], []
    for row in rows:
        if row.split != subset:
            continue
        if row.name.startswith(SAMPLE_PREFIX):
            items.append(row.name)
            continue
        path = root / row.name
        if not path.is_file():
            missing.append(row.name)
        elif verify and row.sha256 and sha256_of(path) != row.sha256:
            changed.append(row.name)
        items.append(path)
    for what, names in (("missing", missing), ("different from the split's checksum", changed)):
        if names:
            raise ValueError(
                f"{root}: {len(names)} photo(s) of the split are {what} (e.g. {', '.join(names[:3])}); "
                "is this the collection the split was made from? See data/README.md"
            )
    return items


def imagenet_sample_split(root: str | os.PathLike[str]) -> list[SplitRow]:
    """The demo models' split of ``EliSchwartz/imagenet-sample-images`` (one photo per ImageNet class).

    Files are sorted by name (their WordNet id); every tenth (positions 0, 10, 20, ...) is held
    out. The bundled photos train, except ``china`` and ``flower``, which are held out too.
    """

    root = Path(root)
    files = sorted(p for p in find_images(root) if p.parent == root)
    if not files:
        raise ValueError(f"{root}: no photos found")
    rows = [SplitRow("heldout" if i % 10 == 0 else "train", p.name, sha256_of(p)) for i, p in enumerate(files)]
    rows += [
        SplitRow("heldout" if s.name in HELD_OUT_SAMPLES else "train", SAMPLE_PREFIX + s.name) for s in SAMPLE_PHOTOS
    ]
    return rows


#: The collections of the photo mix (``data/splits/photo-mix.csv``): each one's folder under the
#: mix's root, where its photos are inside it, and every how many sorted photos one is held out.
#: Where they come from (repository, commit, licence) is in data/README.md.
MIX_SOURCES: dict[str, dict[str, object]] = {
    "imagenet": {"train": "*.JPEG", "every": 10},
    # MIT miniplaces: 300 photos of each of its 100 scene categories train; every 100th photo
    # of its separate validation folder is held out.
    "miniplaces": {
        "train": "data/images/train/*/*/*.jpg",
        "per_folder": 300,
        "heldout": "data/images/val/*.jpg",
        "every": 100,
    },
    "clothing": {"train": "images/*.jpg", "every": 50},
    "food": {"train": "images/*/*.jpg", "every": 100},
    "catsdogs": {"train": "dataset/*_set/*/*.jpg", "every": 100},
}


def photo_mix_split(root: str | os.PathLike[str], *, progress: bool = True) -> list[SplitRow]:
    """The split of the photo mix the transfer models learn from: one folder per collection of
    :data:`MIX_SOURCES` under ``root``, by rules that never look at the pictures.

    In each collection the photos are sorted by path and every ``every``-th one (positions 0,
    ``every``, ...) is held out; ``imagenet`` follows :func:`imagenet_sample_split` exactly, so its
    held-out photos are the demo models' too. The bundled photos are split as there.
    """
    from tqdm.auto import tqdm

    root = Path(root)
    rows: list[SplitRow] = []
    for source, rule in MIX_SOURCES.items():
        folder = root / source
        if not folder.is_dir():
            raise ValueError(f"{folder}: missing; data/README.md says how to get each collection of the photo mix")
        files = sorted(folder.glob(str(rule["train"])))
        if "per_folder" in rule:
            by_folder: dict[Path, list[Path]] = {}
            for f in files:
                by_folder.setdefault(f.parent, []).append(f)
            files = [f for group in by_folder.values() for f in group[: int(rule["per_folder"])]]
        every = int(rule["every"])  # type: ignore[call-overload]
        if "heldout" in rule:
            held = sorted(folder.glob(str(rule["heldout"])))[::every]
            chosen = [("train", f) for f in files] + [("heldout", f) for f in held]
        else:
            chosen = [("heldout" if i % every == 0 else "train", f) for i, f in enumerate(files)]
        if not chosen:
            raise ValueError(f"{folder}: no photos matching {rule['train']}")
        for split, f in tqdm(chosen, desc=f"checksums {source}", unit="img", disable=not progress):
            rows.append(SplitRow(split, f.relative_to(root).as_posix(), sha256_of(f)))

    rows += [
        SplitRow("heldout" if s.name in HELD_OUT_SAMPLES else "train", SAMPLE_PREFIX + s.name) for s in SAMPLE_PHOTOS
    ]
    return rows


# --- Held-out photos and ad-hoc splits -----------------------------------------------


def heldout_images(
    root: str | os.PathLike[str] | None = None, split: str = "imagenet-sample.csv"
) -> dict[str, np.ndarray]:
    """The photos the demo models never saw in training, as ``{name: (H, W, 3) uint8}``.

    Always the bundled held-out photos (``china``, ``flower``); with ``root``, the folder of
    ``EliSchwartz/imagenet-sample-images`` (see data/README.md), its held-out photos too.
    """
    from .resources import split_path

    rows = read_split(split_path(split))
    if root is None:
        rows = [r for r in rows if r.name.startswith(SAMPLE_PREFIX)]
    items = select(rows, "heldout", root or ".")
    return {item_name(item, root).removeprefix(SAMPLE_PREFIX): load_item(item) for item in items}


def game_photo_items() -> dict[str, Path | str]:
    """The photos of "Real or colorized?" (:mod:`colorlab.game`) by name, not loaded: no demo model trained on any.

    The small copies in ``data/photos/game`` (22 held-out clothing photos of the photo mix,
    ``clothing-<id>``; data/README.md says where each comes from), then ``china`` and ``flower``
    as ``"sample:NAME"`` (load any of them with :func:`colorlab.samples.load_item`).
    """
    from .resources import photo_path

    folder = photo_path(GAME_FOLDER)
    found: dict[str, Path | str] = {p.stem: p for p in sorted(folder.glob("*.jpg"))}
    if not found:
        raise FileNotFoundError(
            f"{folder}: the game's photos are missing; they ship in every install of colorlab-koala "
            "(reinstall: pip install --force-reinstall --no-deps colorlab-koala)"
        )
    return {**found, **{name: SAMPLE_PREFIX + name for name in HELD_OUT_SAMPLES}}


def game_images() -> dict[str, np.ndarray]:
    """The photos of :func:`game_photo_items`, loaded: ``{name: (H, W, 3) uint8}``."""
    return {name: load_item(item) for name, item in game_photo_items().items()}


def split_items(
    items: Sequence[Any], val_fraction: float = 0.1, test_fraction: float = 0.0, seed: int = 0
) -> tuple[list[Any], list[Any], list[Any]]:
    """Deterministic (train, val, test) split of ``items`` by ``seed``.

    The same items and seed always give the same split, whatever order the
    items come in (they are sorted by their string form first).
    """
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError(f"fractions must be in [0, 1) and sum below 1, got val={val_fraction}, test={test_fraction}")
    ordered = sorted(items, key=str)
    perm = np.random.default_rng(seed).permutation(len(ordered))
    n_test = int(round(len(ordered) * test_fraction))
    n_val = int(round(len(ordered) * val_fraction))
    if val_fraction > 0 and n_val == 0 and len(ordered) - n_test > 1:
        n_val = 1
    test = [ordered[i] for i in perm[:n_test]]
    val = [ordered[i] for i in perm[n_test : n_test + n_val]]
    train = [ordered[i] for i in perm[n_test + n_val :]]
    if ordered and not train:
        raise ValueError(
            f"a validation fraction of {val_fraction} (and test {test_fraction}) of {len(ordered)} photo(s) "
            "leaves none to train on; lower --val-fraction or add photos"
        )
    return train, val, test
