"""The production trainer: the core loop of :mod:`colorlab.train`, with what long runs need.

:class:`Trainer` runs :func:`colorlab.train.train_step` and :func:`colorlab.train.validate`
over a :class:`BatchSource`: photo folders (:class:`colorlab.data.ColorDataset`) and the uint8
cache (:class:`colorlab.cache.CachedDataset`), with the same crop options. Each yields uint8 RGB
batches on the device, and :func:`colorlab.train.to_network` -- the one function that turns
photos into network tensors, also in the lessons' hand-written loop -- makes ``(l_net, ab)`` of
them. Around the steps it adds:

* bf16 autocast and channels_last where the hardware runs them natively
  (:func:`colorlab.device.choose_precision`), fused Adam and ``torch.compile`` on CUDA;
* DistributedDataParallel under ``torchrun``: each rank takes every ``world_size``-th item of
  the same epoch order; rank 0 alone writes checkpoints and shows progress;
* a non-finite loss check that never stalls a GPU (read back one step late, always before a save);
* atomic checkpoints, resume in the middle of an epoch with the same data, a save on Ctrl-C or
  SIGTERM, one writer per checkpoint file, a warmup/cosine learning-rate schedule, history.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence, Sized
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import colorbins
from ..checkpoint import CheckpointError, load_checkpoint, load_weights, save_checkpoint
from ..device import PRECISIONS, choose_precision, resolve_device
from ..files import check_writable, exclusive_lock, replace_problem, sigterm_as_interrupt
from ..model import ColorizationNet
from ..train import LOSSES, to_network, train_step, validate
from . import distributed as dist

__all__ = ["BatchSource", "TrainConfig", "Trainer", "NonFiniteLossError", "NoUsablePhotosError", "TrainingInterrupted"]


#: Learning-rate factor of pretrained trunk weights that train (``ModelConfig.trainable_stages``).
TRUNK_LR_SCALE = 0.1


class BatchSource(Protocol):
    """What :class:`Trainer` trains and validates on (folders and caches both are).

    ``batches`` yields one uint8 RGB batch ``(b, 3, size, size)`` on ``device`` per chunk of
    indices, in order; a batch may be smaller than its chunk (or empty) where files were
    unusable, and those files are then listed in ``skipped``.
    """

    size: int
    skipped: Sized

    def __len__(self) -> int: ...

    def batches(
        self, chunks: Sequence[Sequence[int]], epoch: int, device: torch.device, workers: int = 0
    ) -> Iterator[torch.Tensor]: ...


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class NoUsablePhotosError(ValueError):
    """Every training photo was unusable (unreadable or grayscale): nothing can be learned."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training was stopped by SIGTERM (schedulers, ``kill``); handled like Ctrl-C."""


