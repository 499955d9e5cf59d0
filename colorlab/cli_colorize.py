"""The ``colorize`` and ``colorize-video`` commands: their options, checks and runs.

``colorize`` turns photos (files, folders, standard input) into colour PNGs, checking first
that nothing would be lost (two photos onto one output, an input replaced, a file that is not
colorlab's replaced); ``colorize-video`` hands a film to :func:`colorlab.video.colorize_video`.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .cli_options import Formatter, add_device, add_no_progress, add_precision, add_temperature, command_model

if TYPE_CHECKING:
    import numpy as np

#: The file name standing for standard input (as an image) or standard output (as `-o`).
STDIO = "-"


def _add_checkpoint(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint", default=None, metavar="P", help="a colorlab checkpoint (default: the bundled demo model)"
    )


def _add_network_size(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", type=int, default=224, help="short side the network sees (multiple of 8)")


# --- colorize -------------------------------------------------------------------------


def add_colorize(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser(
        "colorize",
        help="colorize photos, writing DIR/<stem>.png at each input's size",
        formatter_class=Formatter,
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
    _add_checkpoint(c)
    _add_network_size(c)
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
    add_precision(c)
    add_temperature(c)
    add_device(c)


def cmd_colorize(args: argparse.Namespace) -> int:
    from .checkpoint import CheckpointError
    from .images import IMAGE_EXTENSIONS

    names = _expand(args.images)
    to_stdout = args.output == STDIO
    out_path = Path(args.output)
    to_file = not to_stdout and out_path.suffix.lower() in IMAGE_EXTENSIONS and not out_path.is_dir()
    out = None if to_stdout or to_file else out_path  # the output folder, if the results go into one
    problem = _options_problem(args, names, out)
    plan = _colorize_plan(names, out, None if to_stdout else out_path)
    photos = [p for p in plan if p[2] is None]
    if problem is None:
        problem = _stdio_problem(args, names, len(photos), to_stdout, to_file)
    hints = None
    if problem is None and (args.hint or args.hints):
        hints, problem = _checked_hints(args, len(photos))
    problems = [problem] if problem else _plan_problems(plan, args.overwrite)
    if problems:
        for line in problems[:10]:
            print(f"colorlab: {line}", file=sys.stderr)
        return 2
    try:
        model = command_model(args.checkpoint, args.device, args.precision)
    except (CheckpointError, ValueError) as exc:
        print(f"colorlab: {exc}", file=sys.stderr)
        return 2
    from .hints import NO_HINTS_MESSAGE, takes_hints

    if hints is not None and not takes_hints(model):
        print(f"colorlab: {args.checkpoint or 'the model'}: {NO_HINTS_MESSAGE}", file=sys.stderr)
        return 2
    failed = _colorize_each(args, plan, model, hints, to_stdout)
    return 1 if failed else 0


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


def _options_problem(args: argparse.Namespace, names: Sequence[str], out: Path | None) -> str | None:
    """Why the options, the inputs' ``-`` or the output folder ``out`` are unusable (one line), or ``None``."""
    from .files import check_writable

    problem = _colorize_options(args)
    if problem is not None:
        return problem
    if names.count(STDIO) > 1:
        return "'-' (standard input) can be given once"
    if out is None:
        return None
    if out.exists() and not out.is_dir():
        return f"-o {out}: is a file; give a folder for the results (or a new .png name for one photo)"
    return check_writable(out / "colorized.png")


def _stdio_problem(
    args: argparse.Namespace, names: Sequence[str], photos: int, to_stdout: bool, to_file: bool
) -> str | None:
    """Why one output file, standard output or standard input cannot be used as asked, or ``None``."""
    if (to_stdout or to_file) and photos != 1:
        return f"-o {args.output} takes exactly one photo, got {photos}; give a folder to -o for several"
    if to_stdout and sys.stdout is None:
        return "-o - writes PNG bytes to standard output, which is closed; give a file or folder to -o"
    if STDIO in names and sys.stdin is None:
        return "'-' reads a photo from standard input, which is closed; give the photo's path instead"
    if to_stdout and sys.stdout.isatty():
        return "-o - writes PNG bytes: redirect them, e.g. colorlab colorize photo.jpg -o - > out.png"
    if STDIO in names and sys.stdin.isatty():
        return "'-' reads a photo from standard input: pipe one in, e.g. colorlab colorize - -o out/ < photo.jpg"
    return None


