"""Checks for lesson 3 (training): one optimizer step, the loss in Lab units, validation.

Each check runs your answer on a tiny stand-in model whose right answer the library knows
(:func:`colorlab.train.train_step`, :func:`colorlab.train.validate`) and says what is right or
what to look at next::

    from colorlab.exercises import lesson3
    lesson3.check_train_step(my_train_step)   # forward, loss, backward, step
    lesson3.check_rms_ab(my_rms_ab)           # EXAMPLE_VAL_LOSS in Lab units
    lesson3.check_validate(my_validate)       # mean loss and RMS ab error over uneven batches
    lesson3.check_resume(my_answer)           # (epoch it continues from, length of its history)

:func:`solution_values` gives the numbers the worked solutions state, for the lesson's claims.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..color import AB_SCALE
from ..train import train_step, validate
from .core import CheckResult, call_learner, right, wrong

__all__ = [
    "EXAMPLE_VAL_LOSS",
    "TinyColorizer",
    "tiny_batch",
    "check_train_step",
    "check_rms_ab",
    "check_validate",
    "RESUME_EPOCHS",
    "RESUME_INTERRUPTED_EPOCH",
    "check_resume",
    "solution_values",
]

#: A validation loss (MSE on the scaled ab) to turn into Lab units in the second exercise.
EXAMPLE_VAL_LOSS = 0.0125

#: The step size of the plain SGD the train-step check hands your function: with plain SGD the
#: change of every weight is proportional to its gradient, so a wrong gradient shows.
_CHECK_LR = 0.5
_TOLERANCE = 1e-5


class TinyColorizer(nn.Module):
    """A two-layer stand-in for :class:`colorlab.model.ColorizationNet`, small enough to check in
    milliseconds: scaled ``L`` ``(B, 1, H, W)`` -> scaled ``ab`` ``(B, 2, H, W)`` in ``[-1, 1]``.

    The same ``seed`` gives the same weights, whatever the global random state.
    """

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.layers = nn.Sequential(
                nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 3, padding=1), nn.Tanh()
            )

    def forward(self, l_net: torch.Tensor) -> torch.Tensor:
        return self.layers(l_net)

    def decode(self, output: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        """As :meth:`ColorizationNet.decode` for the regression head: the output is the ab."""
        return output


def tiny_batch(batch: int = 2, size: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed batch: scaled ``L`` ``(batch, 1, size, size)`` and scaled ``ab`` ``(batch, 2, size, size)``."""
    g = torch.Generator().manual_seed(seed)
    l_net = torch.rand(batch, 1, size, size, generator=g) * 2 - 1
    ab = 0.4 * torch.tanh(torch.randn(batch, 2, size, size, generator=g))
    return l_net, ab


