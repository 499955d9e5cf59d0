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

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from colorlab.device import choose_threads  # noqa: E402
from colorlab.files import atomic_write  # noqa: E402
from colorlab.infer import load_model, load_pretrained  # noqa: E402
from colorlab.metrics import HINT_WAYS, hint_curve  # noqa: E402
from colorlab.samples import load_item  # noqa: E402
from colorlab.splits import heldout_images  # noqa: E402


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
    curve = hint_curve((load_item(item) for item in items), model, counts, seed=args.seed)
    rows = {way: {c: round(g, 3) for c, g in by.items()} for way, by in curve["gain_db"].items()}
    n = curve["photos"]
    print(f"PSNR gain over gray (dB), {n} held-out photos, hints with their true colours")
    print(f"{'hints':>6}" + "".join(f"{way:>18}" for way in HINT_WAYS))
    for c in counts:
        print(f"{c:>6}" + "".join(f"{rows[w][c]:>+18.2f}" if c in rows[w] else f"{'-':>18}" for w in HINT_WAYS))
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
