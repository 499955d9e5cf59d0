"""How much do colour hints help? PSNR over gray against the number of true-colour hints.

For every ``--every``-th held-out photo of a split (or the bundled held-out photos with
``--data sample``), the photo is centre-cropped to 256² (``colorlab evaluate``'s protocol) and
colorized with 0, 1, 2, 5, ... hints, each at a random pixel (seeded) with the true mean colour of
the 3×3 pixels around it: the clicks of a user who knows the answer. For each count the table gives
the mean PSNR gain over the gray baseline of three ways to use the same hints, side by side:

* ``colorize``: what colorlab does (the network with its hint channels, then the hints spread along
  the photo's edges with the network's answer as the prior: :mod:`colorlab.spread`);
* ``network``: the network's own answer with the hints as its input, nothing spread;
* ``inverse-distance``: the naive baseline, each pixel the hints' ab weighted by 1 / (1 + d²).

Under the table, a reference that is not a method: the **segment oracle**, each of K superpixels of
the photo's lightness (SLIC) painted with its own *true* mean colour. Ten random clicks carry less
than that (ten colours, at points that may not even fall in different regions), so its gain at
K = 10 is a generous ceiling for what ten hints can give a spread that follows lightness, and K = 30
shows how much more information a larger gain needs.

    python benchmarks/hint_gain.py --data ~/colorlab-photos --split data/splits/photo-mix.csv --every 8
    python benchmarks/hint_gain.py --data ~/colorlab-photos --split data/splits/photo-mix.csv --every 8 \
        --start 4 --out benchmarks/results/hint_gain-second-cpu.json    # a disjoint second subset
    python benchmarks/hint_gain.py --data sample --counts 0,5      # a smoke run on the bundled photos

Writes JSON to ``--out`` (default ``benchmarks/results/hint_gain-cpu.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from colorlab.color import lab_to_rgb_uint8, rgb_uint8_to_lab  # noqa: E402
from colorlab.crops import center_crop_resize  # noqa: E402
from colorlab.device import choose_threads  # noqa: E402
from colorlab.files import atomic_write  # noqa: E402
from colorlab.infer import load_model, load_pretrained  # noqa: E402
from colorlab.metrics import EVAL_SIZE, HINT_WAYS, gray_baseline, hint_curve, psnr  # noqa: E402
from colorlab.samples import load_item  # noqa: E402
from colorlab.splits import heldout_images  # noqa: E402

#: Superpixel counts of the segment oracle.
ORACLE_SEGMENTS = (10, 30)


def segment_oracle(truth, segments: int):
    """``truth`` with each SLIC superpixel of its lightness painted its own true mean ab (uint8 RGB)."""
    from skimage.segmentation import slic

    lab = rgb_uint8_to_lab(truth)
    labels = slic(lab[..., 0], n_segments=segments, compactness=0.1, channel_axis=None, start_label=0)
    ab = lab[..., 1:].reshape(-1, 2)
    flat = labels.reshape(-1)
    means = np.stack([np.bincount(flat, weights=ab[:, c]) for c in range(2)], 1) / np.bincount(flat)[:, None]
    painted = np.concatenate([lab[..., :1], means[labels]], -1).astype(np.float32)
    return lab_to_rgb_uint8(painted)


def oracle_gains(photos) -> dict[int, float]:
    """Mean PSNR gain over gray of :func:`segment_oracle`, per superpixel count (grayscale photos left out)."""
    gains: dict[int, list[float]] = {k: [] for k in ORACLE_SEGMENTS}
    for photo in photos:
        truth = center_crop_resize(photo, EVAL_SIZE)
        gray = psnr(gray_baseline(truth), truth)
        if np.isfinite(gray):
            for k in ORACLE_SEGMENTS:
                gains[k].append(psnr(segment_oracle(truth, k), truth) - gray)
    return {k: float(np.mean(g)) for k, g in gains.items() if g}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--data", default="sample", help="photo root of --split, or 'sample' for the bundled held-out photos"
    )
    p.add_argument("--split", default=None, help="split file whose held-out photos are used")
    p.add_argument("--every", type=int, default=1, help="use every N-th held-out photo")
    p.add_argument("--start", type=int, default=0, help="begin at this held-out photo (with --every: another subset)")
    p.add_argument("--checkpoint", default=None, help="a model that takes hints (default: the demo model)")
    p.add_argument("--counts", default="0,1,2,5,10,20,50", help="numbers of hints, comma-separated")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "hint_gain-cpu.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(choose_threads(args.threads))
    model = load_model(args.checkpoint, "cpu") if args.checkpoint else load_pretrained("cpu")
    if args.split:
        from colorlab.splits import read_split, select

        items = select(read_split(args.split), "heldout", args.data, verify=False)[args.start :: args.every]
    else:
        items = list(heldout_images().values())[args.start :: args.every]
    counts = [int(c) for c in args.counts.split(",")]
    # each photo read and cropped once, for the curve and the oracle (a 256² crop is 192 KB)
    truths = [center_crop_resize(load_item(item), EVAL_SIZE) for item in items]
    curve = hint_curve(truths, model, counts, seed=args.seed)
    rows = {way: {c: round(g, 3) for c, g in by.items()} for way, by in curve["gain_db"].items()}
    n = curve["photos"]
    print(f"PSNR gain over gray (dB), {n} held-out photos, hints with their true colours")
    print(f"{'hints':>6}" + "".join(f"{way:>18}" for way in HINT_WAYS))
    for c in counts:
        print(f"{c:>6}" + "".join(f"{rows[w][c]:>+18.2f}" if c in rows[w] else f"{'-':>18}" for w in HINT_WAYS))
    oracle = {k: round(g, 3) for k, g in oracle_gains(truths).items()}
    print("reference, not a method: each lightness superpixel painted its true mean colour (segment oracle)")
    print("  " + ", ".join(f"{k} superpixels {g:+.2f}" for k, g in oracle.items()))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as f:  # whole or not at all
        f.write(
            (
                json.dumps(
                    {
                        "schema": 3,
                        "photos": n,
                        "checkpoint": args.checkpoint or "demo",
                        "split": args.split,
                        "every": args.every,
                        "start": args.start,
                        "seed": args.seed,
                        "gain_db": rows,
                        "hint_patch": "3x3 true mean colour",
                        "segment_oracle_db": oracle,
                    },
                    indent=2,
                )
                + "\n"
            ).encode()
        )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
