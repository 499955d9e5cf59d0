"""The ``prepare``, ``train`` and ``evaluate`` commands: their options and runs.

``prepare`` stores a folder of photos as a memory-mapped cache (:mod:`colorlab.cache`);
``train`` builds the datasets (sample photos, a folder, a split file or a cache) and runs the
:class:`colorlab.engine.Trainer`, under ``torchrun`` too; ``evaluate`` measures a model against
the gray baseline (:mod:`colorlab.metrics`).
"""

from __future__ import annotations

import argparse
import sys

from .cli_options import Formatter, add_device, add_no_progress, add_precision, add_temperature, command_model


def _add_split(p: argparse.ArgumentParser, subset: str) -> None:
    p.add_argument(
        "--split",
        default=None,
        metavar="NAME|CSV",
        help=f"a bundled split by name (imagenet-sample: the paper nets' photos; photo-mix: the U-Nets') or a "
        f"split CSV file: use its {subset!r} photos from --data",
    )
    p.add_argument("--subset", default=subset, choices=("train", "heldout"), help="which part of --split to use")


def _split_items(args: argparse.Namespace) -> list:
    """The photos of ``--split``'s ``--subset`` below ``--data`` (checksums verified)."""
    from .resources import find_split
    from .splits import read_split, select

    return select(read_split(find_split(args.split)), args.subset, args.data)


# --- train ----------------------------------------------------------------------------


