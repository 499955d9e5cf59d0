"""A memory-mapped uint8 image cache, and augmentation done on the device.

Decoding JPEGs is the slow part of feeding a GPU: one core decodes a few
hundred ImageNet photos a second, the network trains on thousands. The paper
stored its images once in TFRecords; colorlab does the same with one flat file:

* :func:`prepare` walks a folder once (in parallel, with a progress bar, and
  resumable after an interruption), resizes every photo so its short side is
  ``size``, center-crops it to ``size x size`` and writes it as uint8 RGB into
  ``CACHE/images.npy`` (a ``(N, size, size, 3)`` array opened with
  ``numpy.load(..., mmap_mode="r")``). ``CACHE/index.json`` lists the files,
  which slot holds which, and the files that were skipped and why.
* :class:`CachedDataset` reads it. Reading a batch is one memory copy; no
  decoding happens during training.
* :meth:`CachedDataset.batches` reads whole batches in a background thread and
  takes their random resized crops and flips *on the device* (one ``grid_sample``,
  :func:`colorlab.crops.crop_batch`), so the CPU only copies bytes.

Disk use is ``size * size * 3`` bytes per image: 196 KB at 256, so ImageNet's
1.28 M training images take 252 GB. Pick a smaller ``size`` (e.g. 240 for 224
crops) to save space.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .crops import CropSpec, center_crop_resize, crop_batch, resize_batch, sample_crop, thumbnail
from .files import atomic_write, exclusive_lock, replace_problem
from .images import ImageLoadError, find_images, is_grayscale
from .samples import item_name, load_item

__all__ = [
    "CACHE_FORMAT",
    "CACHE_VERSION",
    "prepare",
    "is_cache",
    "read_index",
    "CachedDataset",
    "prefetched",
]

CACHE_FORMAT = "colorlab-cache"
CACHE_VERSION = 1
INDEX_NAME = "index.json"
IMAGES_NAME = "images.npy"
STATE_NAME = "state.npy"  # one byte per slot: 0 pending, 1 stored, 2 skipped
BAD_NAME = "skipped.jsonl"  # one JSON line per skipped file, appended as they happen

_PENDING, _OK, _BAD = 0, 1, 2


# --- preparing ----------------------------------------------------------------------


def is_cache(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a folder with a cache index (complete, incomplete or damaged: reading it says which)."""
    return (Path(path) / INDEX_NAME).is_file()