def _colorize_plan(
    names: Sequence[str], out: Path | None, single: Path | None
) -> list[tuple[str, Path | None, str | None]]:
    """``(source, target, error)`` per photo, in the order given: files, the images below folders
    (minus any inside ``out``), and ``-``; a name that yields nothing is one entry with its error."""
    from .images import IMAGE_EXTENSIONS, find_images, is_colorlab_output

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
    from .files import replace_problem
    from .images import is_colorlab_output

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


def _checked_hints(args: argparse.Namespace, photos: int) -> tuple[list | None, str | None]:
    """(the hints, why they cannot be used or ``None``); hints need exactly one photo."""
    try:
        hints = _hints(args)
    except ValueError as exc:
        return None, str(exc)
    if photos != 1:
        return hints, f"hints are for one photo (their x, y are its pixels), got {photos} photos"
    return hints, None


def _read_stdin_photo() -> np.ndarray:
    """The photo piped into standard input, as ``(H, W, 3)`` or ``(H, W)`` uint8."""
    from .images import load_image_bytes

    return load_image_bytes(sys.stdin.buffer.read(), "<stdin>", gray_ok=True)


def _write_png_to_stdout(rgb: np.ndarray) -> None:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    sys.stdout.flush()
    sys.stdout.buffer.write(buffer.getvalue())
    sys.stdout.buffer.flush()


def _colorize_each(
    args: argparse.Namespace,
    plan: list[tuple[str, Path | None, str | None]],
    model,
    hints: list | None,
    to_stdout: bool,
) -> int:
    """Colorize and write every photo of the plan, one line per result or failure; returns how many failed."""
    from .images import ImageLoadError, write_image
    from .infer import colorize

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
                _write_png_to_stdout(result)
                continue
            write_image(result, target, overwrite=args.overwrite)
            print(f"{label} -> {target}")
        except (ImageLoadError, OSError, ValueError) as exc:
            failed += 1
            msg = str(exc) if str(exc).startswith(str(label)) else f"{label}: {exc}"
            print(f"colorlab: {msg}", file=sys.stderr)
    return failed


# --- colorize-video -------------------------------------------------------------------


def add_colorize_video(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser(
        "colorize-video",
        help="colorize a film frame by frame, smoothing the colour in time (no flicker)",
        formatter_class=Formatter,
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
    _add_checkpoint(v)
    v.add_argument("--batch-size", type=int, default=8, help="frames predicted together")
    v.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=True, help="smooth the colour over time")
    v.add_argument(
        "--alpha", type=float, default=0.3, help="weight of the newest frame in the moving average (1 = none)"
    )
    v.add_argument(
        "--cut-threshold", type=float, default=8.0, help="mean lightness change (L units) that counts as a scene cut"
    )
    _add_network_size(v)
    v.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    v.add_argument(
        "--max-pixels", type=int, default=None, metavar="N", help="largest frame accepted, in pixels (default: 8K UHD)"
    )
    add_no_progress(v)
    add_device(v)


def cmd_colorize_video(args: argparse.Namespace) -> int:
    from .checkpoint import CheckpointError
    from .checks import check_size
    from .video import VideoError, colorize_video, probe

    check_size(args.size, "--size")  # before anything is read
    src = Path(args.input)
    out = Path(args.output) if args.output else src.with_name(f"{src.stem}_color.mp4")
    try:
        limit = {} if args.max_pixels is None else {"max_pixels": args.max_pixels}
        probe(src, **limit)  # a bad input fails before the model loads
        model = command_model(args.checkpoint, args.device)
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
