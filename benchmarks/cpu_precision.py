"""Training and colorizing on the learner's CPU: float32 against the path colorlab chooses there.

Interleaved in one run, on the same network (efficientnet_lite0 extractor, random weights: the
speed does not depend on them), medians over ``--repeats``:

* training: one step (forward, MSE, backward, Adam) on a ``(batch, 1, size, size)`` batch, in
  images/s, for every configuration in ``--configs``: ``fp32``, ``fp32_cl`` (channels_last),
  ``bf16`` (autocast), ``bf16_cl``, and ``auto`` (what :func:`colorlab.device.choose_precision`
  picks on this machine); ``--compile`` adds ``auto_compiled`` and reports its compile time;
* colorizing: :func:`colorlab.colorize` of a 512x512 photo, in ms, with ``precision="fp32"``
  and ``precision="auto"`` (and ``"bf16"`` when asked).

The JSON records the CPU's name, its feature flags that matter (AVX-512 BF16, AMX) and the
choice ``auto`` made, with its reason. On a CPU without native bf16, ``auto`` is fp32 and the
ratios are 1: the point of the choice.

    python benchmarks/cpu_precision.py [--configs fp32,auto] [--repeats 7] [--compile] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
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

from colorlab.device import Precision, choose_precision, cpu_has_native_bf16, cpu_name  # noqa: E402
from colorlab.files import atomic_write  # noqa: E402
from colorlab.infer import colorize  # noqa: E402
from colorlab.model import ColorizationNet, ModelConfig  # noqa: E402
from colorlab.samples import sample_images  # noqa: E402
from colorlab.train import train_step  # noqa: E402

SCHEMA_VERSION = 1
_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "bf16")


def _precision(name: str) -> Precision:
    if name == "auto" or name == "auto_compiled":
        return choose_precision("cpu", "auto")
    dtype = torch.bfloat16 if name.startswith("bf16") else torch.float32
    return Precision(dtype, name.endswith("_cl"), "cpu", "benchmark configuration")


def _trainer_step(name: str, backbone: str, batch: int, size: int):
    """A closure running one training step in configuration ``name``; returns (step, compile_s)."""
    torch.manual_seed(0)
    prec = _precision(name)
    layout = torch.channels_last if prec.channels_last else torch.preserve_format
    model = ColorizationNet(ModelConfig(backbone=backbone, pretrained=False)).to(memory_format=layout)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    forward = torch.compile(model) if name.endswith("compiled") else model
    l_net = (torch.rand(batch, 1, size, size) * 2 - 1).contiguous(memory_format=layout)
    ab = torch.rand(batch, 2, size, size) * 0.4 - 0.2

    def step() -> None:
        train_step(forward, opt, l_net, ab, autocast=prec.autocast)

    t0 = time.perf_counter()
    step()  # the first step: warm-up (and compilation)
    return step, time.perf_counter() - t0


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backbone", default="efficientnet_lite0")
    p.add_argument("--size", type=int, default=128, help="training crop size")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--configs", default="fp32,fp32_cl,bf16,bf16_cl,auto", help="training configurations to compare")
    p.add_argument("--colorize", default="fp32,auto", help="precisions to colorize with (fp32, auto, bf16)")
    p.add_argument("--photo-size", type=int, default=512)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--compile", action="store_true", help="also time torch.compile of the auto configuration")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--out", default=None, help="JSON path (default: benchmarks/results/cpu_precision-cpu.json)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    configs = [c for c in args.configs.split(",") if c] + (["auto_compiled"] if args.compile else [])
    steps, first = {}, {}
    for name in configs:
        steps[name], first[name] = _trainer_step(name, args.backbone, args.batch_size, args.size)
    times: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(args.repeats):  # interleaved: every configuration sees the same machine load
        for name in configs:
            t0 = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - t0)
    training = {
        name: {"img_s": args.batch_size / statistics.median(t), "first_step_s": first[name]}
        for name, t in times.items()
    }

    model = ColorizationNet(ModelConfig(backbone=args.backbone, pretrained=False)).eval()
    photo = np.asarray(Image.fromarray(sample_images(["astronaut"])["astronaut"]).resize((args.photo_size,) * 2))
    kinds = [k for k in args.colorize.split(",") if k]
    for kind in kinds:  # warm up each path once
        colorize(photo, model, precision=kind)
    ctimes: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(args.repeats):
        for kind in kinds:
            t0 = time.perf_counter()
            colorize(photo, model, precision=kind)
            ctimes[kind].append(time.perf_counter() - t0)
    colorizing = {k: {"ms": 1000 * statistics.median(t)} for k, t in ctimes.items()}

    auto = choose_precision("cpu", "auto")
    flags = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
        present = set(
            " ".join(
                line.split(":", 1)[1] for line in text.splitlines() if line.lower().startswith(("flags", "features"))
            ).split()
        )
        flags = {f: f in present for f in _FLAGS}
    except OSError:
        pass
    result = {
        "benchmark": "cpu_precision",
        "schema_version": SCHEMA_VERSION,
        "cpu": {
            "name": cpu_name(),
            "machine": platform.machine(),
            "native_bf16": cpu_has_native_bf16(),
            "flags": flags,
            "threads": torch.get_num_threads(),
        },
        "torch": torch.__version__,
        "auto": {"precision": auto.name, "channels_last": auto.channels_last, "reason": auto.reason},
        "settings": {
            "backbone": args.backbone,
            "size": args.size,
            "batch_size": args.batch_size,
            "repeats": args.repeats,
            "photo_size": args.photo_size,
        },
        "training": training,
        "colorize": colorizing,
        "summary": {
            "train_auto_over_fp32": training["auto"]["img_s"] / training["fp32"]["img_s"]
            if {"auto", "fp32"} <= set(training)
            else None,
            "colorize_fp32_over_auto": colorizing["fp32"]["ms"] / colorizing["auto"]["ms"]
            if {"auto", "fp32"} <= set(colorizing)
            else None,
        },
    }
    print(
        f"CPU: {result['cpu']['name']} ({result['cpu']['threads']} threads), "
        f"native bf16: {result['cpu']['native_bf16']}; "
        f"auto = {auto}"
    )
    print(f"training, {args.backbone}, {args.size}px, batch {args.batch_size} (median of {args.repeats}, interleaved):")
    for name, r in training.items():
        print(f"  {name:<14} {r['img_s']:8.2f} img/s   first step {r['first_step_s']:6.1f} s")
    print(f"colorize a {args.photo_size}x{args.photo_size} photo:")
    for kind, r in colorizing.items():
        print(f"  {kind:<14} {r['ms']:8.1f} ms")
    s = result["summary"]
    if s["train_auto_over_fp32"]:
        print(
            f"auto / fp32: training {s['train_auto_over_fp32']:.2f}x, "
            f"colorize {s['colorize_fp32_over_auto']:.2f}x faster"
        )
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / "cpu_precision-cpu.json"
    with atomic_write(out) as f:
        f.write((json.dumps(result, indent=2) + "\n").encode())
    return result


if __name__ == "__main__":
    main()
