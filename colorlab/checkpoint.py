"""Checkpoints: the file format, saving atomically, loading safely, exporting, and the demo models.

A colorlab checkpoint is a ``torch.save``d dict with only tensors, numbers, strings and lists
in it, so it loads with ``torch.load(..., weights_only=True)`` (no pickled code can run):

==================  ========================================================================
key                 holds
==================  ========================================================================
``format``          ``"colorlab-checkpoint"``; ``version``: 1
``model_config``    :class:`colorlab.model.ModelConfig` as a dict (the architecture)
``model``           the trainable weights (encoder, fusion, decoder); the frozen extractor's
                    come from its own package at load time
``optimizer``       Adam's state (training checkpoints only)
``epoch``, ``step`` progress; ``batch_in_epoch`` for resuming in the middle of an epoch
``history``         one dict per epoch (losses, PSNR, images/s)
``train_config``    the training settings as a dict
``extra``           notes, e.g. the photos held out from training
==================  ========================================================================
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .device import choose_precision, resolve_device
from .files import atomic_write, replace_problem
from .model import ColorizationNet, ModelConfig
from .resources import model_path
from .transfer import create_model

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "PRETRAINED_NAME",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "load_weights",
    "model_from_checkpoint",
    "load_model",
    "export_checkpoint",
    "describe_checkpoint",
    "pretrained_path",
    "load_pretrained",
]

CHECKPOINT_FORMAT = "colorlab-checkpoint"
CHECKPOINT_VERSION = 1
#: The demo models shipped in ``data/``, by name. ``regression`` and ``classification`` are the
#: transfer network's two heads (:mod:`colorlab.transfer`, both taking hints); the ``paper-``
#: ones are the paper's net, the lessons' baseline.
DEMO_MODELS = {
    "regression": "colorlab-unet.pt",
    "classification": "colorlab-unet-vivid.pt",
    "paper-regression": "colorlab-lite0-demo.pt",
    "paper-classification": "colorlab-lite0-bins.pt",
}
#: The demo model ``colorize``, the command line and the apps use unless told otherwise.
DEFAULT_HEAD = "regression"
#: File name of the default demo model.
PRETRAINED_NAME = DEMO_MODELS[DEFAULT_HEAD]


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, unsafe, or made for another model."""


def save_checkpoint(
    path: str | os.PathLike[str],
    model: ColorizationNet,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    half: bool = False,
    overwrite: bool = True,
    **state: Any,
) -> Path:
    """Write a checkpoint of ``model`` (and ``optimizer``) atomically; ``state`` adds entries
    (``epoch``, ``step``, ``batch_in_epoch``, ``history``, ``train_config``, ``extra``).

    ``half=True`` stores the weights in float16 (a small shipping copy). ``overwrite=False``
    refuses to replace an existing file.
    """
    weights = {
        k: (v.half() if half and v.is_floating_point() else v).detach().cpu()
        for k, v in model.trainable_state_dict().items()
    }
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model_config": model.config.to_dict(),
        "model": weights,
        "epoch": 0,
        "step": 0,
        "batch_in_epoch": 0,
        "history": [],
        "torch_rng": torch.get_rng_state(),
        **{k: v for k, v in state.items() if v is not None},
    }
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    with atomic_write(path, overwrite=overwrite) as f:
        torch.save(payload, f)
    return Path(path)


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a colorlab checkpoint safely (``weights_only=True``) and check its format.

    Raises :class:`CheckpointError` naming the file and what is wrong: missing, not a
    checkpoint, unsafe content (pickled code), another format or version.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: checkpoint not found" if not path.is_dir() else f"{path}: is a folder, not a checkpoint file"
        )
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        text = str(exc)
        if "Weights only load failed" in text or "Unsupported global" in text or "weights_only" in text:
            raise CheckpointError(
                f"{path}: refused: the file contains pickled Python objects that could run code "
                "(colorlab loads checkpoints with weights_only=True). Only load checkpoints you trust "
                "and re-save them with colorlab.checkpoint.save_checkpoint."
            ) from None
        first = text.splitlines()[0] if text else ""
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {first})") from None
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
    _check_structure(ckpt, path)
    return ckpt


#: The most weights a checkpoint may hold (colorlab's models have at most a few million).
MAX_CHECKPOINT_PARAMETERS = 200_000_000


