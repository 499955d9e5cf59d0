"""Training: the loop, mixed precision, checkpoints that survive, resume, history.

The objective is the paper's: ``C = 1/(2HW) sum_{k in a,b} sum_ij (X_k - X~_k)^2``
on scaled ab, i.e. the mean squared error over both channels and all pixels,
minimized with Adam.

Batches arrive as uint8 RGB ``(B, 3, S, S)``; the trainer moves them to its
device and converts them to Lab there, in one batched call.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from . import distributed as _dist
from .cache import CachedDataset, augment_batch
from .color import lab_to_rgb, network_to_lab, rgb_to_network
from .data import SkippedFiles, collate_skip_bad
from .model import ColorizationNet, ModelConfig

__all__ = [
    "TrainConfig",
    "Trainer",
    "NonFiniteLossError",
    "CheckpointError",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "colorization_loss",
    "save_checkpoint",
    "load_checkpoint",
    "export_checkpoint",
    "default_device",
]

CHECKPOINT_FORMAT = "colorlab-checkpoint"
CHECKPOINT_VERSION = 1


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, unsafe, or made for another model."""


def default_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


#: The objectives :func:`colorization_loss` knows; "mse" is the paper's.
LOSSES = ("mse", "l1", "huber")


def colorization_loss(ab_pred: torch.Tensor, ab_true: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """The paper's objective (``kind="mse"``): mean squared error over a, b and all pixels.

    ``"l1"`` (mean absolute error) and ``"huber"`` (smooth L1 with delta 0.1 on
    the [-1, 1] ab scale) are alternatives that wash colours out less.
    """
    pred, true = ab_pred.float(), ab_true.float()
    if kind == "mse":
        return F.mse_loss(pred, true)
    if kind == "l1":
        return F.l1_loss(pred, true)
    if kind == "huber":
        return F.huber_loss(pred, true, delta=0.1)
    raise ValueError(f"unknown loss {kind!r}; choose one of {LOSSES}")


@dataclass
class TrainConfig:
    """How to train. Every field has a sensible default for a small CPU run."""

    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0
    loss: str = "mse"  # the paper's; see colorization_loss
    lr_schedule: str = "constant"  # or "cosine" (to 1% of lr over all steps)
    warmup_steps: int = 0
    seed: int = 0
    num_workers: int = 0
    device: str | None = None
    amp: bool | None = None  # bf16 autocast; None -> on for CUDA
    channels_last: bool | None = None  # None -> on for CUDA
    compile: bool | None = None  # torch.compile; None -> on for CUDA
    grad_clip: float | None = 1.0
    save_every: int = 0  # steps between checkpoints (0: end of each epoch only)
    max_steps: int | None = None
    progress: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _current_umask() -> int:
    # os.umask can only be read by setting it; /proc tells without touching it (Linux)
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_torch_save(obj: Any, path: Path) -> None:
    """Write ``obj`` next to ``path`` and rename over it: the old file stays until the new one is whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600; a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def save_checkpoint(
    path: str | os.PathLike[str],
    model: ColorizationNet,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    epoch: int = 0,
    step: int = 0,
    batch_in_epoch: int = 0,
    history: list[dict[str, Any]] | None = None,
    train_config: TrainConfig | None = None,
    half: bool = False,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically (temp file + rename). Only the trainable weights are stored.

    ``half=True`` stores the weights in float16 (for shipping a small model).
    """
    weights = model.trainable_state_dict()
    if half:
        weights = {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model_config": model.config.to_dict(),
        "model": {k: v.detach().cpu() for k, v in weights.items()},
        "epoch": int(epoch),
        "step": int(step),
        "batch_in_epoch": int(batch_in_epoch),
        "history": list(history or []),
        "torch_rng": torch.get_rng_state(),
    }
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    if train_config is not None:
        payload["train_config"] = train_config.to_dict()
    if extra:
        payload["extra"] = extra
    path = Path(path)
    _atomic_torch_save(payload, path)
    return path


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a colorlab checkpoint safely (``weights_only=True``) and check its format.

    Raises :class:`CheckpointError` naming the file and what is wrong: not a
    checkpoint, unsafe content (pickled code), another format or version.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        text = str(exc)
        if "Weights only load failed" in text or "Unsupported global" in text or "weights_only" in text:
            raise CheckpointError(
                f"{path}: refused: the file contains pickled Python objects that could run code "
                "(colorlab loads checkpoints with weights_only=True). Only load checkpoints you trust "
                "and re-save them with colorlab.train.save_checkpoint."
            ) from None
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {text.splitlines()[0] if text else ''})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(
            f"{path}: not a colorlab checkpoint (expected format {CHECKPOINT_FORMAT!r}, found {found!r})"
        )
    if ckpt.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {ckpt.get('version')!r}, this colorlab reads version "
            f"{CHECKPOINT_VERSION}; upgrade colorlab or re-train"
        )
    for key in ("model_config", "model"):
        if key not in ckpt:
            raise CheckpointError(f"{path}: checkpoint has no {key!r} entry")
    return ckpt