def _weights(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _model_with_stale_gradients() -> TinyColorizer:
    """A tiny model whose ``.grad`` still holds an earlier batch's gradients, as in a real loop
    after the first step: a step that forgets ``zero_grad`` adds them to this batch's."""
    model = TinyColorizer()
    l_net, ab = tiny_batch(seed=1)
    F.mse_loss(model(l_net), ab).backward()
    return model


def _variant(loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *, zero_grad: bool = True) -> torch.Tensor:
    """The weights after one SGD step done one (possibly wrong) way."""
    model = _model_with_stale_gradients()
    optimizer = torch.optim.SGD(model.parameters(), lr=_CHECK_LR)
    l_net, ab = tiny_batch()
    loss = loss_fn(model(l_net), ab)
    if zero_grad:
        optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return _weights(model)


def _reference(grad_clip: float | None) -> tuple[torch.Tensor, float]:
    model = _model_with_stale_gradients()
    optimizer = torch.optim.SGD(model.parameters(), lr=_CHECK_LR)
    loss = train_step(model, optimizer, *tiny_batch(), grad_clip=grad_clip)
    return _weights(model), float(loss)


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return torch.allclose(a, b, atol=_TOLERANCE, rtol=0.0)


def _as_float(value: Any) -> float | None:
    if isinstance(value, (str, bytes, bool)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, RuntimeError):  # a tensor of several values raises RuntimeError
        return None
    return None if math.isnan(number) else number


def _step_before_backward(exc: Exception) -> str | None:
    """What autograd's complaint about weights changed in place means in a train step, else ``None``."""
    if isinstance(exc, RuntimeError) and "modified by an inplace operation" in str(exc):
        return "optimizer.step() changed the weights before loss.backward() could use them: backward first, then step"
    return None


def check_train_step(fn: Callable[..., Any] | None) -> CheckResult:
    """``fn(model, optimizer, l_net, ab) -> loss``: one optimizer step on a batch (forward, MSE loss,
    backward, step), returning the loss computed before the step.

    The check runs ``fn`` on :class:`TinyColorizer` with plain SGD, after an earlier batch left its
    gradients behind, and compares the weights with :func:`colorlab.train.train_step`'s.
    """
    signature = "my_train_step(model, optimizer, l_net, ab) that returns the loss"
    model = _model_with_stale_gradients()
    before = _weights(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=_CHECK_LR)
    l_net, ab = tiny_batch()
    returned, problem = call_learner(
        fn,
        signature,
        model,
        optimizer,
        l_net.clone(),
        ab.clone(),
        missing=f"write {signature}, then pass it here",
        explain=_step_before_backward,
    )
    if problem is not None:
        return problem
    after = _weights(model)
    unclipped, loss = _reference(None)
    clipped, _ = _reference(1.0)
    if _close(after, before):
        return wrong("the weights did not change: after loss.backward(), call optimizer.step()")
    if _close(after, unclipped) or _close(after, clipped):
        value = _as_float(returned)
        if value is None:
            return wrong(f"the step is right, but return the loss (loss.detach() or loss.item()), not {returned!r}")
        if abs(value - loss) > 1e-6:
            return wrong(f"the step is right, but you returned {value:.6f}; return the loss of this batch, {loss:.6f}")
        return right("forward, loss, zero_grad, backward, step: the same weights as colorlab.train.train_step")
    mistakes = [
        (
            _variant(F.mse_loss, zero_grad=False),
            "gradients of the earlier batch were added to this one: call optimizer.zero_grad() before loss.backward()",
        ),
        (
            _variant(F.l1_loss),
            "that is the L1 loss (mean absolute error); the paper's objective is the mean squared error, F.mse_loss(pred, ab)",
        ),
        (
            _variant(lambda p, t: F.mse_loss(p, t, reduction="sum")),
            "you summed the squared errors; take their mean (F.mse_loss's default), so the loss does not grow with the image",
        ),
        (
            _variant(lambda p, t: F.mse_loss(p, t).sqrt()),
            "that is the root of the mean squared error; train on the MSE itself (take the root only to report Lab units)",
        ),
    ]
    for weights, message in mistakes:
        if _close(after, weights):
            return wrong(message)
    gap = float((after - unclipped).abs().max())
    return wrong(
        f"after one step the weights differ from colorlab.train.train_step's by up to {gap:.2g}: use the model and "
        "optimizer passed in, pred = model(l_net), loss = F.mse_loss(pred, ab), then zero_grad, backward, step"
    )


def check_rms_ab(answer: float | None) -> CheckResult:
    """``answer``: the RMS ab error, per channel in Lab units, of a validation loss of :data:`EXAMPLE_VAL_LOSS`."""
    if answer is None:
        return wrong("turn lesson3.EXAMPLE_VAL_LOSS (an MSE on ab / 128) into Lab units and pass the number")
    value = _as_float(answer)
    if value is None:
        return wrong(f"pass one number, got {answer!r}")
    loss = EXAMPLE_VAL_LOSS
    want = AB_SCALE * math.sqrt(loss)
    if math.isclose(value, want, rel_tol=1e-3):
        return right(
            f"AB_SCALE * sqrt({loss}) = {want:.2f} Lab units: a typical pixel's a (or b) is off by about that much"
        )
    mistakes = {
        AB_SCALE * loss: "take the square root first: the loss is a mean of *squared* errors",
        math.sqrt(loss): "that is on the network's scale, ab / 128; multiply by AB_SCALE = 128 for Lab units",
        loss * AB_SCALE**2: "that is the mean squared error in (Lab units)²; take its square root",
        AB_SCALE * math.sqrt(2 * loss): (
            "that is the RMS length of the (Δa, Δb) error vector; the lesson's RMS ab error is per channel, √2 smaller"
        ),
        AB_SCALE
        * math.sqrt(loss / 2): "the loss is already the mean over a and b (the 1/(2HW)); do not halve it again",
    }
    for value_wrong, message in mistakes.items():
        if math.isclose(value, value_wrong, rel_tol=1e-3):
            return wrong(message)
    return wrong(f"{value:g} is not it: undo the scaling of ab (÷ 128) on the root of the mean squared error")


def _pair(result: Any) -> tuple[float, float] | None:
    if isinstance(result, dict):
        result = (result.get("val_loss"), result.get("val_rms_ab"))
    if not isinstance(result, Sequence) or isinstance(result, str) or len(result) != 2:
        return None
    loss, rms = (_as_float(v) for v in result)
    return None if loss is None or rms is None else (loss, rms)


def check_validate(fn: Callable[..., Any] | None) -> CheckResult:
    """``fn(model, batches) -> (val_loss, val_rms_ab)``: the mean MSE per image over all batches of
    ``(l_net, ab)`` and the RMS ab error in Lab units, without training.

    The batches hold 3 and 1 images, so a mean over batches is not a mean over images.
    """
    signature = "my_validate(model, batches) that returns (val_loss, val_rms_ab)"
    batches = [tiny_batch(batch=3, seed=2), tiny_batch(batch=1, seed=3)]
    model = TinyColorizer(seed=4)
    before = _weights(model)
    returned, problem = call_learner(
        fn,
        signature,
        model,
        [(L.clone(), ab.clone()) for L, ab in batches],
        missing=f"write {signature}, then pass it here",
    )
    if problem is not None:
        return problem
    got = _pair(returned)
    if got is None:
        return wrong("return two numbers, (val_loss, val_rms_ab), or a dict with those keys")
    if not _close(_weights(model), before):
        return wrong("validation changed the weights: only evaluate (model.eval() and torch.no_grad()), never step")
    stats = validate(model, batches)
    loss, rms = got
    want_loss, want_rms = stats["val_loss"], stats["val_rms_ab"]
    with torch.no_grad():
        per_batch = [float(F.mse_loss(model(L), ab)) for L, ab in batches]
    if math.isclose(loss, want_loss, rel_tol=1e-4) and math.isclose(rms, want_rms, rel_tol=1e-4):
        return right(f"val_loss {want_loss:.5f} and RMS ab error {want_rms:.2f} Lab units, as colorlab.train.validate")
    if math.isclose(loss, sum(per_batch) / len(per_batch), rel_tol=1e-4):
        return wrong(
            "you averaged the batch means; weight each batch by its number of images (the last one is smaller)"
        )
    if not math.isclose(loss, want_loss, rel_tol=1e-4):
        return wrong(
            f"val_loss {loss:.5f}, expected {want_loss:.5f}: the mean of F.mse_loss(model(l_net), ab) over all images"
        )
    per_batch_rms = [AB_SCALE * math.sqrt(v) for v in per_batch]
    weights = [len(L) for L, _ in batches]
    if math.isclose(
        rms, sum(r * w for r, w in zip(per_batch_rms, weights)) / sum(weights), rel_tol=1e-4
    ) or math.isclose(rms, sum(per_batch_rms) / len(per_batch_rms), rel_tol=1e-4):
        return wrong("you averaged RMS values; average the squared errors first, then take one square root")
    if math.isclose(rms, math.sqrt(want_loss), rel_tol=1e-4):
        return wrong("the RMS is on the network's scale; multiply by AB_SCALE = 128 for Lab units")
    return wrong(f"val_rms_ab {rms:.3f}, expected {want_rms:.3f} = AB_SCALE * sqrt(val_loss)")


#: The resume exercise: a run of this many epochs, interrupted during this epoch.
RESUME_EPOCHS = 10
RESUME_INTERRUPTED_EPOCH = 2


def check_resume(answer: Any) -> CheckResult:
    """``answer``: ``(epoch, length)`` for a run of :data:`RESUME_EPOCHS` epochs interrupted during
    epoch :data:`RESUME_INTERRUPTED_EPOCH` and resumed: the epoch the resumed run continues from,
    and how many records its history holds at the end.

    The trainer saves the step it reached inside the interrupted epoch, so it finishes that epoch
    (with the same crops and order) and runs the rest; its history lists every epoch once.
    """
    if answer is None:
        return wrong("pass (the epoch the resumed run continues from, the length of its history), e.g. (5, 7)")
    if not isinstance(answer, Sequence) or isinstance(answer, str) or len(answer) != 2:
        return wrong(f"pass two numbers, (epoch, history length), got {answer!r}")
    numbers = [_as_float(v) for v in answer]
    if any(v is None or v != int(v) for v in numbers):
        return wrong(f"pass two whole numbers, (epoch, history length), got {answer!r}")
    epoch, length = (int(v) for v in numbers)  # type: ignore[arg-type]
    stopped, total = RESUME_INTERRUPTED_EPOCH, RESUME_EPOCHS
    if (epoch, length) == (stopped, total):
        return right(
            f"it finishes epoch {stopped} from the step it saved, then runs to {total}; "
            f"the history lists every epoch once: {total} records"
        )
    if epoch == 1:
        return wrong("resume=True does not start again from the first epoch: it continues the saved run")
    if epoch == stopped + 1:
        return wrong(
            f"the checkpoint saved on Ctrl-C holds the step reached inside epoch {stopped}: "
            "the resumed run finishes that epoch rather than skipping the rest of it"
        )
    if epoch != stopped:
        return wrong(f"epoch {epoch} is not it: the run was interrupted during epoch {stopped}")
    if length in (total - stopped + 1, total - stopped):
        return wrong("the history is loaded from the checkpoint: the epochs done before the interruption are in it too")
    if length == total + 1:
        return wrong(f"the partial record of epoch {stopped} is replaced when that epoch completes, not kept")
    return wrong(f"a history of {length} records is not it: one record per epoch of the whole run")


def solution_values() -> dict[str, float]:
    """The numbers that the worked solutions of lesson 3 state, by the names the lesson's text
    marks them with (``<!--claim:NAME-->``, see notebooks/README.md)."""
    rms = AB_SCALE * math.sqrt(EXAMPLE_VAL_LOSS)
    return {
        "example_rms_ab": rms,
        "example_error_vector": math.sqrt(2.0) * rms,
        "resume_epochs": float(RESUME_EPOCHS),
        "resume_interrupted_epoch": float(RESUME_INTERRUPTED_EPOCH),
    }
