"""Training, plainly: the paper's loss, one optimizer step, validation, and a training loop.

The objective is the paper's mean squared error on the scaled ab channels,

    C = 1/(2HW) * sum_{k in {a, b}} sum_{i, j} (X_k(i, j) - X~_k(i, j))^2,

minimized with Adam. One step is forward, loss, backward, update (:func:`train_step`);
:func:`fit` repeats it over the batches of every epoch and validates after each. Batches are
uint8 RGB ``(B, 3, S, S)``, e.g. from a ``DataLoader`` over :class:`colorlab.data.ColorDataset`;
:func:`to_network` makes Lab network tensors of them on the training device, for the whole batch.

Everything a long run needs on top (bf16, ``torch.compile``, several GPUs, resume, saving on
Ctrl-C, fast caches) is in :class:`colorlab.engine.Trainer`, built on the same :func:`train_step`
and :func:`validate`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn.functional as F

from .color import AB_SCALE, lab_to_rgb, network_to_lab, rgb_to_network
from .hints import simulate_hints, takes_hints

#: The objectives :func:`colorization_loss` knows; "mse" is the paper's.
LOSSES = ("mse", "l1", "huber")


def colorization_loss(ab_pred: torch.Tensor, ab_true: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """The paper's objective (``kind="mse"``): mean squared error over a, b and all pixels.

    ``"l1"`` (mean absolute error) and ``"huber"`` (smooth L1, delta 0.1 on the [-1, 1] scale)
    average colours less. Computed in float32 whatever the network computed in.
    """
    pred, true = ab_pred.float(), ab_true.float()
    if kind == "mse":
        return F.mse_loss(pred, true)
    if kind == "l1":
        return F.l1_loss(pred, true)
    if kind == "huber":
        return F.huber_loss(pred, true, delta=0.1)
    raise ValueError(f"unknown loss {kind!r}; choose one of {LOSSES}")


def to_network(rgb: torch.Tensor, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 RGB ``(B, 3, S, S)`` -> (scaled ``L`` ``(B, 1, S, S)``, scaled ``ab`` ``(B, 2, S, S)``) on ``device``.

    The one place where photos become network tensors: this loop, the trainer, every batch source.
    """
    if rgb.dtype != torch.uint8:
        raise TypeError(f"to_network expects uint8 RGB batches (as every batch source yields), got {rgb.dtype}")
    return rgb_to_network(rgb.to(device).float() / 255.0)


Loss = str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def train_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    l_net: torch.Tensor,
    ab: torch.Tensor,
    *,
    loss: Loss = "mse",
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    grad_clip: float | None = 1.0,
) -> torch.Tensor:
    """One optimizer step on a batch: forward, loss, backward, update. Returns the (detached) loss.

    ``loss`` names a :func:`colorization_loss`, or is a function ``(output, ab) -> loss`` (the
    classification head's: :func:`colorlab.colorbins.criterion`). A model that takes hints gets
    clicks simulated from the true ``ab`` (:func:`colorlab.hints.simulate_hints`).
    """
    model.train()
    with autocast():
        pred = model(l_net, simulate_hints(ab)) if takes_hints(model) else model(l_net)
    value = loss(pred, ab) if callable(loss) else colorization_loss(pred, ab, loss)
    optimizer.zero_grad(set_to_none=True)
    value.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(
            [p for g in optimizer.param_groups for p in g["params"]], grad_clip, foreach=True
        )
    optimizer.step()
    return value.detach()


def psnr_rgb(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per image of float RGB ``(B, 3, H, W)`` in ``[0, 1]``, on the 0-255 scale, rounded to 8 bits."""
    mse = ((pred * 255).round() - (truth * 255).round()).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(255.0**2 / mse.clamp(min=1e-10))


@torch.no_grad()
def validate(
    model: torch.nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    loss: Loss = "mse",
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> dict[str, float]:
    """Mean loss, RMS ab error (Lab units) and PSNR (dB, RGB) over ``(l_net, ab)`` batches.

    Returns ``{"val_loss", "val_rms_ab", "val_psnr", "val_images"}`` (empty if there were none).
    """
    model.eval()
    n, loss_sum, sq_sum, psnr_sum = 0, 0.0, 0.0, 0.0
    for l_net, ab in batches:
        with autocast():
            output = model(l_net)
        pred = model.decode(output).float()  # scaled ab, whichever head
        b = len(l_net)
        loss_sum += float(loss(output, ab) if callable(loss) else colorization_loss(pred, ab, loss)) * b
        sq_sum += float((pred - ab).pow(2).mean()) * b
        l32 = l_net.float()
        psnr_sum += float(psnr_rgb(lab_to_rgb(network_to_lab(l32, pred)), lab_to_rgb(network_to_lab(l32, ab))).sum())
        n += b
    if n == 0:
        return {}
    return {
        "val_loss": loss_sum / n,
        "val_rms_ab": math.sqrt(sq_sum / n) * AB_SCALE,
        "val_psnr": psnr_sum / n,
        "val_images": n,
    }


def fit(
    model: torch.nn.Module,
    train_batches: Iterable[torch.Tensor],
    val_batches: Iterable[torch.Tensor] | None = None,
    *,
    epochs: int = 1,
    lr: float = 1e-3,
    loss: Loss = "mse",
    device: torch.device | str = "cpu",
) -> list[dict[str, Any]]:
    """Train ``model`` with Adam for ``epochs`` passes over ``train_batches``; return one record per epoch.

    ``train_batches`` and ``val_batches`` yield uint8 RGB ``(B, 3, S, S)`` and can be iterated
    once per epoch (a list, or a ``DataLoader``). Only the parameters that require gradients train.
    """
    model.to(device)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    history = []
    for epoch in range(1, epochs + 1):
        losses = [float(train_step(model, optimizer, *to_network(rgb, device), loss=loss)) for rgb in train_batches]
        record: dict[str, Any] = {"epoch": epoch, "train_loss": sum(losses) / len(losses)}
        if val_batches is not None:
            record.update(validate(model, (to_network(rgb, device) for rgb in val_batches), loss=loss))
        history.append(record)
    return history
