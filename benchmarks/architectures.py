"""The paper's net beside the transfer U-Net: training images/s and colorize latency, side by side.

For each architecture (``paper``: :class:`colorlab.model.ColorizationNet`; ``unet``:
:class:`colorlab.transfer.TransferNet` with hints) and head, in one run on one machine:

* ``train_img_s``: full training steps (:func:`colorlab.train.train_step`, simulated hints for the
  U-Net) on synthetic batches at ``--size``, in the precision colorlab picks here (``--precision``);
* ``colorize_ms``: :func:`colorlab.colorize` of a ``--latency-size``² photo (network short side
  224, the default), median of ``--repeats`` after a warm-up, the whole call: resize, network,
  join at full size;
* ``trainable_params``.

The ratios ``unet / paper`` are the figures to read on a noisy machine: the runs alternate, so a
busy moment slows both. Threads: ``--threads`` (default: the free cores, as the command line does).

    python benchmarks/architectures.py                       # 128² training, 512² colorize
    python benchmarks/architectures.py --steps 2 --repeats 2 --batch-size 2 --size 64   # a smoke run

Writes a table to stdout and JSON to ``--out`` (default ``benchmarks/results/architectures-cpu.json``).
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

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from colorlab.device import choose_precision, choose_threads, cpu_name, resolve_device  # noqa: E402
from colorlab.files import atomic_write  # noqa: E402
from colorlab.infer import colorize  # noqa: E402
from colorlab.model import ModelConfig  # noqa: E402
from colorlab.train import train_step  # noqa: E402
from colorlab.transfer import create_model  # noqa: E402

CONFIGS = {
    "paper/regression": ModelConfig(),
    "paper/classification": ModelConfig(head="classification"),
    "unet/regression": ModelConfig(arch="unet", hints=True),
    "unet/classification": ModelConfig(arch="unet", hints=True, head="classification"),
}


def _train_rate(model, device, prec, size: int, batch: int, steps: int) -> float:
    from colorlab import colorbins

    criterion = "mse" if model.config.head == "regression" else colorbins.criterion(model)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    g = torch.Generator().manual_seed(0)
    l_net = (torch.rand(batch, 1, size, size, generator=g) * 2 - 1).to(device)
    ab = (torch.rand(batch, 2, size, size, generator=g) * 0.4 - 0.2).to(device)
    train_step(model, opt, l_net, ab, loss=criterion, autocast=prec.autocast)  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = train_step(model, opt, l_net, ab, loss=criterion, autocast=prec.autocast)
    float(loss)
    return batch * steps / (time.perf_counter() - t0)


def _latency_ms(model, photo: np.ndarray, repeats: int, precision: str) -> float:
    colorize(photo, model, precision=precision)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        colorize(photo, model, precision=precision)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    p.add_argument("--size", type=int, default=128, help="training crop size")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--steps", type=int, default=8, help="timed training steps per configuration and round")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds over the configurations")
    p.add_argument("--latency-size", type=int, default=512)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "architectures-cpu.json"))
    args = p.parse_args(argv)

    threads = choose_threads(args.threads)
    torch.set_num_threads(threads)
    device = resolve_device(args.device)
    prec = choose_precision(device, args.precision)
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (args.latency_size, args.latency_size, 3), dtype=np.uint8)
    models = {}
    for name, config in CONFIGS.items():
        torch.manual_seed(0)
        models[name] = create_model(ModelConfig(**{**config.to_dict(), "pretrained": False})).to(device)
    rates: dict[str, list[float]] = {n: [] for n in CONFIGS}
    latency: dict[str, list[float]] = {n: [] for n in CONFIGS}
    for _ in range(args.rounds):  # alternate, so that a busy moment slows every configuration alike
        for name, model in models.items():
            rates[name].append(_train_rate(model, device, prec, args.size, args.batch_size, args.steps))
            latency[name].append(_latency_ms(model.eval(), photo, args.repeats, args.precision))
    rows = {}
    for name, model in models.items():
        rows[name] = {
            "train_img_s": round(max(rates[name]), 2),
            "colorize_ms": round(min(latency[name]), 1),
            "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        }
    ratios = {
        head: {
            "train_img_s": round(rows[f"unet/{head}"]["train_img_s"] / rows[f"paper/{head}"]["train_img_s"], 3),
            "colorize_ms": round(rows[f"unet/{head}"]["colorize_ms"] / rows[f"paper/{head}"]["colorize_ms"], 3),
        }
        for head in ("regression", "classification")
    }
    result = {
        "schema": 1,
        "device": str(device),
        "cpu": cpu_name(),
        "machine": platform.machine(),
        "threads": threads,
        "precision": str(prec),
        "torch": torch.__version__,
        "train_size": args.size,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "rounds": args.rounds,
        "latency_size": args.latency_size,
        "repeats": args.repeats,
        "rows": rows,
        "unet_over_paper": ratios,
    }
    print(
        f"{cpu_name()}, {threads} thread(s), {prec}; training {args.size}² batch {args.batch_size}; "
        f"colorize {args.latency_size}²"
    )
    print(f"{'model':<24}{'train img/s':>12}{'colorize ms':>13}{'params':>12}")
    for name, row in rows.items():
        print(f"{name:<24}{row['train_img_s']:>12.1f}{row['colorize_ms']:>13.1f}{row['trainable_params']:>12,}")
    for head, r in ratios.items():
        print(
            f"unet / paper, {head}: training {r['train_img_s']:.2f}x the images/s, "
            f"colorize {r['colorize_ms']:.2f}x the time"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as f:  # whole or not at all
        f.write((json.dumps(result, indent=2) + "\n").encode())
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
