"""Multi-GPU and multi-node training with ``torchrun`` (DistributedDataParallel).

``torchrun --nproc_per_node=N -m colorlab train ...`` starts N processes with
``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` in their environment;
:func:`init_from_env` joins them into one process group (NCCL on CUDA, gloo on
the CPU) and picks each process's GPU. :class:`colorlab.engine.Trainer` then
notices the process group on its own: it wraps the model in
``DistributedDataParallel``, gives every rank its own share of each epoch's
deterministic order, and lets rank 0 alone write checkpoints and show progress.
``batch_size`` is per process, as with ``DistributedDataParallel`` in general:
the global batch is ``batch_size * world_size``.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

__all__ = ["init_from_env", "cleanup", "rank", "world_size", "is_main", "barrier", "env_world_size"]


def env_world_size() -> int:
    """``WORLD_SIZE`` from the environment (1 when not started by torchrun)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def init_from_env(device: str | None = None) -> str | None:
    """Join the process group that ``torchrun`` describes in the environment; return the device to use.

    Does nothing (and returns ``device``) outside torchrun or with one
    process. On CUDA each process takes ``cuda:LOCAL_RANK`` (backend NCCL);
    on the CPU the gloo backend is used.
    """
    if env_world_size() <= 1 or dist.is_initialized():
        return device
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = (device is None or str(device).startswith("cuda")) and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl", device_id=torch.device("cuda", local_rank))
        return f"cuda:{local_rank}"
    dist.init_process_group("gloo")
    return device or "cpu"


def cleanup() -> None:
    """Leave the process group (if any)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """True on rank 0 (and in a plain single-process run)."""
    return rank() == 0


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()
