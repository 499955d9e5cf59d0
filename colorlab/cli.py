"""The ``colorlab`` command (also ``python -m colorlab``): colorize, train, evaluate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["main", "build_parser"]


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def _add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=None, help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if available)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="colorlab",
        description="Automatic image colorization (Deep Koalarization) for learning and use.",
        formatter_class=_Formatter,
        epilog="examples:\n  colorlab colorize old_photo.jpg -o out/\n  colorlab train --data sample --epochs 5\n"
        "  colorlab evaluate --data sample --checkpoint run.pt",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser(
        "colorize",
        help="colorize photos, writing DIR/<stem>.png at each input's size",
        formatter_class=_Formatter,
        description="Colorize photos. Each input's lightness is kept at full resolution; the model "
        "predicts the colour. Bad inputs are reported one line each and skipped; the exit code is 1 "
        "if any failed.",
        epilog="example:\n  colorlab colorize grandma.jpg 'old photos/*.png' -o colorized/ --saturation 1.2",
    )
    c.add_argument("images", nargs="+", metavar="IMG", help="image files (any size, any mode)")
    c.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder (created if missing)")
    c.add_argument("--checkpoint", default=None, metavar="P", help="a colorlab checkpoint (default: the bundled demo model)")
    c.add_argument("--size", type=int, default=224, help="short side the network sees (multiple of 8)")
    c.add_argument("--saturation", type=float, default=1.0, help="scale the predicted colour (0 = gray)")
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
    v.add_argument("-o", "--output", default=None, metavar="FILE", help="output .mp4/.m4v/.mov/.mkv/.webm file; if omitted, <stem>_color.mp4 beside VIDEO")
    v.add_argument("--checkpoint", default=None, metavar="P", help="a colorlab checkpoint (default: the bundled demo model)")
    v.add_argument("--batch-size", type=int, default=8, help="frames predicted together")
    v.add_argument("--smooth", action=argparse.BooleanOptionalAction, default=True, help="smooth the colour over time")
    v.add_argument("--alpha", type=float, default=0.3, help="weight of the newest frame in the moving average (1 = none)")
    v.add_argument("--cut-threshold", type=float, default=8.0, help="mean lightness change (L units) that counts as a scene cut")
    v.add_argument("--size", type=int, default=224, help="short side the network sees (multiple of 8)")
    v.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
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
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--size", type=int, default=224, help="training crop size (multiple of 8)")
    t.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    t.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant")
    t.add_argument("--loss", choices=("mse", "l1", "huber"), default="mse", help="mse is the paper's objective")
    t.add_argument("--min-scale", type=float, default=0.25, help="smallest random crop, as a fraction of the photo's area")
    t.add_argument(
        "--colorful-crops",
        type=int,
        default=1,
        metavar="K",
        help="take the most colourful of K random crops (favours coloured regions; not with a prepared cache)",
    )
    t.add_argument("--exclude", default="", metavar="NAMES", help="with --data sample: comma-separated photos to hold out")
    t.add_argument("--backbone", default="efficientnet_lite0", help="efficientnet_lite0, inception_v3, inception_resnet_v2 or none")
    t.add_argument("--backbone-weights", default=None, metavar="FILE", help="local weights file for an inception backbone")
    t.add_argument("--out", default="colorlab-run.pt", metavar="CKPT", help="checkpoint path")
    t.add_argument("--resume", action="store_true", help="continue from --out if it exists")
    t.add_argument("--repeats", type=int, default=1, help="visit every image this many times per epoch")
    t.add_argument("--val-fraction", type=float, default=0.1)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    t.add_argument("--save-every", type=int, default=0, metavar="STEPS", help="also checkpoint every STEPS steps")
    t.add_argument("--max-steps", type=int, default=None)
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
    pr.add_argument("--out", required=True, metavar="CACHE", help="cache folder (created)")
    pr.add_argument("--size", type=int, default=256, help="stored side length (crop it to the training size later)")
    pr.add_argument("--workers", type=int, default=None, help="processes (default: all CPU cores)")
    pr.add_argument("--keep-grayscale", action="store_true", help="also store photos without colour")
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
    e.add_argument("--only", default="", metavar="NAMES", help="with --data sample: comma-separated photos to evaluate on")
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_device(e)

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
    x.add_argument("--held-out", default="", metavar="NAMES", help="comma-separated photos not used in training (recorded)")
    return parser


def _images(data: str, only: str = "") -> dict[str, object]:
    from .data import find_images, sample_images

    if data == "sample":
        names = [n for n in only.split(",") if n]
        return dict(sample_images(names or None))
    paths = find_images(data)
    if not paths:
        raise SystemExit(f"colorlab: {data}: no images found")
    return {str(p): p for p in paths}


def _model(checkpoint: str | None, device: str | None):
    from .infer import load_model, load_pretrained

    return load_model(checkpoint, device) if checkpoint else load_pretrained(device)


def _cmd_colorize(args: argparse.Namespace) -> int:
    from PIL import Image

    from .data import ImageLoadError
    from .infer import colorize
    from .train import CheckpointError

    try:
        model = _model(args.checkpoint, args.device)
    except CheckpointError as exc:
        print(f"colorlab: {exc}", file=sys.stderr)
        return 2
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in args.images:
        try:
            result = colorize(name, model, size=args.size, saturation=args.saturation)
            target = out / f"{Path(name).stem}.png"
            Image.fromarray(result).save(target)
            print(f"{name} -> {target}")
        except (ImageLoadError, OSError, ValueError) as exc:
            failed += 1
            msg = str(exc) if str(exc).startswith(str(name)) else f"{name}: {exc}"
            print(f"colorlab: {msg}", file=sys.stderr)
    return 1 if failed else 0


def _cmd_colorize_video(args: argparse.Namespace) -> int:
    from .train import CheckpointError
    from .video import VideoError, colorize_video, probe

    src = Path(args.input)
    out = Path(args.output) if args.output else src.with_name(f"{src.stem}_color.mp4")
    try:
        probe(src)  # a bad input fails before the model loads
        model = _model(args.checkpoint, args.device)
        result = colorize_video(
            src, out, model, batch_size=args.batch_size, smooth=args.smooth, alpha=args.alpha,
            cut_threshold=args.cut_threshold, size=args.size, overwrite=args.overwrite, progress=not args.no_progress,
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
            args.data, args.out, size=args.size, workers=args.workers,
            skip_grayscale=not args.keep_grayscale, progress=not args.no_progress,
        )
    except (ValueError, FileNotFoundError) as exc:
        print(f"colorlab: {exc}", file=sys.stderr)
        return 2
    index = read_index(out)
    print(f"{out}: {index['stored']} image(s) stored at {index['size']}x{index['size']}, {len(index['skipped'])} skipped")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from . import distributed

    # Under torchrun: join the process group (NCCL on CUDA, gloo on the CPU); one process per GPU.
    args.device = distributed.init_from_env(args.device)
    try:
        return _train(args)
    finally:
        distributed.cleanup()


def _train_cached(args: argparse.Namespace):
    from .cache import CachedDataset
    from .data import split_items

    full = CachedDataset(args.data, size=args.size, scale=(args.min_scale, 1.0))
    if full.cache_size < args.size:
        print(f"colorlab: warning: the cache stores {full.cache_size}px images; training crops of {args.size}px are upscaled", file=sys.stderr)
    train_idx, val_idx, _ = split_items(list(range(len(full))), args.val_fraction, 0.0, args.seed)
    train_set = full.subset(train_idx)
    val_set = full.subset(val_idx, augment=False) if val_idx else None
    return train_set, val_set


def _train(args: argparse.Namespace) -> int:
    from .cache import is_cache
    from .data import ColorDataset, sample_images, split_items, find_images

    if args.colorful_crops < 1:
        print(f"colorlab: --colorful-crops must be at least 1, got {args.colorful_crops}", file=sys.stderr)
        return 2
    if args.data != "sample" and is_cache(args.data):
        if args.colorful_crops > 1:
            print("colorlab: --colorful-crops works on photo folders and the sample photos, not on a prepared cache", file=sys.stderr)
            return 2
        train_set, val_set = _train_cached(args)
        return _fit(args, train_set, val_set)
    excluded = [n for n in args.exclude.split(",") if n]
    if args.data == "sample":
        photos = sample_images()
        unknown = [n for n in excluded if n not in photos]
        if unknown:
            print(f"colorlab: --exclude: unknown sample photo(s) {unknown}; known: {sorted(photos)}", file=sys.stderr)
            return 2
        items = [img for name, img in photos.items() if name not in excluded]
    else:
        items = find_images(args.data)
    if not items:
        print(f"colorlab: {args.data}: no images found", file=sys.stderr)
        return 2
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
    from . import distributed
    from .model import ColorizationNet, ModelConfig
    from .train import NonFiniteLossError, TrainConfig, Trainer

    import torch

    torch.manual_seed(args.seed)  # the initial weights too: the same --seed gives the same run
    model = ColorizationNet(ModelConfig(backbone=args.backbone, backbone_weights=args.backbone_weights))
    cfg = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        lr_schedule=args.lr_schedule,
        loss=args.loss,
        seed=args.seed,
        num_workers=args.workers,
        device=args.device,
        compile=args.compile,
        save_every=args.save_every,
        max_steps=args.max_steps,
        progress=not args.no_progress,
    )
    trainer = Trainer(model, train_set, val_set, cfg, checkpoint=args.out, resume=args.resume)
    try:
        history = trainer.fit()
    except NonFiniteLossError as exc:
        print(f"colorlab: {exc}", file=sys.stderr)
        return 1
    if not distributed.is_main():
        return 0
    if history:
        print(f"done: step {trainer.step}, last train loss {history[-1]['train_loss']:.4f}; checkpoint {args.out}")
    if len(trainer.skipped):
        print(f"{len(trainer.skipped)} file(s) skipped (see warnings above)")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .metrics import evaluate, format_table, to_json

    model = _model(args.checkpoint, args.device)
    result = evaluate(model, _images(args.data, args.only), size=args.size)
    print(to_json(result) if args.json else format_table(result))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .train import CheckpointError, export_checkpoint

    held_out = [n for n in args.held_out.split(",") if n]
    try:
        path = export_checkpoint(args.checkpoint, args.out, half=not args.float32, extra={"held_out": held_out})
    except CheckpointError as exc:
        print(f"colorlab: {exc}", file=sys.stderr)
        return 2
    print(f"{args.checkpoint} -> {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``colorlab`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    handlers = {"colorize": _cmd_colorize, "colorize-video": _cmd_colorize_video, "train": _cmd_train, "evaluate": _cmd_evaluate, "prepare": _cmd_prepare, "export": _cmd_export}
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        print("colorlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
