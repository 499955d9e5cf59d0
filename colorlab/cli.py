"""The ``colorlab`` command (also ``python -m colorlab``): colorize, train, evaluate.

This module is the entry point: :func:`build_parser` puts together one sub-parser per command
and :func:`main` runs the chosen command, turning errors into one line and an exit code (2 for
usage errors, 1 for the disk or a failed input, 130 when interrupted). It also holds the two
small commands, ``export``, ``download`` and ``lessons``. The others live beside it, each command's options
next to its code: :mod:`colorlab.cli_colorize` (``colorize``, ``colorize-video``) and
:mod:`colorlab.cli_train` (``train``, ``prepare``, ``evaluate``); :mod:`colorlab.cli_options`
holds what they share.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .cli_colorize import STDIO as STDIO
from .cli_colorize import add_colorize, add_colorize_video, cmd_colorize, cmd_colorize_video
from .cli_options import Formatter, add_no_progress
from .cli_train import add_evaluate, add_prepare, add_train, cmd_evaluate, cmd_prepare, cmd_train

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="colorlab",
        description="Automatic image colorization (Deep Koalarization) for learning and use.",
        formatter_class=Formatter,
        epilog="examples:\n  colorlab colorize old_photo.jpg -o out/\n  colorlab train --data sample --epochs 5\n"
        "  colorlab evaluate --data sample --checkpoint run.pt\n  colorlab lessons ~/colorlab-lessons",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_colorize(sub)
    add_colorize_video(sub)
    add_train(sub)
    add_prepare(sub)
    add_evaluate(sub)
    _add_download(sub)
    _add_export(sub)
    _add_lessons(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``colorlab`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    handlers = {
        "colorize": cmd_colorize,
        "colorize-video": cmd_colorize_video,
        "train": cmd_train,
        "evaluate": cmd_evaluate,
        "prepare": cmd_prepare,
        "export": _cmd_export,
        "download": _cmd_download,
        "lessons": _cmd_lessons,
    }
    from .backbones import BackboneWeightsError
    from .files import LockedError

    try:
        if hasattr(args, "threads"):
            import torch

            from .device import choose_threads

            torch.set_num_threads(choose_threads(args.threads))
        return handlers[args.command](args)
    except KeyboardInterrupt:
        print("colorlab: interrupted", file=sys.stderr)
        return 130
    except (
        ValueError,
        FileNotFoundError,
        FileExistsError,
        NotADirectoryError,
        LockedError,
        BackboneWeightsError,
    ) as exc:
        # Usage errors (bad options, missing or unusable files, a checkpoint for another model): one line, exit 2.
        print(f"colorlab: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the disk, not the user: a full disk, a vanished mount
        print(f"colorlab: {exc.filename + ': ' if exc.filename else ''}{exc.strerror or exc}", file=sys.stderr)
        return 1


# --- download -------------------------------------------------------------------------


def _add_download(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser(
        "download",
        help="download a dataset archive (Imagenette or any URL): resumable, checksummed, safely unpacked",
        formatter_class=Formatter,
        description="Download an archive into ROOT, verify its checksum, and unpack it safely into ROOT/<folder>; "
        "an interrupted download continues where it stopped. Known names: imagenette-160, imagenette-320. "
        "Offline, it says how to fetch the file by hand.",
        epilog="example:\n  colorlab download imagenette-160 --root ~/datasets\n"
        "  colorlab prepare --data ~/datasets/imagenette2-160/train --out cache/ --size 160",
    )
    d.add_argument("name", metavar="NAME|URL", help="a known dataset name or an http(s) URL of an archive")
    d.add_argument("--root", required=True, metavar="DIR", help="folder for the archive and what it unpacks to")
    d.add_argument("--sha256", default=None, help="expected SHA-256 of the archive (for a URL)")
    d.add_argument("--no-extract", action="store_true", help="only download and verify")
    add_no_progress(d)


def _cmd_download(args: argparse.Namespace) -> int:
    from .download import ChecksumError, DownloadError, UnsafeArchiveError, download

    try:
        path = download(
            args.name, args.root, sha256=args.sha256, extract=not args.no_extract, progress=not args.no_progress
        )
    except (DownloadError, ChecksumError, UnsafeArchiveError) as exc:
        print(f"colorlab: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


# --- export ---------------------------------------------------------------------------


def _add_export(sub: argparse._SubParsersAction) -> None:
    x = sub.add_parser(
        "export",
        help="write a small shipping copy of a checkpoint (weights only, float16)",
        formatter_class=Formatter,
        description="Copy a training checkpoint without its optimizer state, the trainable weights in "
        "float16 (the frozen extractor's weights come from its package), with notes stored beside them.",
        epilog="example:\n  colorlab export run.pt data/colorlab-lite0-demo.pt --held-out china,flower",
    )
    x.add_argument("checkpoint", metavar="RUN", help="the training checkpoint")
    x.add_argument("out", metavar="OUT", help="where to write the copy")
    x.add_argument("--float32", action="store_true", help="keep float32 weights")
    x.add_argument(
        "--overwrite", action="store_true", help="replace OUT if it exists (never the checkpoint being exported)"
    )
    x.add_argument(
        "--held-out", default="", metavar="NAMES", help="comma-separated photos not used in training (recorded)"
    )
    x.add_argument(
        "--temperature",
        type=float,
        default=None,
        metavar="T",
        help="a classification head's default decoding temperature in the copy (0.38 is the paper's)",
    )


def _cmd_export(args: argparse.Namespace) -> int:
    from .checkpoint import export_checkpoint

    held_out = [n for n in args.held_out.split(",") if n]
    if Path(args.out).is_dir():
        raise ValueError(f"{args.out}: is a folder; give the file name of the copy, e.g. {Path(args.out) / 'model.pt'}")
    path = export_checkpoint(
        args.checkpoint,
        args.out,
        half=not args.float32,
        extra={"held_out": held_out},
        overwrite=args.overwrite,
        temperature=args.temperature,
    )
    print(f"{args.checkpoint} -> {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


# --- lessons --------------------------------------------------------------------------


def _add_lessons(sub: argparse._SubParsersAction) -> None:
    le = sub.add_parser(
        "lessons",
        help="copy the lesson notebooks (and their figures) into a folder of yours, to open in Jupyter",
        formatter_class=Formatter,
        description="Copy the lesson notebooks, their README and figures out of this install into DEST "
        "(created if needed). A lesson you changed is never replaced without --overwrite, and a file "
        "colorlab did not copy there never; unchanged copies of an older version are brought up to date. "
        "The lessons need the notebook tools: pip install 'colorlab-koala[lessons]'.",
        epilog="example:\n  colorlab lessons ~/colorlab-lessons\n  jupyter lab ~/colorlab-lessons",
    )
    le.add_argument("dest", metavar="DEST", help="the folder to copy the lessons into")
    le.add_argument(
        "--overwrite", action="store_true", help="replace lessons you changed there (your answers in them are lost)"
    )


def _cmd_lessons(args: argparse.Namespace) -> int:
    from .lessons import copy_lessons

    done = copy_lessons(args.dest, overwrite=args.overwrite)
    print(done.summary())
    print(f"open them with: jupyter lab {done.folder}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