def read_index(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The cache's ``index.json`` as a dict (raises ``ValueError`` if it is not a colorlab cache)."""
    index_path = Path(path) / INDEX_NAME
    if not index_path.is_file():
        raise ValueError(f"{path}: not a colorlab cache (no {INDEX_NAME}); make one with `colorlab prepare`")
    try:
        index = json.loads(index_path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{index_path}: unreadable or corrupt ({exc}); rebuild the cache with `colorlab prepare ... --overwrite`"
        ) from None
    if not isinstance(index, dict) or index.get("format") != CACHE_FORMAT:
        raise ValueError(f"{path}: {INDEX_NAME} is not a colorlab cache index")
    if index.get("version") != CACHE_VERSION:
        raise ValueError(
            f"{path}: cache version {index.get('version')!r}, this colorlab reads {CACHE_VERSION}; re-run prepare"
        )
    return index


def _write_json(path: Path, obj: Any) -> None:
    with atomic_write(path) as f:
        f.write(json.dumps(obj, indent=1).encode())


# Worker state (one memory map per process, opened once).
_W: dict[str, Any] = {}


@contextlib.contextmanager
def _workers_ignore_ctrl_c() -> Iterator[None]:
    """Start worker processes with SIGINT ignored (inherited from the start on), so that Ctrl-C
    is the main process's alone to handle, in one line, and no worker prints a traceback."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _worker_init(images_path: str, size: int, skip_grayscale: bool) -> None:
    _W["images"] = np.load(images_path, mmap_mode="r+")
    _W["size"] = size
    _W["skip_grayscale"] = skip_grayscale


def _process(job: tuple[int, str]) -> tuple[int, str | None]:
    """Decode, resize and store one file into its slot; return ``(slot, None)`` or ``(slot, reason)``."""
    slot, item = job
    size = _W["size"]
    try:
        rgb = load_item(item, max_side=size * 2)
    except ImageLoadError as exc:
        return slot, exc.reason
    except Exception as exc:  # a decoder may throw anything; one bad file must not stop the pass
        return slot, f"{type(exc).__name__}: {exc}"
    if _W["skip_grayscale"] and is_grayscale(thumbnail(rgb)):
        return slot, "grayscale photo (no colour to learn from), skipped"
    _W["images"][slot] = center_crop_resize(rgb, size)
    return slot, None


def prepare(
    data_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    size: int = 256,
    workers: int | None = None,
    *,
    skip_grayscale: bool = True,
    progress: bool = True,
    chunksize: int = 16,
    files: Sequence[str | os.PathLike[str]] | None = None,
    overwrite: bool = False,
) -> Path:
    """Store every image below ``data_dir`` as ``size x size`` uint8 RGB in the cache folder ``out``.

    ``files`` picks the photos instead (paths below ``data_dir``, or ``"sample:NAME"`` for a
    bundled photo), e.g. the training part of a split from :mod:`colorlab.splits`.

    Each photo is resized so its short side is ``size`` and center-cropped.
    Runs ``workers`` processes (default: all CPU cores); shows a ``tqdm``
    progress bar. Interrupted, it picks up where it stopped when called again
    with the same arguments; called on a complete cache of the same files it
    returns at once. Unusable (and, with ``skip_grayscale``, grayscale) files
    are skipped with one warning line each and listed under ``"skipped"`` in
    ``index.json``. A folder holding another cache (other files or size) is rebuilt only with
    ``overwrite=True``; two runs into one folder at once are refused. Returns ``Path(out)``.
    """
    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: is a file; give a folder for the cache")
    out.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(out / INDEX_NAME, what="prepare"):
        return _prepare(data_dir, out, size, workers, skip_grayscale, progress, chunksize, files, overwrite)


def _prepare(data_dir, out: Path, size: int, workers, skip_grayscale, progress, chunksize, files, overwrite) -> Path:
    root = Path(data_dir)
    files = find_images(root) if files is None else list(files)
    if not files:
        raise ValueError(f"{root}: no images found")
    rel = [item_name(p, root) for p in files]
    index_path, images_path, state_path, bad_path = (out / n for n in (INDEX_NAME, IMAGES_NAME, STATE_NAME, BAD_NAME))
    resume = _resumable(out, size, rel, overwrite)
    if resume == "complete":
        return out
    index: dict[str, Any] = {
        "format": CACHE_FORMAT,
        "version": CACHE_VERSION,
        "size": size,
        "root": str(root.resolve()),
        "images": IMAGES_NAME,
        "shape": [len(files), size, size, 3],
        "dtype": "uint8",
        "files": rel,
        "complete": False,
    }
    if not resume:
        for p in (images_path, state_path, bad_path):
            p.unlink(missing_ok=True)
        np.lib.format.open_memmap(images_path, mode="w+", dtype=np.uint8, shape=(len(files), size, size, 3)).flush()
        np.lib.format.open_memmap(state_path, mode="w+", dtype=np.uint8, shape=(len(files),)).flush()
        _write_json(index_path, index)
    t0 = time.perf_counter()
    state = np.load(state_path, mmap_mode="r+")
    try:
        _store_pending(out, files, rel, state, size, workers, skip_grayscale, progress, chunksize)
        stored = int((state == _OK).sum())
    finally:
        state.flush()
        del state
    skipped = {}
    if bad_path.is_file():
        for line in bad_path.read_text().splitlines():
            if line.strip():
                entry = json.loads(line)
                skipped[entry["file"]] = entry["reason"]
    index.update(complete=True, stored=stored, skipped=skipped, seconds=round(time.perf_counter() - t0, 3))
    _write_json(index_path, index)
    return out


def _resumable(out: Path, size: int, rel: list[str], overwrite: bool) -> bool | str:
    """Whether ``out`` holds this very cache, half made (``True``), or whole (``"complete"``); a
    different cache is refused unless ``overwrite``, and files that are no cache are never replaced."""
    index_path, images_path, state_path, bad_path = (out / n for n in (INDEX_NAME, IMAGES_NAME, STATE_NAME, BAD_NAME))
    strays = [p for p in (images_path, state_path, bad_path) if p.exists()]
    if strays and not index_path.is_file():  # files of these names, but no cache: not colorlab's to replace
        # the one rule (files.replace_problem), asked as if --overwrite were given: these are never colorlab's
        raise FileExistsError(
            replace_problem(strays[0], overwrite=True, ours=lambda _: False, what="part of a colorlab cache")
        )
    if not index_path.is_file():
        return False
    try:
        old = read_index(out)
        resume = old.get("size") == size and old.get("files") == rel and images_path.is_file() and state_path.is_file()
    except ValueError:
        old, resume = {}, False
    if resume and old.get("complete"):
        return "complete"
    if not resume and not overwrite:
        held = f"{old.get('size')}px images of {len(old.get('files', []))} file(s)" if old else "a damaged cache"
        raise FileExistsError(
            f"{out}: holds another cache ({held}); pass --overwrite to rebuild it, or choose another --out"
        )
    if not resume:
        print(f"colorlab prepare: rebuilding the cache in {out} (--overwrite)", file=sys.stderr)
    return resume


def _store_pending(
    out: Path, files: list, rel: list[str], state: np.ndarray, size: int, workers, skip_grayscale, progress, chunksize
) -> None:
    """Decode and store every slot not yet stored (those of an interrupted run are redone), in
    ``workers`` processes; each bad file is skipped with a warning and listed in the cache."""
    from tqdm.auto import tqdm

    images_path, bad_path = out / IMAGES_NAME, out / BAD_NAME
    todo = [(i, str(files[i])) for i in np.flatnonzero(state == _PENDING).tolist()]
    workers = max(1, int(workers if workers is not None else (os.cpu_count() or 1)))
    workers = min(workers, max(1, len(todo)))
    bar = tqdm(
        total=len(files),
        initial=len(files) - len(todo),
        desc=f"prepare {size}px",
        unit="img",
        disable=not progress,
        dynamic_ncols=True,
    )
    last_flush = time.perf_counter()

    def record(bad_file: Any, slot: int, reason: str | None) -> None:
        nonlocal last_flush
        if reason is None:
            state[slot] = _OK
        else:
            state[slot] = _BAD
            bad_file.write(json.dumps({"slot": slot, "file": rel[slot], "reason": reason}) + "\n")
            bad_file.flush()
            tqdm.write(f"colorlab prepare: warning: skipping {files[slot]}: {reason}", file=sys.stderr)
        bar.update(1)
        if time.perf_counter() - last_flush > 5:
            if "images" in _W:
                _W["images"].flush()
            state.flush()
            last_flush = time.perf_counter()

    try:
        with open(bad_path, "a") as bad_file:
            if workers == 1:
                _worker_init(str(images_path), size, skip_grayscale)
                try:
                    for job in todo:
                        record(bad_file, *_process(job))
                finally:
                    _W["images"].flush()
                    _W.clear()
            else:
                import multiprocessing as mp

                ctx = mp.get_context("spawn")  # torch is imported: fork is not safe
                with _workers_ignore_ctrl_c():
                    pool = ctx.Pool(
                        workers, initializer=_worker_init, initargs=(str(images_path), size, skip_grayscale)
                    )
                with pool:
                    for slot, reason in pool.imap_unordered(_process, todo, chunksize=max(1, chunksize)):
                        record(bad_file, slot, reason)
    finally:
        bar.close()


# --- reading ------------------------------------------------------------------------


class CachedDataset(torch.utils.data.Dataset):
    """The images of a cache made by :func:`prepare`: ``(3, S, S)`` uint8 RGB each.

    ``indices`` (positions among the stored images) selects a subset, e.g. a split from
    :func:`colorlab.splits.split_items`. The crop options are :class:`colorlab.data.ColorDataset`'s
    and mean the same (one sampler, :func:`colorlab.crops.sample_crop`); ``size`` is the crop the
    network sees (default: the cache's size). ``ds[i]`` is the stored image; :meth:`batches`,
    which training uses, reads whole batches from the memory map in a background thread and
    crops and flips them on the device.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        indices: Sequence[int] | None = None,
        *,
        size: int | None = None,
        augment: bool = True,
        scale: tuple[float, float] = (0.25, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        seed: int = 0,
        colorful_crops: int = 1,
    ) -> None:
        self.path = Path(path)
        self.index = read_index(self.path)
        if not self.index.get("complete"):
            raise ValueError(f"{self.path}: the cache is incomplete; run `colorlab prepare` again to finish it")
        self._check_files()
        stored = np.flatnonzero(np.load(self.path / STATE_NAME) == _OK)
        if indices is not None:
            stored = stored[np.asarray(list(indices), dtype=np.int64)]
        if len(stored) == 0:
            raise ValueError(f"{self.path}: the cache holds no usable images (all were skipped; see {INDEX_NAME})")
        self.slots = stored
        self.cache_size = int(self.index["size"])
        self.size = int(size or self.cache_size)
        if self.size < 8 or self.size % 8:
            raise ValueError(f"size must be a positive multiple of 8, got {self.size}")
        self.augment = augment
        self.crops = CropSpec(scale, ratio, colorful_crops, seed)
        self.skipped: dict[str, str] = dict(self.index.get("skipped", {}))  # files prepare left out, and why
        self._images: np.ndarray | None = None

    def _check_files(self) -> None:
        n, s = len(self.index["files"]), int(self.index["size"])
        for name, shape in ((IMAGES_NAME, (n, s, s, 3)), (STATE_NAME, (n,))):
            try:
                found = np.load(self.path / name, mmap_mode="r").shape
            except (OSError, ValueError) as exc:
                raise ValueError(
                    f"{self.path / name}: unreadable ({exc}); run `colorlab prepare` again to rebuild the cache"
                ) from None
            if found != shape:
                raise ValueError(
                    f"{self.path / name}: holds {found}, the index says {shape}; run `colorlab prepare` again"
                )

    @property
    def images(self) -> np.ndarray:
        """The memory-mapped ``(N, S, S, 3)`` uint8 array (opened lazily, once per process)."""
        if self._images is None:
            self._images = np.load(self.path / IMAGES_NAME, mmap_mode="r")
        return self._images

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_images": None}  # each worker process maps the file itself

    def subset(self, indices: Sequence[int], **overrides: Any) -> CachedDataset:
        """A view of some of these images (``indices`` into this dataset), e.g. for a validation split."""
        new = object.__new__(CachedDataset)
        new.__dict__.update(self.__getstate__())
        new.slots = self.slots[np.asarray(list(indices), dtype=np.int64)]
        for k, v in overrides.items():
            if k not in ("size", "augment"):
                raise TypeError(f"unknown option {k!r}")
            setattr(new, k, v)
        return new

    def __len__(self) -> int:
        return len(self.slots)

    def name(self, index: int) -> str:
        return self.index["files"][int(self.slots[index])]

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.from_numpy(np.array(self.images[int(self.slots[index])])).permute(2, 0, 1)

    def read_batch(self, indices: Sequence[int], out: torch.Tensor | None = None) -> torch.Tensor:
        """Images ``indices`` as one ``(B, 3, S, S)`` uint8 tensor (a channels-last view of ``(B, S, S, 3)``).

        ``out`` may be a preallocated (e.g. pinned) ``(B, S, S, 3)`` uint8 tensor to read into.
        """
        slots = self.slots[np.asarray(indices, dtype=np.int64)]
        order = np.argsort(slots, kind="stable")  # read the file front to back
        s = self.cache_size
        out = torch.empty((len(slots), s, s, 3), dtype=torch.uint8) if out is None else out
        if np.all(order[1:] > order[:-1]):  # already in file order: read straight into ``out``
            np.take(self.images, slots, axis=0, out=out.numpy(), mode="clip")
        else:
            out.numpy()[order] = np.take(self.images, slots[order], axis=0)
        return out.permute(0, 3, 1, 2)

    def crop_params(self, indices: Sequence[int], epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The crop boxes ``(B, 4)`` and flips ``(B,)`` of ``indices`` in ``epoch`` (see :mod:`colorlab.crops`)."""
        boxes, flips = [], []
        for i in indices:
            thumb = thumbnail(self.images[int(self.slots[i])]) if self.crops.colorful > 1 else None
            box, flip = sample_crop(self.crops, epoch, int(i), self.cache_size, self.cache_size, thumb)
            boxes.append(box)
            flips.append(flip)
        return torch.tensor(boxes, dtype=torch.float32), torch.tensor(flips)

    def batches(
        self, chunks: Sequence[Sequence[int]], epoch: int, device: torch.device, workers: int = 0, prefetch: int = 2
    ):
        """uint8 RGB batches ``(b, 3, size, size)`` on ``device``, one per chunk of indices (a batch source).

        A background thread reads each chunk from the memory map (into pinned memory on CUDA)
        and draws its crops; the crop, flip and resize happen on ``device``. ``workers`` is
        accepted for symmetry with :meth:`ColorDataset.batches` and not needed.
        """
        device = torch.device(device)
        pin = device.type == "cuda"

        def load(chunk: Sequence[int]):
            out = torch.empty((len(chunk), self.cache_size, self.cache_size, 3), dtype=torch.uint8, pin_memory=pin)
            return self.read_batch(chunk, out=out), self.crop_params(chunk, epoch) if self.augment else None

        for images, params in prefetched(map(load, chunks), prefetch):
            images = images.to(device, non_blocking=True)
            yield resize_batch(images, self.size) if params is None else crop_batch(images, *params, self.size)


def prefetched(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """Iterate ``items`` in a background thread, ``depth`` ahead (errors are raised in the caller)."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop, done = threading.Event(), object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # hand errors to the consumer
            q.put(exc)

    thread = threading.Thread(target=produce, daemon=True, name="colorlab-prefetch")
    thread.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
