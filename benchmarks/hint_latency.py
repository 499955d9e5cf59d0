"""How long does one update of a hinted colorization take? (issue 25: at most 0.5 s at 256² on 2 cores)

Each time a user adds, moves or deletes a hint, the app colorizes the photo again with all its
hints: the network, then the hints spread along the photo's edges (:mod:`colorlab.spread`). This
times exactly that call, ``colorize(photo, hints=...)``, on a 256 x 256 photo for several numbers of
hints, and reports the median of ``--repeats`` runs after one warm-up.

    python benchmarks/hint_latency.py                       # the demo model, 0 to 50 hints
    python benchmarks/hint_latency.py --threads 2 --repeats 9

Writes JSON to ``--out`` (default ``benchmarks/results/hint_latency-cpu.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from colorlab.crops import center_crop_resize  # noqa: E402
from colorlab.device import choose_precision, choose_threads, cpu_name  # noqa: E402
from colorlab.files import atomic_write  # noqa: E402
from colorlab.infer import colorize, load_model, load_pretrained  # noqa: E402
from colorlab.splits import heldout_images  # noqa: E402

TARGET_S = 0.5


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=None, help="a model that takes hints (default: the demo model)")
    p.add_argument("--counts", default="0,1,5,10,20,50", help="numbers of hints, comma-separated")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "hint_latency-cpu.json"))
    args = p.parse_args(argv)
    threads = choose_threads(args.threads)
    torch.set_num_threads(threads)
    model = load_model(args.checkpoint, "cpu") if args.checkpoint else load_pretrained("cpu")
    photo = center_crop_resize(heldout_images()["china"], 256)
    rng = np.random.default_rng(0)
    seconds = {}
    for count in (int(c) for c in args.counts.split(",")):
        points = rng.integers(0, 256, size=(count, 2))
        hints = [(int(x), int(y), tuple(int(v) for v in photo[y, x])) for x, y in points]
        colorize(photo, model, hints=hints)  # warm-up
        runs = []
        for _ in range(max(1, args.repeats)):
            start = time.perf_counter()
            colorize(photo, model, hints=hints)
            runs.append(time.perf_counter() - start)
        seconds[count] = float(np.median(runs))
    precision = choose_precision("cpu").name
    print(f"{cpu_name()}, {threads} thread(s), {precision}; 256x256 photo, median of {args.repeats}")
    print(f"{'hints':>6} {'seconds per update':>20}   (target: at most {TARGET_S} s)")
    for count, s in seconds.items():
        print(f"{count:>6} {s:>20.3f}   {'ok' if s <= TARGET_S else 'over'}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "schema": 1,
        "cpu": cpu_name(),
        "threads": threads,
        "precision": precision,
        "size": 256,
        "repeats": args.repeats,
        "target_s": TARGET_S,
        "seconds": {str(k): round(v, 4) for k, v in seconds.items()},
    }
    with atomic_write(out) as f:  # whole or not at all
        f.write((json.dumps(result, indent=2) + "\n").encode())
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
