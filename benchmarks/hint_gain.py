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

    python benchmarks/hint_gain.py --data ~/colorlab-photos --split data/splits/photo-mix.csv --every 8
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
from colorlab.infer import colorize, load_model, load_pretrained  # noqa: E402
from colorlab.metrics import gray_baseline, psnr  # noqa: E402
from colorlab.samples import load_item  # noqa: E402
from colorlab.splits import heldout_images  # noqa: E402


def true_hints(truth: np.ndarray, count: int, rng: np.random.Generator) -> list:
    """``count`` hints at random pixels, each the true mean colour of the 3x3 pixels around it."""
    h, w = truth.shape[:2]
    points = rng.integers(1, [w - 1, h - 1], size=(count, 2))
    return [
        (int(x), int(y), tuple(int(c) for c in truth[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(0).round()))
        for x, y in points
    ]


def three_ways(truth: np.ndarray, model, hints: list) -> dict[str, np.ndarray]:
    """The photo coloured from ``hints`` by colorize, by the network alone and by inverse distance."""
    from colorlab.hints import hint_image
    from colorlab.infer import _small, join_lightness, predict_ab
    from colorlab.spread import inverse_distance_field

    lab = rgb_uint8_to_lab(truth)
    small = _small(truth, 224)
    net = predict_ab(
        model, small, hints=hint_image(hints, truth.shape[1], truth.shape[0], small.shape[1], small.shape[0])
    )
    out = {"colorize": colorize(truth, model, hints=hints), "network": join_lightness(truth[None], net)[0]}
    if hints:
        colours = rgb_uint8_to_lab(np.array([[c for _, _, c in hints]], dtype=np.uint8))[0, :, 1:]
        field = inverse_distance_field(truth.shape[:2], [(x, y) for x, y, _ in hints], colours)
        out["inverse-distance"] = lab_to_rgb_uint8(np.concatenate([lab[..., :1], field], -1).astype(np.float32))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--data", default="sample", help="photo root of --split, or 'sample' for the bundled held-out photos"
    )
    p.add_argument("--split", default=None, help="split file whose held-out photos are used")
    p.add_argument("--every", type=int, default=1, help="use every N-th held-out photo")
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

        items = select(read_split(args.split), "heldout", args.data, verify=False)[:: args.every]
    else:
        items = list(heldout_images().values())
    counts = [int(c) for c in args.counts.split(",")]
    rng = np.random.default_rng(args.seed)
    ways = ("colorize", "network", "inverse-distance")
    gains: dict[str, dict[int, list[float]]] = {way: {c: [] for c in counts} for way in ways}
    for item in items:
        truth = center_crop_resize(load_item(item), 256)
        gray = psnr(gray_baseline(truth), truth)
        if not np.isfinite(gray):  # a grayscale photo: nothing to compare
            continue
        for c in counts:
            for way, result in three_ways(truth, model, true_hints(truth, c, rng)).items():
                gains[way][c].append(psnr(result, truth) - gray)
    rows = {way: {c: round(float(np.mean(g)), 3) for c, g in by.items() if g} for way, by in gains.items()}
    n = len(gains["colorize"][counts[0]])
    print(f"PSNR gain over gray (dB), {n} held-out photos, hints with their true colours")
    print(f"{'hints':>6}" + "".join(f"{way:>18}" for way in ways))
    for c in counts:
        print(f"{c:>6}" + "".join(f"{rows[w][c]:>+18.2f}" if c in rows[w] else f"{'-':>18}" for w in ways))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as f:  # whole or not at all
        f.write(
            (
                json.dumps(
                    {
                        "schema": 2,
                        "photos": n,
                        "checkpoint": args.checkpoint or "demo",
                        "split": args.split,
                        "every": args.every,
                        "seed": args.seed,
                        "gain_db": rows,
                        "hint_patch": "3x3 true mean colour",
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
