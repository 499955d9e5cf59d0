"""The ``colorlab`` command (also ``python -m colorlab``): colorize, train, evaluate."""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__

if TYPE_CHECKING:
    import numpy as np

__all__ = ["main", "build_parser"]

#: The file name standing for standard input (as an image) or standard output (as `-o`).
STDIO = "-"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written; each option's default shown once, and only when it says something."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help = action.help or ""
        default = action.default
        if "(default" in help or not action.option_strings or action.required:
            return help
        if default is None or default is False or default == "" or default is argparse.SUPPRESS:
            return help
        return f"{help} (default: %(default)s)"


def _add_split(p: argparse.ArgumentParser, subset: str) -> None:
    p.add_argument(
        "--split",
        default=None,
        metavar="CSV",
        help=f"a split file (data/splits/*.csv): use its {subset!r} photos from --data",
    )
    p.add_argument("--subset", default=subset, choices=("train", "heldout"), help="which part of --split to use")


def _split_items(args: argparse.Namespace) -> list:
    """The photos of ``--split``'s ``--subset`` below ``--data`` (checksums verified)."""
    from .splits import read_split, select

    return select(read_split(args.split), args.subset, args.data)


def _add_temperature(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--temperature",
        type=float,
        default=None,
        metavar="T",
        help="classification-head models: from the mean of the colours (1) towards the most likely one (near 0); "
        "default: the model's own (0.38)",
    )


def _add_precision(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help="number format: auto = bf16 where the hardware runs it natively (CUDA GPUs, CPUs with AVX-512 BF16 "
        "or AMX), else fp32",
    )