def add_train(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser(
        "train",
        help="train a model on a folder of photos or the bundled samples",
        formatter_class=Formatter,
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
        "or 'sample' for the 12 bundled photos",
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
    _add_model_options(t)
    t.add_argument("--out", default="colorlab-run.pt", metavar="CKPT", help="checkpoint path")
    t.add_argument("--resume", action="store_true", help="continue from --out if it exists")
    t.add_argument("--overwrite", action="store_true", help="replace an existing --out instead of refusing to start")
    add_precision(t)
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
    add_no_progress(t, "no progress bars")
    add_device(t)


def _add_model_options(t: argparse.ArgumentParser) -> None:
    """What network ``train`` builds: backbone, head, architecture, hints."""
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


def cmd_train(args: argparse.Namespace) -> int:
    from .engine import distributed

    # Under torchrun: join the process group (NCCL on CUDA, gloo on the CPU); one process per GPU.
    args.device = distributed.init_from_env(args.device)
    try:
        return _train(args)
    finally:
        distributed.cleanup()


def _train_cached(args: argparse.Namespace):
    from .cache import CachedDataset
    from .splits import split_items

    full = CachedDataset(
        args.data, size=args.size, scale=(args.min_scale, 1.0), seed=args.seed, colorful_crops=args.colorful_crops
    )
    if full.cache_size < args.size:
        print(
            f"colorlab: warning: the cache stores {full.cache_size}px images; "
            f"training crops of {args.size}px are upscaled",
            file=sys.stderr,
        )
    train_idx, val_idx, _ = split_items(list(range(len(full))), args.val_fraction, 0.0, args.seed)
    train_set = full.subset(train_idx)
    val_set = full.subset(val_idx, augment=False) if val_idx else None
    return train_set, val_set


def _train(args: argparse.Namespace) -> int:
    from .cache import is_cache
    from .data import ColorDataset
    from .images import find_images
    from .samples import sample_images
    from .splits import split_items

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
    from .model import ModelConfig
    from .transfer import create_model

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
    if len(train_set.skipped):  # a folder's files skipped now (warned above), or a cache's left out by prepare
        print(f"{len(train_set.skipped)} file(s) left out as unusable (see the warnings, or the cache's index.json)")
    return 0


# --- prepare --------------------------------------------------------------------------


def add_prepare(sub: argparse._SubParsersAction) -> None:
    pr = sub.add_parser(
        "prepare",
        help="store a folder of photos once as a memory-mapped uint8 cache for fast training",
        formatter_class=Formatter,
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
    add_no_progress(pr)


def cmd_prepare(args: argparse.Namespace) -> int:
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


# --- evaluate -------------------------------------------------------------------------


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser(
        "evaluate",
        help="PSNR, SSIM and colorfulness of a model versus the gray baseline",
        formatter_class=Formatter,
        description="Evaluate on 256x256 center crops: the model's PSNR, SSIM and colorfulness next to "
        "the gray baseline (a = b = 0) and the truth's colorfulness. Photos a shipped demo model trained on "
        "(the 'train' photos of the bundled splits, imagenet-sample and photo-mix) are marked with *, and the "
        "summary says how many were held out: scores on training photos flatter the demo models.",
        epilog="examples:\n  colorlab evaluate --data sample --checkpoint run.pt --json\n"
        "  colorlab evaluate --data sample --only china,flower\n"
        "  colorlab evaluate --data ~/imagenet-sample-images --split imagenet-sample",
    )
    e.add_argument(
        "--data",
        required=True,
        metavar="DIR|sample",
        help="image folder, or 'sample' for the 12 bundled photos (10 of them trained the demo models; "
        "china and flower are held out)",
    )
    e.add_argument("--checkpoint", default=None, metavar="P", help="checkpoint (default: the bundled demo model)")
    e.add_argument("--size", type=int, default=256, help="evaluation crop size")
    e.add_argument(
        "--only", default="", metavar="NAMES", help="with --data sample: comma-separated photos to evaluate on"
    )
    _add_split(e, "heldout")
    add_temperature(e)
    add_precision(e)
    e.add_argument(
        "--worst", type=int, default=5, metavar="N", help="list the N photos where the model gains least over gray"
    )
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_device(e)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .checks import check_temperature
    from .metrics import evaluate, format_table, to_json

    if args.size < 8:
        raise ValueError(f"--size must be at least 8, got {args.size}")
    if args.temperature is not None:
        check_temperature(args.temperature, "--temperature")
    images = _images(args.data, args.only, _split_items(args) if args.split else None)
    model = command_model(args.checkpoint, args.device, args.precision)
    result = evaluate(model, images, size=args.size, temperature=args.temperature)
    result["demo_trained"] = sorted(set(demo_training_photos(images)) & set(result["per_image"]))
    print(to_json(result) if args.json else format_table(result, worst=args.worst))
    for name, why in result["failed"].items():
        print(f"colorlab: {name}: {why}", file=sys.stderr)
    return 1 if result["failed"] else 0


def demo_training_photos(images: dict[str, object]) -> list[str]:
    """The names in ``images`` (``{name: path or "sample:NAME"}``) that a shipped demo model trained on.

    The bundled splits (:data:`colorlab.resources.BUNDLED_SPLITS`) list every training photo: the
    bundled ones by name, the others by SHA-256, so a photo is recognised in any folder under any name.
    """
    from .resources import BUNDLED_SPLITS, split_path
    from .samples import SAMPLE_PREFIX
    from .splits import read_split, sha256_of

    samples, digests = set(), set()
    for split in BUNDLED_SPLITS:
        for row in read_split(split_path(f"{split}.csv")):
            if row.split != "train":
                continue
            if row.name.startswith(SAMPLE_PREFIX):
                samples.add(row.name)
            elif row.sha256:
                digests.add(row.sha256)
    trained = []
    for name, item in images.items():
        if isinstance(item, str) and item.startswith(SAMPLE_PREFIX):
            seen = item in samples
        else:
            try:
                seen = sha256_of(item) in digests  # type: ignore[arg-type]
            except OSError:
                seen = False  # unreadable: evaluate() reports it
        if seen:
            trained.append(name)
    return trained


def _images(data: str, only: str = "", split_items: list | None = None) -> dict[str, object]:
    """``{name: item}`` to evaluate; items are loaded one at a time later (paths, ``sample:NAME``)."""
    from .images import find_images
    from .samples import SAMPLE_PHOTOS, SAMPLE_PREFIX, item_name

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
