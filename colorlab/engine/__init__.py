"""The production machinery around the core training loop of :mod:`colorlab.train`.

* :mod:`colorlab.engine.trainer` - :class:`Trainer`: bf16/channels_last, ``torch.compile``,
  fused Adam, DDP, deferred non-finite checks, resume, saves on Ctrl-C and SIGTERM;
* :mod:`colorlab.engine.distributed` - joining a ``torchrun`` process group.

The batch sources it trains on live with the data: :class:`colorlab.data.ColorDataset` (photo
folders) and :class:`colorlab.cache.CachedDataset` (the memory-mapped uint8 cache).
"""

from .trainer import NonFiniteLossError, NoUsablePhotosError, TrainConfig, Trainer, TrainingInterrupted

__all__ = ["NonFiniteLossError", "NoUsablePhotosError", "TrainConfig", "Trainer", "TrainingInterrupted"]