def _check_structure(ckpt: dict[str, Any], path: Any) -> None:
    """The shape of a loaded checkpoint, before anything is built from it: one error naming the file."""
    if not isinstance(ckpt["model_config"], dict):
        raise CheckpointError(
            f"{path}: its model_config is a {type(ckpt['model_config']).__name__}, not a mapping; "
            "the file is damaged or not colorlab's"
        )
    weights = ckpt["model"]
    if not isinstance(weights, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items()
    ):
        raise CheckpointError(
            f"{path}: its weights are not a mapping of names to tensors; the file is damaged or not colorlab's"
        )
    total = sum(v.numel() for v in weights.values())
    if total > MAX_CHECKPOINT_PARAMETERS:
        raise CheckpointError(
            f"{path}: holds {total:,} weights, more than any colorlab model ({MAX_CHECKPOINT_PARAMETERS:,}); refused"
        )
    for key in ("epoch", "step", "batch_in_epoch"):
        value = ckpt.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CheckpointError(f"{path}: its {key} is {value!r}, not a count")
    if "torch_rng" in ckpt and not (
        isinstance(ckpt["torch_rng"], torch.Tensor) and ckpt["torch_rng"].dtype == torch.uint8
    ):
        raise CheckpointError(f"{path}: its random-number state is not a byte tensor; the file is damaged")
    if "optimizer" in ckpt and not (
        isinstance(ckpt["optimizer"], dict) and {"state", "param_groups"} <= set(ckpt["optimizer"])
    ):
        raise CheckpointError(f"{path}: its optimizer state is damaged (no state or param_groups)")


def load_weights(model: ColorizationNet, ckpt: dict[str, Any], path: Any = "<checkpoint>") -> None:
    """Check that ``ckpt`` was made for ``model``'s architecture, then load its weights (any float dtype)."""
    found, exp = ModelConfig.from_dict(ckpt["model_config"]), model.config
    for field, what in (
        ("arch", "architecture"),
        ("hints", "hints setting"),
        ("trainable_stages", "trainable trunk stages"),
    ):
        if getattr(found, field) != getattr(exp, field):
            raise CheckpointError(
                f"{path}: made for {what} {getattr(found, field)!r}, the model has {getattr(exp, field)!r}"
            )
    if found.head != exp.head:
        raise CheckpointError(f"{path}: made for the {found.head} head, the model has the {exp.head} head")
    if found.backbone != exp.backbone:
        raise CheckpointError(f"{path}: made for backbone {found.backbone!r}, the model has {exp.backbone!r}")
    if tuple(found.encoder_channels) != tuple(exp.encoder_channels) or found.fusion_channels != exp.fusion_channels:
        raise CheckpointError(
            f"{path}: architecture differs (expected encoder {list(exp.encoder_channels)}, fusion "
            f"{exp.fusion_channels}; found encoder {list(found.encoder_channels)}, fusion {found.fusion_channels})"
        )
    own, theirs = model.trainable_state_dict(), ckpt["model"]
    missing, extra = sorted(set(own) - set(theirs)), sorted(set(theirs) - set(own))
    wrong = [k for k in own if k in theirs and tuple(theirs[k].shape) != tuple(own[k].shape)]
    if missing or extra or wrong:
        detail = [f"{len(missing)} missing (e.g. {missing[0]})"] if missing else []
        detail += [f"{len(extra)} unexpected (e.g. {extra[0]})"] if extra else []
        detail += (
            [
                f"{len(wrong)} of another shape (e.g. {wrong[0]}: expected {tuple(own[wrong[0]].shape)}, "
                f"found {tuple(theirs[wrong[0]].shape)})"
            ]
            if wrong
            else []
        )
        raise CheckpointError(f"{path}: weights do not fit this architecture: " + "; ".join(detail))
    kind = [k for k in own if own[k].is_floating_point() != theirs[k].is_floating_point()]
    if kind:
        raise CheckpointError(
            f"{path}: weight {kind[0]} is {theirs[kind[0]].dtype}, "
            f"expected floating point like {own[kind[0]].dtype}; the file is damaged"
        )
    bad = [k for k, v in theirs.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(
            f"{path}: weights hold NaN or infinity ({len(bad)} tensor(s), e.g. {bad[0]}); "
            "the file is damaged or from a run that diverged"
        )
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in theirs.items()}, strict=False)