def export_checkpoint(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    half: bool = True,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write a small shipping copy of a training checkpoint: trainable weights (float16 by
    default), model config, step and history; no optimizer state."""
    from .model import ColorizationNet, ModelConfig

    ckpt = load_checkpoint(src)
    config = ModelConfig.from_dict(ckpt["model_config"])
    config.pretrained = False  # the extractor's weights are not stored; no need to load them here
    model = ColorizationNet(config)
    _check_architecture(src, model, ckpt)
    model.load_trainable_state_dict(ckpt["model"])
    model.config.pretrained = True
    meta = dict(ckpt.get("extra") or {})
    meta.update(extra or {})
    return save_checkpoint(
        dst, model, None, epoch=ckpt.get("epoch", 0), step=ckpt.get("step", 0),
        history=ckpt.get("history"), half=half, extra=meta,
    )


def _check_architecture(path: Any, model: ColorizationNet, ckpt: dict[str, Any]) -> None:
    found = ModelConfig.from_dict(ckpt["model_config"])
    exp = model.config
    if found.backbone != exp.backbone:
        raise CheckpointError(f"{path}: made for backbone {found.backbone!r}, the model has {exp.backbone!r}")
    if tuple(found.encoder_channels) != tuple(exp.encoder_channels) or found.fusion_channels != exp.fusion_channels:
        raise CheckpointError(
            f"{path}: architecture differs (expected encoder {list(exp.encoder_channels)}, fusion "
            f"{exp.fusion_channels}; found encoder {list(found.encoder_channels)}, fusion {found.fusion_channels})"
        )
    own = model.trainable_state_dict()
    theirs = ckpt["model"]
    missing = sorted(set(own) - set(theirs))
    extra = sorted(set(theirs) - set(own))
    wrong = [k for k in own if k in theirs and tuple(theirs[k].shape) != tuple(own[k].shape)]
    if missing or extra or wrong:
        detail = []
        if missing:
            detail.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if extra:
            detail.append(f"{len(extra)} unexpected (e.g. {extra[0]})")
        if wrong:
            k = wrong[0]
            detail.append(f"{len(wrong)} of another shape (e.g. {k}: expected {tuple(own[k].shape)}, found {tuple(theirs[k].shape)})")
        raise CheckpointError(f"{path}: weights do not fit this architecture: " + "; ".join(detail))


class Trainer:
    """Trains a :class:`ColorizationNet` on a dataset of uint8 RGB crops.

    >>> trainer = Trainer(model, train_set, val_set, TrainConfig(epochs=2), checkpoint="run.pt")
    >>> history = trainer.fit()

    * CUDA when present, else CPU. On CUDA the fast path is on by default:
      bf16 autocast, channels_last, fused Adam, ``torch.compile`` (off with
      ``TrainConfig(compile=False)``; the first step's time is reported once as
      ``compile_time_s``), pinned memory, non-blocking copies, Lab conversion on
      the device, and no per-step wait for the loss.
    * A :class:`~colorlab.cache.CachedDataset` is read in whole batches from its
      memory map by a background thread and cropped/flipped on the device.
    * Under ``torchrun`` (an initialized process group, see
      :mod:`colorlab.distributed`): DistributedDataParallel, each rank takes
      every ``world_size``-th item of the same epoch order, rank 0 alone writes
      checkpoints and shows progress; ``batch_size`` is per process.
    * ``tqdm.auto`` progress with loss and images/s; a validation pass per
      epoch (loss and PSNR); ``history`` is a list of dicts, one per epoch.
    * Checkpoints (model config, weights, optimizer, epoch, step, RNG) are
      written atomically; ``resume=True`` continues from the saved step with
      the same data order.
    * A NaN/inf loss stops with :class:`NonFiniteLossError` naming the step;
      Ctrl-C saves a checkpoint and returns the history so far.
    """

    def __init__(
        self,
        model: ColorizationNet,
        train_data: Dataset,
        val_data: Dataset | None = None,
        config: TrainConfig | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        resume: bool = False,
        on_epoch_end: Callable[["Trainer", dict[str, Any]], None] | None = None,
    ) -> None:
        self.config = cfg = config or TrainConfig()
        self.device = torch.device(cfg.device) if cfg.device else default_device()
        cuda = self.device.type == "cuda"
        self.amp = cfg.amp if cfg.amp is not None else cuda
        self.channels_last = cfg.channels_last if cfg.channels_last is not None else cuda
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)
        self.model = model.to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        params = [p for p in self.model.parameters() if p.requires_grad]
        fused = cuda
        self.optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused or None)
        # Distributed (torchrun): one replica per process, gradients averaged by DDP.
        self.rank, self.world_size = _dist.rank(), _dist.world_size()
        self.is_main = self.rank == 0
        self.ddp: torch.nn.Module | None = None
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            self.ddp = DistributedDataParallel(
                self.model,
                device_ids=[self.device.index if self.device.index is not None else torch.cuda.current_device()] if cuda else None,
                broadcast_buffers=False,  # the only buffers are the frozen extractor's, equal everywhere
            )
        self.compile = cfg.compile if cfg.compile is not None else cuda
        self.compile_time_s: float | None = None  # time of the first (compiling) step, once measured
        train_module = self.ddp if self.ddp is not None else self.model
        self.forward = torch.compile(train_module) if self.compile else train_module
        self.train_data = train_data
        self.val_data = val_data
        self.checkpoint = Path(checkpoint) if checkpoint else None
        self.on_epoch_end = on_epoch_end
        self.history: list[dict[str, Any]] = []
        self.epoch = 0  # epochs completed
        self.step = 0  # optimizer steps completed
        self.batch_in_epoch = 0  # batches of the current epoch consumed (for mid-epoch resume)
        self.skipped = SkippedFiles()
        if resume:
            if self.checkpoint is None:
                raise ValueError("resume=True needs a checkpoint path")
            if self.checkpoint.exists():
                self._resume(self.checkpoint)

    # --- checkpoints ------------------------------------------------------------

    def save(self, path: str | os.PathLike[str] | None = None) -> Path | None:
        """Write a checkpoint of the current state (atomically)."""
        target = Path(path) if path else self.checkpoint
        if target is None or not self.is_main:  # one writer: rank 0
            return None
        return save_checkpoint(
            target,
            self.model,
            self.optimizer,
            epoch=self.epoch,
            step=self.step,
            batch_in_epoch=self.batch_in_epoch,
            history=self.history,
            train_config=self.config,
        )

    def _resume(self, path: Path) -> None:
        ckpt = load_checkpoint(path, map_location="cpu")
        _check_architecture(path, self.model, ckpt)
        self.model.load_trainable_state_dict(ckpt["model"])
        if "optimizer" in ckpt:
            self.optimizer.load_state_dict(ckpt["optimizer"])
        self.epoch = int(ckpt.get("epoch", 0))
        self.step = int(ckpt.get("step", 0))
        self.batch_in_epoch = int(ckpt.get("batch_in_epoch", 0))
        self.history = list(ckpt.get("history", []))
        if "torch_rng" in ckpt:
            torch.set_rng_state(ckpt["torch_rng"])

    # --- the loop ---------------------------------------------------------------

    def steps_per_epoch(self) -> int:
        return max(1, len(self.train_data) // (self.config.batch_size * self.world_size))

    def _epoch_indices(self, dataset: Dataset, epoch: int, shuffle: bool, skip_batches: int = 0) -> list[int]:
        """This process's indices for one pass: the epoch order, trimmed to whole global batches, sharded by rank."""
        bs, world = self.config.batch_size, self.world_size
        if shuffle:
            order = self.epoch_order(epoch)
            if len(order) >= bs * world:  # drop the ragged last (global) batch
                order = order[: len(order) // (bs * world) * (bs * world)]
            order = order[self.rank :: world]  # like DistributedSampler: rank r takes every world-th
            return order[skip_batches * bs :]
        return list(range(len(dataset)))[self.rank :: world]

    def epoch_order(self, epoch: int) -> list[int]:
        """The order in which epoch ``epoch`` visits the training set: a pure function of (seed, epoch)."""
        generator = torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)
        return torch.randperm(len(self.train_data), generator=generator).tolist()

    def _loader(self, dataset: Dataset, epoch: int, shuffle: bool, skip_batches: int = 0) -> DataLoader:
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        bs = self.config.batch_size
        order = self._epoch_indices(dataset, epoch, shuffle, skip_batches)
        return DataLoader(
            dataset,
            batch_size=bs,
            sampler=order,
            num_workers=self.config.num_workers,
            collate_fn=collate_skip_bad,
            pin_memory=self.device.type == "cuda",
        )

    def _lr_at(self, step: int, total: int) -> float:
        cfg = self.config
        lr = cfg.lr
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return lr * (step + 1) / cfg.warmup_steps
        if cfg.lr_schedule == "cosine" and total > 0:
            t = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
            return lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))
        return lr

    def _to_device(
        self, images: torch.Tensor, dataset: Dataset | None = None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        images = images.to(self.device, non_blocking=True)
        if isinstance(dataset, CachedDataset):
            # Crop/flip/resize the whole uint8 batch on the device.
            rgb = augment_batch(
                images,
                dataset.size,
                augment=dataset.augment and generator is not None,
                generator=generator,
                scale=dataset.scale,
                ratio=dataset.ratio,
            )
        else:
            rgb = images.float().div_(255.0)
        l_net, ab = rgb_to_network(rgb)
        if self.channels_last:
            l_net = l_net.contiguous(memory_format=torch.channels_last)
        return l_net, ab

    def _augment_generator(self, epoch: int, batch: int) -> torch.Generator:
        """The random crops of one batch: a pure function of (seed, epoch, batch, rank), so resume repeats them."""
        seed = int(np.random.SeedSequence([self.config.seed, epoch, batch, self.rank]).generate_state(1)[0])
        return torch.Generator().manual_seed(seed)

    def _cached_batches(self, dataset: CachedDataset, order: list[int], prefetch: int = 2):
        """uint8 batches read from the memory-mapped cache by a background thread, in pinned memory on CUDA."""
        import queue
        import threading

        bs = self.config.batch_size
        pin = self.device.type == "cuda"
        chunks = [order[i : i + bs] for i in range(0, len(order), bs)]
        q: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
        stop = threading.Event()

        def reader() -> None:
            try:
                for chunk in chunks:
                    s = dataset.cache_size
                    out = torch.empty((len(chunk), s, s, 3), dtype=torch.uint8, pin_memory=pin)
                    item = dataset.read_batch(chunk, out=out)
                    while not stop.is_set():
                        try:
                            q.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
            except BaseException as exc:  # hand errors to the consumer
                q.put(exc)
                return
            q.put(None)

        thread = threading.Thread(target=reader, daemon=True, name="colorlab-cache-reader")
        thread.start()
        try:
            while True:
                item = q.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join(timeout=5)

    def iter_batches(self, epoch: int, skip_batches: int = 0, dataset: Dataset | None = None):
        """Yield ``(l_net, ab)`` on the device for epoch ``epoch`` of ``dataset`` (default: the training set).

        This process's share of the deterministic epoch order; the first
        ``skip_batches`` batches are skipped (resume). Folder datasets go
        through a ``DataLoader``; a :class:`~colorlab.cache.CachedDataset` is
        read in whole batches and augmented on the device. Yields ``(None,
        None)`` for a batch whose every file was unusable.
        """
        dataset = dataset if dataset is not None else self.train_data
        if isinstance(dataset, CachedDataset):
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(epoch)
            order = self._epoch_indices(dataset, epoch, True, skip_batches)
            for k, images in enumerate(self._cached_batches(dataset, order)):
                yield self._to_device(images, dataset, self._augment_generator(epoch, skip_batches + k))
            return
        for images, bad in self._loader(dataset, epoch, shuffle=True, skip_batches=skip_batches):
            self._report_bad(dataset, bad)
            if images is None:
                yield None, None
                continue
            yield self._to_device(images)

    def _report_bad(self, dataset: Dataset, bad: list[tuple[int, str]]) -> None:
        for index, reason in bad:
            name = dataset.name(index) if hasattr(dataset, "name") else f"item {index}"
            self.skipped.report(name, reason)

    def train_step(self, images: torch.Tensor) -> float:
        """One optimizer step on a uint8 batch; returns the loss."""
        l_net, ab = self._to_device(images)
        loss = self.step_on(l_net, ab, check=True)
        return float(loss)

    def _raise_non_finite(self, value: float, step: int) -> None:
        raise NonFiniteLossError(
            f"loss became {value} at step {step}; stopping. "
            f"The last good checkpoint ({self.checkpoint or 'none saved'}) is kept; try a lower learning rate"
        )

    def step_on(self, l_net: torch.Tensor, ab: torch.Tensor, check: bool = True) -> torch.Tensor:
        """One optimizer step on network-ready tensors on the device; returns the loss tensor.

        ``check=True`` stops on a NaN/inf loss before the update (this waits
        for the device). ``check=False`` never waits: :meth:`fit` uses it on
        CUDA and checks the returned losses a step later, before anything is saved.
        """
        self.model.train()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            pred = self.forward(l_net)
        loss = colorization_loss(pred, ab, self.config.loss)
        if check and not torch.isfinite(loss):
            self._raise_non_finite(loss.item(), self.step + 1)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip, foreach=True)
        self.optimizer.step()
        self.step += 1
        return loss.detach()

    @torch.no_grad()
    def validate(self, dataset: Dataset | None = None) -> dict[str, float]:
        """Mean loss and PSNR (RGB, 0-255) over ``dataset`` (default: the validation set)."""
        dataset = dataset if dataset is not None else self.val_data
        if dataset is None:
            return {}
        self.model.eval()
        losses, psnrs = [], []
        # Under torchrun each rank evaluates its share; the sums are added up below.
        for images, bad in self._loader(dataset, 0, shuffle=False):
            self._report_bad(dataset, bad)
            if images is None:
                continue
            images = images.to(self.device, non_blocking=True)
            if isinstance(dataset, CachedDataset):
                truth = augment_batch(images, dataset.size, augment=False).mul_(255.0)
            else:
                truth = images.float()
            l_net, ab = rgb_to_network(truth / 255.0)
            if self.channels_last:
                l_net = l_net.contiguous(memory_format=torch.channels_last)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                pred = self.model(l_net)  # eager: no recompilation for eval mode or a ragged last batch
            pred = pred.float()
            losses.append(float(colorization_loss(pred, ab, self.config.loss)) * len(images))
            rgb = lab_to_rgb(network_to_lab(l_net.float(), pred))
            mse = ((rgb * 255.0).round() - truth).pow(2).flatten(1).mean(1).clamp(min=1e-10)
            psnrs.extend((10 * torch.log10(255.0**2 / mse)).tolist())
        if self.world_size > 1:
            import torch.distributed as dist

            sums = torch.tensor([sum(losses), float(sum(psnrs)), float(len(psnrs))], dtype=torch.float64, device=self.device)
            dist.all_reduce(sums)
            if sums[2] == 0:
                return {}
            return {"val_loss": float(sums[0] / sums[2]), "val_psnr": float(sums[1] / sums[2])}
        if not psnrs:
            return {}
        return {"val_loss": sum(losses) / len(psnrs), "val_psnr": float(np.mean(psnrs))}

    def fit(self, epochs: int | None = None) -> list[dict[str, Any]]:
        """Train until ``epochs`` epochs (default: the config's) are complete; return the history.

        Counting is absolute: after resuming from epoch 3 of 10, seven more run.
        """
        from tqdm.auto import tqdm

        cfg = self.config
        total_epochs = epochs if epochs is not None else cfg.epochs
        steps_per_epoch = self.steps_per_epoch()
        total_steps = cfg.max_steps or total_epochs * steps_per_epoch
        # On CUDA the loss is not read back every step (that would stall the GPU): it is
        # copied out asynchronously and checked one step later, always before a save.
        defer = self.device.type == "cuda"
        pending: list[tuple[int, torch.Tensor, Any]] = []

        def resolve(entry: tuple[int, torch.Tensor, Any]) -> None:
            step, host, event = entry
            event.synchronize()
            value = float(host)
            if not math.isfinite(value):
                pending.clear()
                self._raise_non_finite(value, step)
            losses.append(value)

        losses: list[float] = []
        try:
            while self.epoch < total_epochs and (cfg.max_steps is None or self.step < cfg.max_steps):
                epoch = self.epoch
                done_in_epoch = self.batch_in_epoch  # > 0 after a mid-epoch resume
                losses.clear()
                seen, t0 = 0, time.perf_counter()
                bar = tqdm(
                    total=steps_per_epoch,
                    initial=max(0, done_in_epoch),
                    desc=f"epoch {epoch + 1}/{total_epochs}",
                    disable=not (cfg.progress and self.is_main),  # one progress bar: rank 0's
                    leave=True,
                    dynamic_ncols=True,
                )
                stopped_early = False
                # Same order as before an interruption; the batches already done are skipped.
                for l_net, ab in self.iter_batches(epoch, skip_batches=max(0, done_in_epoch)):
                    if l_net is None:
                        self.batch_in_epoch += 1
                        bar.update(1)
                        continue
                    for group in self.optimizer.param_groups:
                        group["lr"] = self._lr_at(self.step, total_steps)
                    first_compiled = self.compile and self.compile_time_s is None
                    t_step = time.perf_counter()
                    loss = self.step_on(l_net, ab, check=not defer)
                    # Counted only once trained: a Ctrl-C inside the step must not skip this batch on resume.
                    self.batch_in_epoch += 1
                    if first_compiled:
                        float(loss)  # wait for the compiled step to finish
                        self.compile_time_s = time.perf_counter() - t_step
                        if cfg.progress and self.is_main:
                            tqdm.write(f"torch.compile: first step took {self.compile_time_s:.1f} s (compilation; reported once)")
                    if defer:
                        # Copy the loss out without waiting; check it once the next step is queued.
                        host = torch.empty((), dtype=torch.float32, pin_memory=True)
                        host.copy_(loss, non_blocking=True)
                        event = torch.cuda.Event()
                        event.record()
                        pending.append((self.step, host, event))
                        while len(pending) > 1:
                            resolve(pending.pop(0))
                    else:
                        losses.append(float(loss))
                    seen += len(l_net)
                    rate = seen / max(1e-9, time.perf_counter() - t0)
                    if losses:
                        bar.set_postfix(loss=f"{losses[-1]:.4f}", img_s=f"{rate * self.world_size:.1f}")
                    bar.update(1)
                    if cfg.save_every and self.step % cfg.save_every == 0:
                        while pending:
                            resolve(pending.pop(0))
                        self.save()
                    if cfg.max_steps is not None and self.step >= cfg.max_steps:
                        stopped_early = True
                        break
                while pending:
                    resolve(pending.pop(0))
                bar.close()
                finished_epoch = not stopped_early or self.batch_in_epoch >= steps_per_epoch
                train_loss = float(np.mean(losses)) if losses else float("nan")
                if self.world_size > 1:  # the mean over all replicas
                    import torch.distributed as dist

                    t = torch.tensor([train_loss], dtype=torch.float64, device=self.device)
                    dist.all_reduce(t)
                    train_loss = float(t) / self.world_size
                record: dict[str, Any] = {
                    "epoch": epoch + 1,
                    "step": self.step,
                    "train_loss": train_loss,
                    "images_per_s": seen * self.world_size / max(1e-9, time.perf_counter() - t0),
                    "lr": self.optimizer.param_groups[0]["lr"],
                }
                record.update(self.validate())
                if finished_epoch:
                    self.epoch = epoch + 1
                    self.batch_in_epoch = 0
                self.history.append(record)
                self.save()
                if self.on_epoch_end is not None:
                    self.on_epoch_end(self, record)
                if self.is_main:  # one summary line per epoch, with or without progress bars
                    msg = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items())
                    tqdm.write(msg) if cfg.progress else print(msg, flush=True)
        except KeyboardInterrupt:
            while pending:
                resolve(pending.pop(0))
            saved = self.save()
            print(
                f"Interrupted at step {self.step}."
                + (f" Checkpoint saved to {saved}; continue with resume=True." if saved else "")
            )
            return self.history
        if self.world_size > 1:
            _dist.barrier()  # rank 0's last checkpoint is written before anyone returns
        return self.history
