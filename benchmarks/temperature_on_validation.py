"""A classification head's decoding temperature, measured on the validation photos of its run.

`colorlab train --data CACHE --val-fraction F --seed S` keeps a fraction of the cache's photos
apart (`colorlab.splits.split_items`); this script colours every ``--every``-th of them at each
temperature and prints the mean PSNR gain over gray and the colourfulness ratio, so that a
temperature can be chosen without looking at the held-out split:

    python benchmarks/temperature_on_validation.py --cache runs/mix128 --checkpoint runs/unet-vivid.pt

The shipped vivid model's T = 0.7 came from this table (data/README.md). Writes JSON to ``--out``.
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

from colorlab.cache import CachedDataset  # noqa: E402
from colorlab.device import choose_threads  # noqa: E402
from colorlab.files import atomic_write  # noqa: E402
from colorlab.infer import colorize, load_model  # noqa: E402
from colorlab.metrics import colorfulness, gray_baseline, psnr  # noqa: E402
from colorlab.splits import split_items  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache", required=True, help="the cache the model was trained on (colorlab prepare)")
    p.add_argument("--checkpoint", required=True, help="a model with the classification head")
    p.add_argument("--val-fraction", type=float, default=0.05, help="as given to colorlab train")
    p.add_argument("--seed", type=int, default=0, help="as given to colorlab train")
    p.add_argument("--every", type=int, default=8, help="use every N-th validation photo")
    p.add_argument("--size", type=int, default=128, help="the network's input size (the cache's photos are small)")
    p.add_argument("--temperatures", default="0.2,0.3,0.38,0.5,0.7,0.85,1.0")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "temperature_on_validation-cpu.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(choose_threads(args.threads))
    model = load_model(args.checkpoint, "cpu")
    if model.config.head != "classification":
        raise SystemExit(
            f"{args.checkpoint}: has the {model.config.head} head; a temperature applies to a classification head"
        )
    full = CachedDataset(args.cache, size=args.size, seed=args.seed)
    _, val_idx, _ = split_items(list(range(len(full))), args.val_fraction, 0.0, args.seed)
    photos = [full[i].permute(1, 2, 0).numpy() for i in val_idx[:: args.every]]
    photos = [im for im in photos if np.isfinite(psnr(gray_baseline(im), im))]
    rows = {}
    print(f"{'T':>6} {'PSNR gain over gray':>20} {'colourfulness / truth':>22}   ({len(photos)} validation photos)")
    for t in (float(x) for x in args.temperatures.split(",")):
        outs = [colorize(im, model, size=args.size, temperature=t) for im in photos]
        gain = float(np.mean([psnr(o, im) - psnr(gray_baseline(im), im) for o, im in zip(outs, photos)]))
        colour = float(np.mean([colorfulness(o) for o in outs]) / np.mean([colorfulness(im) for im in photos]))
        rows[str(t)] = {"gain_db": round(gain, 3), "colourfulness_ratio": round(colour, 3)}
        print(f"{t:>6g} {gain:>+20.2f} {colour:>22.2f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as f:  # whole or not at all
        f.write(
            (
                json.dumps({"schema": 1, "checkpoint": args.checkpoint, "photos": len(photos), "rows": rows}, indent=2)
                + "\n"
            ).encode()
        )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