def model_from_checkpoint(
    ckpt: dict[str, Any], path: Any = "<checkpoint>", *, pretrained: bool = True, backbone_weights: str | None = None
) -> ColorizationNet:
    """Rebuild the network a checkpoint describes and load its weights (the one place this happens)."""
    try:
        config = ModelConfig.from_dict(ckpt["model_config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: its model_config is not one this colorlab can build ({exc})") from None
    config.pretrained = pretrained
    # A weights file is the user's choice (--backbone-weights), never a path written inside a checkpoint.
    config.backbone_weights = backbone_weights
    from .backbones import BACKBONES

    if config.backbone not in BACKBONES:
        raise CheckpointError(
            f"{path}: made for backbone {config.backbone!r}, which this colorlab does not know ({', '.join(BACKBONES)})"
        )
    model = create_model(config)
    load_weights(model, ckpt, path)
    model.config.pretrained = True
    return model


def load_model(
    path: str | os.PathLike[str],
    device: str | torch.device | None = None,
    *,
    backbone_weights: str | None = None,
    precision: str = "auto",
) -> ColorizationNet:
    """The model stored in a colorlab checkpoint (loaded with ``weights_only=True``), in eval mode,
    in the memory layout :func:`colorlab.device.choose_precision` picks for ``device``."""
    model = model_from_checkpoint(load_checkpoint(path), path, backbone_weights=backbone_weights)
    dev = resolve_device(device)
    layout = torch.channels_last if choose_precision(dev, precision).channels_last else torch.preserve_format
    return model.to(dev, memory_format=layout).eval()


def export_checkpoint(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    half: bool = True,
    extra: dict[str, Any] | None = None,
    overwrite: bool = False,
    temperature: float | None = None,
) -> Path:
    """A small shipping copy of a training checkpoint: the weights (float16 by default), config,
    step and history; no optimizer. Refuses to write over ``src`` or (unless ``overwrite``) any existing file.
    ``temperature`` sets the decoding temperature a classification head uses by default."""
    if Path(dst).exists() and Path(dst).resolve() == Path(src).resolve():
        raise CheckpointError(f"{dst}: is the checkpoint being exported; write the copy to another file")
    problem = replace_problem(
        dst,
        overwrite=overwrite,
        inputs=[src],
        ours=is_colorlab_checkpoint,
        what="a colorlab checkpoint",
        how="pass --overwrite to replace it, or choose another name",
    )
    if problem:
        raise (FileExistsError if not overwrite else CheckpointError)(problem)
    ckpt = load_checkpoint(src)
    model = model_from_checkpoint(ckpt, src, pretrained=False)  # the extractor's weights are not stored
    if temperature is not None:
        from .checks import check_temperature

        if model.config.head != "classification":
            raise CheckpointError(
                f"{src}: a temperature applies to a classification head; this model has the {model.config.head} head"
            )
        model.config.temperature = check_temperature(temperature)
    meta = {**(ckpt.get("extra") or {}), **(extra or {})}
    return save_checkpoint(
        dst,
        model,
        half=half,
        overwrite=overwrite,
        epoch=ckpt.get("epoch", 0),
        step=ckpt.get("step", 0),
        history=ckpt.get("history"),
        extra=meta,
    )


def is_colorlab_checkpoint(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a file colorlab can read as one of its checkpoints."""
    try:
        load_checkpoint(path)
    except CheckpointError:
        return False
    return True


def describe_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A checkpoint's metadata (config, epoch, step, history, extra) without building the model."""
    return {k: v for k, v in load_checkpoint(path).items() if k not in ("model", "optimizer", "torch_rng")}


def pretrained_path(head: str | None = None) -> Path:
    """Where the demo model ``head`` lives: a name of :data:`DEMO_MODELS` (default: :data:`DEFAULT_HEAD`).

    ``$COLORLAB_PRETRAINED`` replaces the default demo model with a checkpoint of your own.
    """
    if head is None and os.environ.get("COLORLAB_PRETRAINED"):
        return Path(os.environ["COLORLAB_PRETRAINED"])
    head = head or DEFAULT_HEAD
    if head not in DEMO_MODELS:
        raise ValueError(f"no demo model {head!r}; choose one of {', '.join(DEMO_MODELS)}")
    return model_path(DEMO_MODELS[head])


_PRETRAINED: dict[tuple[str, float, str, str], ColorizationNet] = {}


def load_pretrained(
    device: str | torch.device | None = None, head: str | None = None, *, precision: str = "auto"
) -> ColorizationNet:
    """A demo model shipped with colorlab (no network needed), by its name in :data:`DEMO_MODELS`:
    ``"regression"`` (the default) or ``"classification"`` (vivid), the transfer network's heads; or
    ``"paper-regression"`` and ``"paper-classification"``, the paper's net. Cached per device and file version."""
    path = pretrained_path(head)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: the demo model is missing. It ships in every install of colorlab-koala; reinstall "
            "(pip install --force-reinstall --no-deps colorlab-koala) or point COLORLAB_PRETRAINED at a checkpoint"
        )
    dev = resolve_device(device)
    key = (str(path), path.stat().st_mtime, str(dev), precision)
    if key not in _PRETRAINED:
        _PRETRAINED[key] = load_model(path, dev, precision=precision)
    return _PRETRAINED[key]