def _add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if available)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="CPU threads (default: $COLORLAB_THREADS, else the cores not busy with other work)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="colorlab",
        description="Automatic image colorization (Deep Koalarization) for learning and use.",
        formatter_class=_Formatter,
        epilog="examples:\n  colorlab colorize old_photo.jpg -o out/\n  colorlab train --data sample --epochs 5\n"
        "  colorlab evaluate --data sample --checkpoint run.pt",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser(
        "colorize",
        help="colorize photos, writing DIR/<stem>.png at each input's size",
        formatter_class=_Formatter,
        description="Colorize photos. Each input's lightness is kept at full resolution; the model "
        "predicts the colour. A folder stands for the images below it (recursively; the output mirrors "
        "its subfolders). '-' reads one photo from standard input; '-o -' writes the PNG to standard "
        "output. Bad inputs are reported one line each and skipped; the exit code is 1 if any failed.",
        epilog="examples:\n  colorlab colorize grandma.jpg street.png -o colorized/ --saturation 1.2\n"
        "  colorlab colorize 'old photos/' -o colorized/\n"
        "  colorlab colorize grandma.jpg -o grandma-colour.png\n"
        "  cat grandma.jpg | colorlab colorize - -o - > grandma-colour.png",
    )
    c.add_argument(
        "images", nargs="+", metavar="IMG", help="image files (any size, any mode), folders, or - for standard input"
    )
    c.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="DIR|FILE|-",
        help="output folder (created if missing); for a single photo also a file name ending in an image "
        "extension, or - for standard output (PNG)",
    )
    c.add_argument(
        "--checkpoint", default=None, metavar="P", help="a colorlab checkpoint (default: the bundled demo model)"
    )
    c.add_argument("--size", type=int, default=224, help="short side the network sees (multiple of 8)")
    c.add_argument("--saturation", type=float, default=1.0, help="scale the predicted colour (0 = gray)")
    c.add_argument(
        "--overwrite", action="store_true", help="replace results that already exist (never the input photos)"
    )
    c.add_argument(
        "--hint",
        action="append",
        default=[],
        metavar="X,Y,#RRGGBB",
        help="guide the colours: the pixel at column X, row Y is this colour (repeatable; one photo only)",
    )
    c.add_argument(
        "--hints",
        default=None,
        metavar="FILE.json",
        help='hints from a file: [{"x": 10, "y": 20, "rgb": [200, 30, 30]}, ...]',
    )
    _add_precision(c)
    _add_temperature(c)
    _add_device(c)

    v = sub.add_parser(
        "colorize-video",
        help="colorize a film frame by frame, smoothing the colour in time (no flicker)",
        formatter_class=_Formatter,
        description="Colorize a video: each frame's lightness is kept; the colour is predicted in batches, "
        "smoothed over time (restarted at scene cuts) and written with the original timing and audio. "
        "The output appears only when complete. Exit codes: 0 done, 1 the input failed, 2 usage error, "
        "130 interrupted.",
        epilog="example:\n  colorlab colorize-video old_film.mp4 -o old_film_color.mp4 --batch-size 16",
    )
    v.add_argument("input", metavar="VIDEO", help="a video file (anything FFmpeg reads)")
    v.add_argument(
        "-o",
        "--output",
        default=None,
        metavar="FILE",
        help="output .mp4/.m4v/.mov/.mkv/.webm file; if omitted, <stem>_color.mp4 beside VIDEO",
    )
    v.add_argument(
        "--checkpoint", default=None, metavar="P", help="a colorlab checkpoint (default: the bundled demo model)"
    )
    v.add_argument("--batch-size", type=int, default=8, help="frames predicted together")
    v.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=True, help="smooth the colour over time")
    v.add_argument(
        "--alpha", type=float, default=0.3, help="weight of the newest frame in the moving average (1 = none)"
    )
    v.add_argument(
        "--cut-threshold", type=float, default=8.0, help="mean lightness change (L units) that counts as a scene cut"
    )
    v.add_argument("--size", type=int, default=224, help="short side the network sees (multiple of 8)")
    v.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    v.add_argument(
        "--max-pixels", type=int, default=None, metavar="N", help="largest frame accepted, in pixels (default: 8K UHD)"
    )
    v.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_device(v)

    t = sub.add_parser(
        "train",
        help="train a model on a folder of photos or the bundled samples",
        formatter_class=_Formatter,
        description="Train ColorizationNet with Adam on the paper's MSE objective. Runs on CUDA when "
        "present (bf16 autocast, channels_last), else CPU. Writes an atomic checkpoint after every "
        "epoch; --resume continues from it.",
        epilog="examples:\n  colorlab train --data sample --epochs 2 --size 64 --out run.pt\n"
        "  colorlab train --data ~/photos --epochs 30 --batch-size 64 --out run.pt --resume",
    )
    t.add_argument(
        "--data",
        required=True,
        metavar="DIR|CACHE|sample",
        help="image folder (recursive), a cache made by `colorlab prepare` (read fast, augmented on the device), "
        "or 'sample' for the bundled photos",
    )
    t.add_argument("--epochs", type=int, default=10, help="passes over the training photos")
    t.add_argument("--batch-size", type=int, default=16, help="photos per training step")
    t.add_argument("--size", type=int, default=224, help="training crop size (multiple of 8)")
    t.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    t.add_argument(
        "--lr-schedule", choices=("constant", "cosine"), default="constant", help="learning rate over the run"
    )
    t.add_argument("--loss", choices=("mse", "l1", "huber"), default="mse", help="mse is the paper's objective")
    t.add_argument(
        "--min-scale", type=float, default=0.25, help="smallest random crop, as a fraction of the photo's area"
    )
    t.add_argument(
        "--colorful-crops",
        type=int,
        default=1,
        metavar="K",
        help="take the most colourful of K random crops (favours coloured regions)",
    )
    t.add_argument(
        "--exclude", default="", metavar="NAMES", help="with --data sample: comma-separated photos to hold out"
    )
    _add_split(t, "train")
    t.add_argument(
        "--backbone", default="efficientnet_lite0", help="efficientnet_lite0, inception_v3, inception_resnet_v2 or none"
    )
    t.add_argument(
        "--head",
        choices=("regression", "classification"),
        default="regression",
        help="regression: the paper's ab output and --loss; classification: colour bins with rebalanced cross-entropy",
    )
    t.add_argument(
        "--backbone-weights", default=None, metavar="FILE", help="local weights file for an inception backbone"
    )
    t.add_argument(
        "--arch",
        choices=("paper", "unet"),
        default="paper",
        help="paper: the paper's net; unet: a decoder reading the pretrained Lite0 trunk at every scale",
    )
    t.add_argument(
        "--hints", action="store_true", help="with --arch unet: also take colour hints (trained on simulated clicks)"
    )
    t.add_argument(
        "--trainable-stages",
        type=int,
        default=0,
        metavar="K",
        help="with --arch unet: let the trunk's last K stages learn, at a tenth of --lr",
    )
    t.add_argument("--out", default="colorlab-run.pt", metavar="CKPT", help="checkpoint path")
    t.add_argument("--resume", action="store_true", help="continue from --out if it exists")
    t.add_argument("--overwrite", action="store_true", help="replace an existing --out instead of refusing to start")
    _add_precision(t)
    t.add_argument("--repeats", type=int, default=1, help="visit every image this many times per epoch")
    t.add_argument("--val-fraction", type=float, default=0.1, help="share of a folder's photos held out for validation")
    t.add_argument("--seed", type=int, default=0, help="seeds the initial weights, the crops and the split")
    t.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    t.add_argument(
        "--save-every",
        type=int,
        default=0,
        metavar="STEPS",
        help="also checkpoint every STEPS steps (0: after each epoch only)",
    )
    t.add_argument(
        "--max-steps", type=int, default=None, help="stop after this many steps (default: when --epochs are done)"
    )
    t.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="torch.compile the model (default: on for CUDA, off on the CPU); --no-compile turns it off",
    )
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_device(t)

    pr = sub.add_parser(
        "prepare",
        help="store a folder of photos once as a memory-mapped uint8 cache for fast training",
        formatter_class=_Formatter,
        description="Resize every image below DIR (short side to --size, center crop) and store it as uint8 "
        "RGB in CACHE/images.npy with an index (CACHE/index.json), in parallel. Interrupted, run the same "
        "command again to continue. Unusable and grayscale files are skipped with one warning line each and "
        "listed in the index. Train on it with `colorlab train --data CACHE`.",
        epilog="example:\n  colorlab prepare --data ~/imagenet/train --size 256 --out ~/cache/imagenet256\n"
        "  torchrun --nproc_per_node=8 -m colorlab train --data ~/cache/imagenet256 --batch-size 128",
    )
    pr.add_argument("--data", required=True, metavar="DIR", help="image folder (recursive)")
    _add_split(pr, "train")
    pr.add_argument("--out", required=True, metavar="CACHE", help="cache folder (created)")
    pr.add_argument("--size", type=int, default=256, help="stored side length (crop it to the training size later)")
    pr.add_argument("--workers", type=int, default=None, help="processes (default: all CPU cores)")
    pr.add_argument("--keep-grayscale", action="store_true", help="also store photos without colour")
    pr.add_argument(
        "--overwrite", action="store_true", help="rebuild --out if it holds another cache (other photos or size)"
    )
    pr.add_argument("--no-progress", action="store_true", help="no progress bar")

    e = sub.add_parser(
        "evaluate",
        help="PSNR, SSIM and colorfulness of a model versus the gray baseline",
        formatter_class=_Formatter,
        description="Evaluate on 256x256 center crops: the model's PSNR, SSIM and colorfulness next to "
        "the gray baseline (a = b = 0) and the truth's colorfulness.",
        epilog="example:\n  colorlab evaluate --data sample --checkpoint run.pt --json",
    )
    e.add_argument("--data", required=True, metavar="DIR|sample", help="image folder or 'sample'")
    e.add_argument("--checkpoint", default=None, metavar="P", help="checkpoint (default: the bundled demo model)")
    e.add_argument("--size", type=int, default=256, help="evaluation crop size")
    e.add_argument(
        "--only", default="", metavar="NAMES", help="with --data sample: comma-separated photos to evaluate on"
    )
    _add_split(e, "heldout")
    _add_temperature(e)
    _add_precision(e)
    e.add_argument(
        "--worst", type=int, default=5, metavar="N", help="list the N photos where the model gains least over gray"
    )
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_device(e)

    d = sub.add_parser(
        "download",
        help="download a dataset archive (Imagenette or any URL): resumable, checksummed, safely unpacked",
        formatter_class=_Formatter,
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
    d.add_argument("--no-progress", action="store_true", help="no progress bar")

    x = sub.add_parser(
        "export",
        help="write a small shipping copy of a checkpoint (weights only, float16)",
        formatter_class=_Formatter,
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
    return parser


def _images(data: str, only: str = "", split_items: list | None = None) -> dict[str, object]:
    """``{name: item}`` to evaluate; items are loaded one at a time later (paths, ``sample:NAME``)."""
    from .data import SAMPLE_PHOTOS, SAMPLE_PREFIX, find_images, item_name

    if split_items is not None:
        return {item_name(item, data): item for item in split_items}
    if data == "sample":
        known = [p.name for p in SAMPLE_PHOTOS]
        names = [n for n in only.split(",") if n] or known
        unknown = [n for n in names if n not in known]
        if unknown:
            raise ValueError(f"--only: unknown sample photo(s) {', '.join(unknown)}; known: {', '.join(known)}")
        return {n: SAMPLE_PREFIX + n for n in names}
    paths = find_images(data)
    if not paths:
        raise ValueError(f"{data}: no images found")
    return {str(p): p for p in paths}


def _model(checkpoint: str | None, device: str | None, precision: str = "auto"):
    from .checkpoint import load_model, load_pretrained
    from .device import resolve_device

    resolve_device(device)  # an unusable --device is named before any file is read
    return (
        load_model(checkpoint, device, precision=precision)
        if checkpoint
        else load_pretrained(device, precision=precision)
    )


def _expand(names: Sequence[str]) -> list[str]:
    """Names as given, with shell patterns (``'old photos/*.png'``) expanded where no file has that name."""
    import glob

    out: list[str] = []
    for name in names:
        if name != STDIO and not os.path.lexists(name) and glob.has_magic(name):
            matches = sorted(glob.glob(name, recursive=True))
            out.extend(matches or [name])  # no match: the name stays, and is reported as missing
        else:
            out.append(name)
    return out


def _colorize_plan(
    names: Sequence[str], out: Path | None, single: Path | None
) -> list[tuple[str, Path | None, str | None]]:
    """``(source, target, error)`` per photo, in the order given: files, the images below folders
    (minus any inside ``out``), and ``-``; a name that yields nothing is one entry with its error."""
    from .data import IMAGE_EXTENSIONS, find_images, is_colorlab_output

    plan: list[tuple[str, Path | None, str | None]] = []
    for name in names:
        if Path(name).is_dir():
            root = Path(name)
            every = find_images(root)
            found = [p for p in every if out is None or not p.resolve().is_relative_to(out.resolve())]
            left = [p for p in every if p not in found and not is_colorlab_output(p)]
            if left:  # photos of the user's inside the output folder: said, not silently dropped
                print(
                    f"colorlab: left out {len(left)} photo(s) inside the output folder {out} (e.g. {left[0]}); "
                    "colorize them separately or choose an -o outside the input folder",
                    file=sys.stderr,
                )
            if not found:
                plan.append(
                    (
                        name,
                        None,
                        f"{name}: no images found in this directory (looked for {', '.join(IMAGE_EXTENSIONS)})",
                    )
                )
            plan += [(str(p), out / p.relative_to(root).with_suffix(".png") if out else single, None) for p in found]
        else:
            stem = "stdin" if name == STDIO else Path(name).stem
            plan.append((name, out / f"{stem}.png" if out else single, None))
    return plan


def _plan_problems(plan: list[tuple[str, Path | None, str | None]], overwrite: bool) -> list[str]:
    """Why the plan would lose data: two photos onto one output, an input photo replaced (never
    allowed), a file colorlab did not write replaced (never allowed), an earlier result replaced
    (only with ``--overwrite``)."""
    from .data import is_colorlab_output
    from .files import replace_problem

    problems, by_target = [], {}
    inputs = [s for s, _, e in plan if s != STDIO and not e]
    for source, target, error in plan:
        if target is None or error:
            continue
        key = os.path.normcase(os.path.abspath(target))
        if key in by_target:
            problems.append(
                f"{by_target[key]} and {source} would both be written to {target}; colorize them into separate folders"
            )
        by_target[key] = source
        if source != STDIO and target.exists() and os.path.exists(source) and os.path.samefile(source, target):
            problems.append(f"{source}: colorizing it to {target} would replace the photo itself; choose another -o")
            continue
        problem = replace_problem(
            target,
            overwrite=overwrite,
            inputs=inputs,
            ours=is_colorlab_output,
            how="pass --overwrite to replace it, or choose another -o",
        )
        if problem:
            problems.append(problem)
    return problems


def _read_stdin_photo() -> np.ndarray:
    """The photo piped into standard input, as ``(H, W, 3)`` or ``(H, W)`` uint8."""
    from .data import load_image_bytes

    return load_image_bytes(sys.stdin.buffer.read(), "<stdin>", gray_ok=True)


def _colorize_options(args: argparse.Namespace) -> str | None:
    """Why the colorize options are unusable (one line), or ``None``."""
    from .checks import check_saturation, check_size, check_temperature

    try:
        check_size(args.size, "--size")
        if hasattr(args, "saturation"):
            check_saturation(args.saturation, "--saturation")
        if getattr(args, "temperature", None) is not None:
            check_temperature(args.temperature, "--temperature")
    except ValueError as exc:
        return str(exc)
    return None


def _hints(args: argparse.Namespace) -> list:
    """``--hint X,Y,#RRGGBB`` (repeatable) and ``--hints FILE.json`` as one list (colours checked)."""
    from .hints import parse_colour, read_hints_file

    hints: list = []
    for text in args.hint:
        parts = text.split(",")
        try:
            if len(parts) != 3:
                raise ValueError
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            raise ValueError(f"--hint {text!r}: expected X,Y,#RRGGBB, e.g. --hint 120,80,#d02020") from None
        hints.append((x, y, parse_colour(parts[2])))
    if args.hints:
        hints += read_hints_file(args.hints)
    return hints


def _cmd_colorize(args: argparse.Namespace) -> int:
    from PIL import Image

    from .checkpoint import CheckpointError
    from .data import IMAGE_EXTENSIONS, ImageLoadError, write_image
    from .files import check_writable
    from .infer import colorize

    names = _expand(args.images)
    problem = _colorize_options(args)
    if problem is None and names.count(STDIO) > 1:
        problem = "'-' (standard input) can be given once"
    to_stdout = args.output == STDIO
    out_path = Path(args.output)
    to_file = not to_stdout and out_path.suffix.lower() in IMAGE_EXTENSIONS and not out_path.is_dir()
    out = None if to_stdout or to_file else out_path
    if problem is None and out is not None and out.exists() and not out.is_dir():
        problem = f"-o {out}: is a file; give a folder for the results (or a new .png name for one photo)"
    if problem is None and out is not None:
        problem = check_writable(out / "colorized.png")
    plan = _colorize_plan(names, out, None if to_stdout else out_path)
    photos = [p for p in plan if p[2] is None]
    if problem is None and (to_stdout or to_file) and len(photos) != 1:
        problem = f"-o {args.output} takes exactly one photo, got {len(photos)}; give a folder to -o for several"
    if problem is None and to_stdout and sys.stdout is None:
        problem = "-o - writes PNG bytes to standard output, which is closed; give a file or folder to -o"
    if problem is None and STDIO in names and sys.stdin is None:
        problem = "'-' reads a photo from standard input, which is closed; give the photo's path instead"
    if problem is None and to_stdout and sys.stdout.isatty():
        problem = "-o - writes PNG bytes: redirect them, e.g. colorlab colorize photo.jpg -o - > out.png"
    if problem is None and STDIO in names and sys.stdin.isatty():
        problem = "'-' reads a photo from standard input: pipe one in, e.g. colorlab colorize - -o out/ < photo.jpg"
    hints = None
    if problem is None and (args.hint or args.hints):
        try:
            hints = _hints(args)
        except ValueError as exc:
            problem = str(exc)
        if problem is None and len(photos) != 1:
            problem = f"hints are for one photo (their x, y are its pixels), got {len(photos)} photos"
    problems = [problem] if problem else _plan_problems(plan, args.overwrite)
    if problems:
        for line in problems[:10]:
            print(f"colorlab: {line}", file=sys.stderr)
        return 2
    try:
        model = _model(args.checkpoint, args.device, args.precision)
    except (CheckpointError, ValueError) as exc:
        print(f"colorlab: {exc}", file=sys.stderr)
        return 2
    from .hints import NO_HINTS_MESSAGE, takes_hints

    if hints is not None and not takes_hints(model):
        print(f"colorlab: {args.checkpoint or 'the model'}: {NO_HINTS_MESSAGE}", file=sys.stderr)
        return 2
    failed = 0
    for name, target, error in plan:
        label = "<stdin>" if name == STDIO else name
        try:
            if error:
                raise ValueError(error)
            source = _read_stdin_photo() if name == STDIO else name
            result = colorize(
                source,
                model,
                size=args.size,
                saturation=args.saturation,
                temperature=args.temperature,
                precision=args.precision,
                hints=hints,
            )
            if to_stdout:
                buffer = io.BytesIO()
                Image.fromarray(result).save(buffer, format="PNG")
                sys.stdout.flush()
                sys.stdout.buffer.write(buffer.getvalue())
                sys.stdout.buffer.flush()
                continue
            write_image(result, target, overwrite=args.overwrite)
            print(f"{label} -> {target}")
        except (ImageLoadError, OSError, ValueError) as exc:
            failed += 1
            msg = str(exc) if str(exc).startswith(str(label)) else f"{label}: {exc}"
            print(f"colorlab: {msg}", file=sys.stderr)
    return 1 if failed else 0


def _cmd_colorize_video(args: argparse.Namespace) -> int:
    from .checkpoint import CheckpointError
    from .checks import check_size
    from .video import VideoError, colorize_video, probe

    check_size(args.size, "--size")  # before anything is read
    src = Path(args.input)
    out = Path(args.output) if args.output else src.with_name(f"{src.stem}_color.mp4")
    try:
        limit = {} if args.max_pixels is None else {"max_pixels": args.max_pixels}
        probe(src, **limit)  # a bad input fails before the model loads
        model = _model(args.checkpoint, args.device)
        result = colorize_video(
            src,
            out,
            model,
            batch_size=args.batch_size,
            smooth=args.smooth,
            alpha=args.alpha,
            cut_threshold=args.cut_threshold,
            size=args.size,
            overwrite=args.overwrite,
            progress=not args.no_progress,
            **limit,
        )
    except VideoError as exc:
        print(f"colorlab: {exc}", file=sys.stderr)
        return 1
    except (CheckpointError, ValueError, FileExistsError, FileNotFoundError) as exc:
        print(f"colorlab: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"colorlab: {out}: could not write: {exc}", file=sys.stderr)
        return 1
    print(result)
    return 0


def _cmd_prepare(args: argparse.Namespace) -> int:
    from .cache import prepare, read_index

    try:
        out = prepare(
            args.data,
            args.out,
            size=args.size,
            workers=args.workers,
            skip_grayscale=not args.keep_grayscale,
            progress=not args.no_progress,
            files=_split_items(args) if args.split else None,
            overwrite=args.overwrite,
        )
    except KeyboardInterrupt:
        print("colorlab: interrupted; what is stored is kept: run the same command again to continue", file=sys.stderr)
        return 130
    index = read_index(out)
    print(
        f"{out}: {index['stored']} image(s) stored at {index['size']}x{index['size']}, {len(index['skipped'])} skipped"
    )
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .engine import distributed

    # Under torchrun: join the process group (NCCL on CUDA, gloo on the CPU); one process per GPU.
    args.device = distributed.init_from_env(args.device)
    try:
        return _train(args)
    finally:
        distributed.cleanup()


def _train_cached(args: argparse.Namespace):
    from .cache import CachedDataset
    from .data import split_items

    full = CachedDataset(
        args.data, size=args.size, scale=(args.min_scale, 1.0), seed=args.seed, colorful_crops=args.colorful_crops
    )
    if full.cache_size < args.size:
        print(
            f"colorlab: warning: the cache stores {full.cache_size}px images; training crops of {args.size}px are upscaled",
            file=sys.stderr,
        )
    train_idx, val_idx, _ = split_items(list(range(len(full))), args.val_fraction, 0.0, args.seed)
    train_set = full.subset(train_idx)
    val_set = full.subset(val_idx, augment=False) if val_idx else None
    return train_set, val_set


def _train(args: argparse.Namespace) -> int:
    from .cache import is_cache
    from .data import ColorDataset, find_images, sample_images, split_items

    if args.colorful_crops < 1:
        raise ValueError(f"--colorful-crops must be at least 1, got {args.colorful_crops}")
    if not 0 < args.min_scale <= 1:
        raise ValueError(f"--min-scale is a fraction of the photo's area, above 0 and at most 1; got {args.min_scale}")
    if args.repeats < 1:
        raise ValueError(f"--repeats must be at least 1, got {args.repeats}")
    if args.data != "sample" and is_cache(args.data):
        train_set, val_set = _train_cached(args)
        return _fit(args, train_set, val_set)
    excluded = [n for n in args.exclude.split(",") if n]
    if args.data == "sample":
        photos = sample_images()
        unknown = [n for n in excluded if n not in photos]
        if unknown:
            raise ValueError(f"--exclude: unknown sample photo(s) {unknown}; known: {sorted(photos)}")
        items = [img for name, img in photos.items() if name not in excluded]
    elif args.split:
        items = _split_items(args)
    else:
        items = find_images(args.data)
    if not items:
        raise ValueError(f"{args.data}: no images found")
    if args.data == "sample":
        train_items, val_items = items, items  # too few photos to hold any out; see data/README.md
    else:
        train_items, val_items, _ = split_items(items, args.val_fraction, 0.0, args.seed)
    train_set = ColorDataset(
        train_items,
        size=args.size,
        repeats=args.repeats,
        seed=args.seed,
        scale=(args.min_scale, 1.0),
        colorful_crops=args.colorful_crops,
    )
    val_set = ColorDataset(val_items, size=args.size, augment=False) if val_items else None
    return _fit(args, train_set, val_set)


def _fit(args: argparse.Namespace, train_set, val_set) -> int:
    import torch

    from .engine import NonFiniteLossError, NoUsablePhotosError, TrainConfig, Trainer, distributed
    from .model import ModelConfig, create_model

    torch.manual_seed(args.seed)  # the initial weights too: the same --seed gives the same run
    cfg = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        lr_schedule=args.lr_schedule,
        loss=args.loss,
        seed=args.seed,
        num_workers=args.workers,
        device=args.device,
        precision=args.precision,
        compile=args.compile,
        save_every=args.save_every,
        max_steps=args.max_steps,
        progress=not args.no_progress,
    )
    model = create_model(
        ModelConfig(
            backbone=args.backbone,
            backbone_weights=args.backbone_weights,
            head=args.head,
            arch=args.arch,
            hints=args.hints,
            trainable_stages=args.trainable_stages,
        )
    )
    # The trainer checks --out (writable; --resume or --overwrite if it exists) before anything slow happens.
    trainer = Trainer(model, train_set, val_set, cfg, checkpoint=args.out, resume=args.resume, overwrite=args.overwrite)
    if args.head == "classification" and trainer.step == 0:
        from .colorbins import set_weights_from

        set_weights_from(trainer.model, train_set)  # how rare each colour is in these photos
    try:
        history = trainer.fit()
    except (NonFiniteLossError, NoUsablePhotosError) as exc:
        print(f"colorlab: {exc}", file=sys.stderr)
        return 1
    if trainer.interrupted:
        return 130
    if not distributed.is_main():
        return 0
    if history:
        print(f"done: step {trainer.step}, last train loss {history[-1]['train_loss']:.4f}; checkpoint {args.out}")
    skipped = getattr(train_set, "skipped", ())
    if len(skipped):
        print(f"{len(skipped)} file(s) skipped (see warnings above)")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .checks import check_temperature
    from .metrics import evaluate, format_table, to_json

    if args.size < 8:
        raise ValueError(f"--size must be at least 8, got {args.size}")
    if args.temperature is not None:
        check_temperature(args.temperature, "--temperature")
    images = _images(args.data, args.only, _split_items(args) if args.split else None)
    model = _model(args.checkpoint, args.device, args.precision)
    result = evaluate(model, images, size=args.size, temperature=args.temperature)
    print(to_json(result) if args.json else format_table(result, worst=args.worst))
    for name, why in result["failed"].items():
        print(f"colorlab: {name}: {why}", file=sys.stderr)
    return 1 if result["failed"] else 0


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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``colorlab`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    handlers = {
        "colorize": _cmd_colorize,
        "colorize-video": _cmd_colorize_video,
        "train": _cmd_train,
        "evaluate": _cmd_evaluate,
        "prepare": _cmd_prepare,
        "export": _cmd_export,
        "download": _cmd_download,
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
