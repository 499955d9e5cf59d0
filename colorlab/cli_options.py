"""What the ``colorlab`` commands share: the help layout, options used by several commands, the model.

Each command's own options and code live in :mod:`colorlab.cli` (the entry point, ``export``,
``download``), :mod:`colorlab.cli_colorize` (``colorize``, ``colorize-video``) and
:mod:`colorlab.cli_train` (``prepare``, ``train``, ``evaluate``). Nothing heavy (torch) is
imported until a command runs, so ``colorlab --help`` stays quick.
"""

from __future__ import annotations

import argparse


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written; each option's default shown once, and only when it says something."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help = action.help or ""
        default = action.default
        if "(default" in help or not action.option_strings or action.required:
            return help
        if default is None or default is False or default == "" or default is argparse.SUPPRESS:
            return help
        return f"{help} (default: %(default)s)"


def add_temperature(p: argparse.ArgumentParser) -> None:
    """``--temperature``: how a classification-head model decodes its colour bins."""
    p.add_argument(
        "--temperature",
        type=float,
        default=None,
        metavar="T",
        help="classification-head models: from the mean of the colours (1) towards the most likely one (near 0); "
        "default: the model's own (0.38)",
    )


def add_precision(p: argparse.ArgumentParser) -> None:
    """``--precision``: the number format the model computes in."""
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="number format: auto = bf16 where the hardware runs it natively (CUDA GPUs, CPUs with AVX-512 BF16 "
        "or AMX), else fp32",
    )


def add_device(p: argparse.ArgumentParser) -> None:
    """``--device`` and ``--threads``: where the model runs, and with how many CPU threads."""
    p.add_argument("--device", default=None, help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if available)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="CPU threads (default: $COLORLAB_THREADS, else the cores not busy with other work)",
    )


def add_no_progress(p: argparse.ArgumentParser, text: str = "no progress bar") -> None:
    """``--no-progress``: quiet output for logs and scripts."""
    p.add_argument("--no-progress", action="store_true", help=text)


def command_model(checkpoint: str | None, device: str | None, precision: str = "auto"):
    """The model a command runs: ``--checkpoint``'s, else the bundled demo model, on ``--device``."""
    from .checkpoint import load_model, load_pretrained
    from .device import resolve_device

    resolve_device(device)  # an unusable --device is named before any file is read
    return (
        load_model(checkpoint, device, precision=precision)
        if checkpoint
        else load_pretrained(device, precision=precision)
    )