@dataclass
class TrainConfig:
    """How to train. Every field has a sensible default for a small CPU run."""

    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.0
    loss: str = "mse"  # the paper's; see colorlab.train.colorization_loss
    lr_schedule: str = "constant"  # or "cosine" (to 1% of lr over all steps)
    warmup_steps: int = 0
    seed: int = 0
    num_workers: int = 0
    device: str | None = None
    precision: str = "auto"  # "auto", "fp32" or "bf16": see colorlab.device.choose_precision
    compile: bool | None = None  # torch.compile; None -> on for CUDA
    grad_clip: float | None = 1.0
    save_every: int = 0  # steps between checkpoints (0: end of each epoch only)
    max_steps: int | None = None
    val_max_images: int | None = 500  # validate on at most this many images per epoch
    progress: bool = True

    def __post_init__(self) -> None:
        checks = [
            (self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}"),
            (self.batch_size >= 1, f"batch size must be at least 1, got {self.batch_size}"),
            (self.lr > 0 and math.isfinite(self.lr), f"learning rate must be a positive number, got {self.lr}"),
            (self.loss in LOSSES, f"unknown loss {self.loss!r}; choose one of {', '.join(LOSSES)}"),
            (
                self.lr_schedule in ("constant", "cosine"),
                f"unknown lr schedule {self.lr_schedule!r}; choose constant or cosine",
            ),
            (self.seed >= 0, f"seed must be 0 or more, got {self.seed}"),
            (self.num_workers >= 0, f"workers must be 0 or more, got {self.num_workers}"),
            (self.max_steps is None or self.max_steps >= 1, f"max steps must be at least 1, got {self.max_steps}"),
            (self.save_every >= 0, f"save_every must be 0 or more, got {self.save_every}"),
            (
                self.precision in PRECISIONS,
                f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _LossLog:
    """The losses of an epoch. On CUDA each is copied out without waiting and checked a step later."""

    def __init__(self, defer: bool, on_bad: Callable[[float, int], None]) -> None:
        self.defer, self.on_bad = defer, on_bad
        self.values: list[float] = []
        self.pending: list[tuple[int, torch.Tensor, Any]] = []

    def add(self, step: int, loss: torch.Tensor) -> None:
        if not self.defer:
            return self._check(step, float(loss))
        host = torch.empty((), dtype=torch.float32, pin_memory=True)
        host.copy_(loss, non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        self.pending.append((step, host, event))
        while len(self.pending) > 1:
            self._resolve(self.pending.pop(0))

    def flush(self) -> None:
        """Check every loss still in flight (call before saving)."""
        while self.pending:
            self._resolve(self.pending.pop(0))

    def _resolve(self, entry: tuple[int, torch.Tensor, Any]) -> None:
        step, host, event = entry
        event.synchronize()
        self._check(step, float(host))

    def _check(self, step: int, value: float) -> None:
        if not math.isfinite(value):
            self.pending.clear()
            self.on_bad(value, step)
        self.values.append(value)


class Trainer:
    """Trains a :class:`~colorlab.model.ColorizationNet` on a batch source (a folder dataset or a cache).

    >>> trainer = Trainer(model, train_set, val_set, TrainConfig(epochs=2), checkpoint="run.pt")
    >>> history = trainer.fit()

    ``checkpoint`` is written after every epoch (and every ``save_every`` steps). An existing
    file there is continued with ``resume=True`` or replaced with ``overwrite=True``; otherwise
    the trainer refuses to start rather than lose it. ``history`` is a list of dicts, one per epoch.
    """

    def __init__(
        self,
        model: ColorizationNet,
        train_data: BatchSource,
        val_data: BatchSource | None = None,
        config: TrainConfig | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        resume: bool = False,
        on_epoch_end: Callable[[Trainer, dict[str, Any]], None] | None = None,
        overwrite: bool = False,
    ) -> None:
        self.config = cfg = config or TrainConfig()
        self.device = resolve_device(cfg.device)
        self.precision = choose_precision(self.device, cfg.precision, min_side=train_data.size)
        cuda = self.device.type == "cuda"
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        np.random.seed(cfg.seed)
        self.model = model.to(
            self.device, memory_format=torch.channels_last if self.precision.channels_last else torch.preserve_format
        )
        # A pretrained trunk that learns (TransferNet's trainable stages) does so at a tenth of the rate.
        groups: dict[float, list[torch.nn.Parameter]] = {}
        for name, p in self.model.named_parameters():
            if p.requires_grad:
                groups.setdefault(TRUNK_LR_SCALE if name.startswith("extractor.") else 1.0, []).append(p)
        self.optimizer = torch.optim.Adam(
            [{"params": ps, "lr_scale": scale} for scale, ps in sorted(groups.items(), reverse=True)],
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            fused=cuda or None,
        )
        self.rank, self.world_size = dist.rank(), dist.world_size()
        self.is_main = self.rank == 0
        self.forward = self._wrap(self.model, cuda)
        # The objective: the config's regression loss, or the classification head's own cross-entropy.
        self.criterion: Any = cfg.loss if model.config.head == "regression" else colorbins.criterion(self.model)
        self.train_data, self.val_data = train_data, val_data
        self.checkpoint = Path(checkpoint) if checkpoint else None
        self.on_epoch_end = on_epoch_end
        self.history: list[dict[str, Any]] = []
        self.epoch = self.step = self.batch_in_epoch = 0  # epochs and steps done; batches of this epoch done
        self.compile_time_s: float | None = None
        self.interrupted = False
        if self.checkpoint is not None:
            self._check_checkpoint_path(resume, overwrite)
            if resume and self.checkpoint.exists():
                self._resume(self.checkpoint)

    def _wrap(self, model: torch.nn.Module, cuda: bool) -> torch.nn.Module:
        """The module the training step calls: DDP around the model under torchrun, compiled on CUDA."""
        module: torch.nn.Module = model
        if self.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            index = (
                self.device.index if self.device.index is not None else (torch.cuda.current_device() if cuda else None)
            )
            # The only buffers are the frozen extractor's, equal everywhere: no need to broadcast them.
            module = DistributedDataParallel(model, device_ids=[index] if cuda else None, broadcast_buffers=False)
        self.compile = self.config.compile if self.config.compile is not None else cuda
        return torch.compile(module) if self.compile else module

    # --- checkpoints ------------------------------------------------------------

    def _check_checkpoint_path(self, resume: bool, overwrite: bool) -> None:
        problem = check_writable(self.checkpoint)
        if problem:
            raise ValueError(problem)
        if self.checkpoint.exists() and not resume and not overwrite:
            raise FileExistsError(
                f"{self.checkpoint}: already exists; continue it with resume=True (CLI: --resume), "
                "replace it with overwrite=True (--overwrite), or choose another file"
            )
        if overwrite and not resume:
            from ..checkpoint import is_colorlab_checkpoint

            problem = replace_problem(
                self.checkpoint, overwrite=True, ours=is_colorlab_checkpoint, what="a colorlab checkpoint"
            )
            if problem:
                raise ValueError(problem)

    def save(self, path: str | os.PathLike[str] | None = None) -> Path | None:
        """Write a checkpoint of the current state (atomically). Only rank 0 writes."""
        target = Path(path) if path else self.checkpoint
        if target is None or not self.is_main:
            return None
        bad = [
            k
            for k, v in self.model.trainable_state_dict().items()
            if v.is_floating_point() and not torch.isfinite(v).all()
        ]
        if bad:
            raise NonFiniteLossError(
                f"not saving {target}: the weights hold NaN/inf (e.g. {bad[0]}); the last good checkpoint is kept"
            )
        return save_checkpoint(
            target,
            self.model,
            self.optimizer,
            epoch=self.epoch,
            step=self.step,
            batch_in_epoch=self.batch_in_epoch,
            history=self.history,
            train_config=self.config.to_dict(),
            data={"size": self.train_data.size},
        )

    def _resume(self, path: Path) -> None:
        ckpt = load_checkpoint(path)
        load_weights(self.model, ckpt, path)
        saved = ckpt.get("train_config") or {}
        for key, now in (("batch_size", self.config.batch_size),):
            if key in saved and saved[key] != now:
                raise CheckpointError(
                    f"{path}: was trained with {key} {saved[key]}, this run asks for {now}; resume with the same value"
                )
        size, now = (ckpt.get("data") or {}).get("size"), self.train_data.size
        if size is not None and size != now:
            raise CheckpointError(
                f"{path}: was trained on {size}px crops, this run asks for {now}px; resume with the same --size"
            )
        if "optimizer" not in ckpt:
            raise CheckpointError(
                f"{path}: has no optimizer state (an exported copy?); resume from the training checkpoint"
            )
        try:
            self.optimizer.load_state_dict(ckpt["optimizer"])
        except (ValueError, KeyError, TypeError, IndexError, RuntimeError) as exc:
            raise CheckpointError(
                f"{path}: its optimizer state does not fit this model ({type(exc).__name__}: {exc}); "
                "resume with the settings it was trained with, or start a new run"
            ) from None
        self.epoch, self.step = int(ckpt.get("epoch", 0)), int(ckpt.get("step", 0))
        self.batch_in_epoch = int(ckpt.get("batch_in_epoch", 0))
        self.history = list(ckpt.get("history", []))
        if "torch_rng" in ckpt:
            try:
                torch.set_rng_state(ckpt["torch_rng"])
            except (RuntimeError, TypeError) as exc:
                raise CheckpointError(f"{path}: its random-number state is damaged ({exc})") from None

    # --- the data ---------------------------------------------------------------

    def steps_per_epoch(self) -> int:
        return max(1, len(self.train_data) // (self.config.batch_size * self.world_size))

    def epoch_order(self, epoch: int) -> list[int]:
        """The order in which epoch ``epoch`` visits the training set: a pure function of (seed, epoch)."""
        generator = torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)
        return torch.randperm(len(self.train_data), generator=generator).tolist()

    def shard(self, epoch: int) -> list[int]:
        """This process's indices of epoch ``epoch``: the order trimmed to whole global batches, every
        ``world_size``-th item from ``rank`` on (like ``DistributedSampler``)."""
        global_batch = self.config.batch_size * self.world_size
        order = self.epoch_order(epoch)
        if len(order) >= global_batch:  # drop the ragged last (global) batch
            order = order[: len(order) // global_batch * global_batch]
        return order[self.rank :: self.world_size]

    def _chunks(self, indices: list[int], skip: int = 0) -> list[list[int]]:
        bs = self.config.batch_size
        return [indices[i : i + bs] for i in range(skip * bs, len(indices), bs)]

    def _batches(
        self, data: BatchSource, chunks: list[list[int]], epoch: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``(l_net, ab)`` on the device for each chunk (an empty pair where every file was unusable)."""
        for rgb in data.batches(chunks, epoch, self.device, self.config.num_workers):
            l_net, ab = to_network(rgb, self.device)
            if self.precision.channels_last:
                l_net = l_net.contiguous(memory_format=torch.channels_last)
            yield l_net, ab

    def epoch_batches(self, epoch: int, skip: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """``(l_net, ab)`` on the device for this rank's share of epoch ``epoch``, after ``skip`` batches."""
        return self._batches(self.train_data, self._chunks(self.shard(epoch), skip), epoch)

    def lr_at(self, step: int, total: int) -> float:
        """The learning rate of step ``step`` of ``total``: linear warmup, then constant or cosine to 1%."""
        cfg = self.config
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        if cfg.lr_schedule == "cosine" and total > 0:
            t = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
            return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))
        return cfg.lr

    # --- validation and the loop --------------------------------------------------

    @torch.no_grad()
    def validate(self, dataset: BatchSource | None = None) -> dict[str, float]:
        """Mean loss, RMS ab error and PSNR over ``dataset`` (default: the validation set, at most
        ``val_max_images`` of it); under torchrun the mean over all ranks."""
        dataset = dataset if dataset is not None else self.val_data
        if dataset is None:
            return {}
        n = len(dataset) if self.config.val_max_images is None else min(len(dataset), self.config.val_max_images)
        stats = validate(
            self.model,
            self._batches(dataset, self._chunks(list(range(n))[self.rank :: self.world_size]), 0),
            loss=self.criterion,
            autocast=self.precision.autocast,
        )
        if self.world_size > 1:
            count = stats.get("val_images", 0)
            keys = ("val_loss", "val_rms_ab", "val_psnr")
            sums = torch.tensor(
                [stats.get(k, 0.0) * count for k in keys] + [count], dtype=torch.float64, device=self.device
            )
            torch.distributed.all_reduce(sums)
            stats = (
                {k: float(sums[i] / sums[-1]) for i, k in enumerate(keys)} | {"val_images": int(sums[-1])}
                if sums[-1]
                else {}
            )
        return stats

    def fit(self, epochs: int | None = None) -> list[dict[str, Any]]:
        """Train until ``epochs`` epochs (default: the config's) are done; return the history.

        Counting is absolute: after resuming from epoch 3 of 10, seven more run. Ctrl-C or
        SIGTERM saves a checkpoint and returns the history so far (``self.interrupted`` is set).
        The loop is the lesson's (:func:`colorlab.train.fit`): batches, one step each, validate.
        """
        cfg = self.config
        total_epochs = epochs if epochs is not None else cfg.epochs
        total_steps = cfg.max_steps or total_epochs * self.steps_per_epoch()
        self._say(f"colorlab: training on {self.precision}")
        log = _LossLog(self.device.type == "cuda", self._raise_non_finite)
        with self._one_run_at_a_time(), self._saved_on_interrupt(log):
            while self.epoch < total_epochs and not self._step_limit_reached():
                epoch, seen, start = self.epoch, 0, time.perf_counter()
                log.values.clear()
                bar = self._progress_bar(epoch, total_epochs)
                for l_net, ab in self.epoch_batches(epoch, skip=self.batch_in_epoch):
                    if len(l_net):  # a batch whose every file was unusable has nothing to learn from
                        self._set_learning_rate(total_steps)
                        started = time.perf_counter()
                        loss = train_step(
                            self.forward,
                            self.optimizer,
                            l_net,
                            ab,
                            loss=self.criterion,
                            autocast=self.precision.autocast,
                            grad_clip=cfg.grad_clip,
                        )
                        self._report_compile_time(loss, started)
                        self.step += 1
                        log.add(self.step, loss)
                        seen += len(l_net)
                    self.batch_in_epoch += 1  # counted once trained: a Ctrl-C inside the step must not skip it
                    self._show_progress(bar, log, seen, start)
                    if cfg.save_every and self.step % cfg.save_every == 0 and len(l_net):
                        log.flush()
                        self.save()
                    if self._step_limit_reached():
                        break
                log.flush()
                bar.close()
                if seen == 0 and not self.history:
                    raise NoUsablePhotosError(self._nothing_usable())
                self._end_epoch(epoch, log.values, seen, time.perf_counter() - start)
        if self.world_size > 1 and not self.interrupted:
            dist.barrier()  # rank 0's last checkpoint is written before anyone returns
        return self.history

    # --- the machinery fit calls by name ------------------------------------------

    @contextmanager
    def _one_run_at_a_time(self) -> Iterator[None]:
        """One writer per checkpoint file (a second run on it refuses to start)."""
        with ExitStack() as stack:
            if self.checkpoint is not None and self.is_main:
                stack.enter_context(exclusive_lock(self.checkpoint, what="training run"))
            yield

    @contextmanager
    def _saved_on_interrupt(self, log: _LossLog) -> Iterator[None]:
        """Ctrl-C, or SIGTERM from ``kill`` or a scheduler, ends the run with a checkpoint saved."""
        try:
            with sigterm_as_interrupt(TrainingInterrupted):
                yield
        except KeyboardInterrupt:
            log.flush()
            self.interrupted = True
            saved = self.save()
            self._say(
                f"Interrupted at step {self.step}."
                + (f" Checkpoint saved to {saved}; continue with resume." if saved else "")
            )

    def _step_limit_reached(self) -> bool:
        return self.config.max_steps is not None and self.step >= self.config.max_steps

    def _set_learning_rate(self, total_steps: int) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.step, total_steps) * group.get("lr_scale", 1.0)

    def _report_compile_time(self, loss: torch.Tensor, started: float) -> None:
        """Under ``torch.compile`` the first step compiles: wait for it and say how long it took, once."""
        if self.compile and self.compile_time_s is None:
            float(loss)
            self.compile_time_s = time.perf_counter() - started
            self._say(f"torch.compile: first step took {self.compile_time_s:.1f} s (compilation; reported once)")

    def _progress_bar(self, epoch: int, total_epochs: int) -> Any:
        return tqdm(
            total=self.steps_per_epoch(),
            initial=self.batch_in_epoch,
            desc=f"epoch {epoch + 1}/{total_epochs}",
            disable=not (self.config.progress and self.is_main),
            dynamic_ncols=True,
        )

    def _show_progress(self, bar: Any, log: _LossLog, seen: int, start: float) -> None:
        bar.update(1)
        if log.values:
            speed = seen * self.world_size / (time.perf_counter() - start)
            bar.set_postfix(loss=f"{log.values[-1]:.4f}", img_s=f"{speed:.1f}")

    def _end_epoch(self, epoch: int, losses: list[float], seen: int, seconds: float) -> None:
        """Record the epoch, save, validate, save again (so a slow validation never delays the checkpoint)."""
        finished = self.batch_in_epoch >= len(self._chunks(self.shard(epoch)))
        train_loss = float(np.mean(losses)) if losses else float("nan")
        if self.world_size > 1:  # the mean over all replicas
            t = torch.tensor([train_loss], dtype=torch.float64, device=self.device)
            torch.distributed.all_reduce(t)
            train_loss = float(t) / self.world_size
        record: dict[str, Any] = {
            "epoch": epoch + 1,
            "step": self.step,
            "train_loss": train_loss,
            "images_per_s": seen * self.world_size / max(1e-9, seconds),
            "lr": self.optimizer.param_groups[0]["lr"],
            "complete": finished,
        }
        if self.history and self.history[-1]["epoch"] == epoch + 1 and not self.history[-1].get("complete", True):
            self.history.pop()  # the partial record of this epoch (before a resume) is superseded
        self.history.append(record)
        if finished:
            self.epoch, self.batch_in_epoch = epoch + 1, 0
        self.save()
        record.update(self.validate())
        self.save()
        if self.on_epoch_end is not None:
            self.on_epoch_end(self, record)
        self._say(", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items()))

    def _nothing_usable(self) -> str:
        n = len(self.train_data.skipped)
        return (
            f"no usable training photos: {n} of {len(self.train_data)} file(s) were skipped as unreadable or "
            "grayscale (see the warnings above); nothing was trained and no checkpoint written"
        )

    def _raise_non_finite(self, value: float, step: int) -> None:
        raise NonFiniteLossError(
            f"loss became {value} at step {step}; stopping. "
            f"The last good checkpoint ({self.checkpoint or 'none saved'}) is kept; try a lower learning rate"
        )

    def _say(self, text: str) -> None:
        if self.is_main:
            tqdm.write(text) if self.config.progress else print(text, flush=True)
