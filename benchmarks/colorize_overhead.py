"""What ``colorize`` costs around the network: a 512x512 photo versus the bare forward at 224.

Both are timed in the same run, on the same model, on the CPU by default:

* ``network``: ``model(l_net)`` on a ``(1, 1, 224, 224)`` tensor under ``torch.no_grad()``;
* ``colorize``: :func:`colorlab.colorize` on a 512x512 RGB photo (load, resize to 224,
  Lab, the same forward, ab upsampling to 512x512, Lab -> RGB, uint8).

The target is ``colorize / network <= 1.3``. The model has random weights
(``pretrained=False``): the cost does not depend on the weights.

    python benchmarks/colorize_overhead.py [--backbone efficientnet_lite0] [--repeats 20] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from colorlab.infer import colorize  # noqa: E402
from colorlab.model import ColorizationNet, ModelConfig  # noqa: E402
from colorlab.samples import sample_images  # noqa: E402

SCHEMA_VERSION = 1


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--photo-size", type=int, default=512)
    p.add_argument("--size", type=int, default=224, help="network input (short side)")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--out", default=None, help="JSON path (default: benchmarks/results/colorize_overhead-<device>.json)"
    )
    args = p.parse_args(argv)

    device = torch.device(args.device)
    model = ColorizationNet(ModelConfig(backbone=args.backbone, pretrained=False)).to(device).eval()
    astronaut = sample_images(["astronaut"])["astronaut"]  # 512x512
    photo = astronaut
    if photo.shape[:2] != (args.photo_size, args.photo_size):
        photo = np.asarray(Image.fromarray(astronaut).resize((args.photo_size, args.photo_size), Image.BICUBIC))
    l_net = torch.rand(1, 1, args.size, args.size, device=device) * 2 - 1

    def network() -> None:
        with torch.no_grad():
            model(l_net)
        if device.type == "cuda":
            torch.cuda.synchronize()

    def full() -> None:
        colorize(photo, model, size=args.size)

    # Interleave the two so that a noisy (shared) machine affects both alike.
    net_times, col_times = [], []
    for _ in range(args.warmup):
        network()
        full()
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        network()
        net_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        full()
        col_times.append(time.perf_counter() - t0)
    net_s, col_s = statistics.median(net_times), statistics.median(col_times)
    result = {
        "benchmark": "colorize_overhead",
        "schema_version": SCHEMA_VERSION,
        "device": {
            "type": device.type,
            "torch": torch.__version__,
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
        },
        "backbone": args.backbone,
        "photo": [args.photo_size, args.photo_size],
        "network_input": [args.size, args.size],
        "repeats": args.repeats,
        "network_forward_s": net_s,
        "colorize_s": col_s,
        "ratio": col_s / net_s,
        "ratio_of_minimums": min(col_times) / min(net_times),  # steadier on a loaded machine
        "target_ratio": 1.3,
        "network_forward_all_s": net_times,
        "colorize_all_s": col_times,
    }
    print(
        f"bare network forward at {args.size}x{args.size} ({args.backbone}, {device}): "
        f"{net_s * 1000:.1f} ms (median of {args.repeats})"
    )
    print(f"colorize of a {args.photo_size}x{args.photo_size} photo: {col_s * 1000:.1f} ms")
    print(f"ratio: {result['ratio']:.3f} (target <= 1.3); ratio of the fastest runs: {result['ratio_of_minimums']:.3f}")
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"colorize_overhead-{device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"JSON: {out}")
    return result


if __name__ == "__main__":
    main()
