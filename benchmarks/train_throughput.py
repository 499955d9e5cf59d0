"""Training throughput of colorlab: model-only vs end-to-end, naive vs fast path, FLOPs, MFU, memory.

For every configuration (naive baseline / fast path) x extractor (efficientnet_lite0,
inception_v3) it measures in one run:

* model-only images/s: synthetic tensors already on the device, full training steps;
* end-to-end images/s: real JPEGs (made by this script from the bundled photos) ->
  the configuration's input pipeline -> a training step;
* FLOPs per training image (``torch.utils.flop_counter``), MFU against a matmul
  measured in the same run (bf16 on CUDA, fp32 on the CPU), and peak device memory.

Configurations:

``naive``      fp32, eager, plain Adam; per-sample PIL decode + crop + scikit-image
               ``rgb2lab`` in DataLoader workers (what a first PyTorch port does).
``fast``       the colorlab Trainer defaults on CUDA (bf16 autocast, channels_last,
               fused Adam, torch.compile, no per-step sync) fed from the uint8 memory-mapped
               cache (``colorlab prepare``) with crops, flips and Lab on the device.
``fast_folder`` the same Trainer reading the JPEG folder through DataLoader workers
               (end-to-end only; its model-only figure is ``fast``'s).

On CUDA it also reports the fast path's peak memory at batch 16, 64 and 128.

    python benchmarks/train_throughput.py                      # CUDA, the full run
    python benchmarks/train_throughput.py --device cpu --size 64 --batch-size 4 --steps 3

Writes a table to stdout and JSON to ``--out`` (default
``benchmarks/results/train_throughput-<device>.json``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from colorlab.cache import CachedDataset, prepare  # noqa: E402
from colorlab.data import ColorDataset  # noqa: E402
from colorlab.engine import TrainConfig, Trainer  # noqa: E402
from colorlab.images import find_images  # noqa: E402
from colorlab.model import ColorizationNet, ModelConfig  # noqa: E402
from colorlab.samples import sample_images  # noqa: E402
from colorlab.train import train_step  # noqa: E402

SCHEMA_VERSION = 1


# --- helpers ---------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gb(device: torch.device) -> float | None:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return None


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine() or "cpu"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "device"


def measure_peak_flops(device: torch.device, n: int | None = None, repeats: int = 10) -> dict:
    """Dense matmul throughput: bf16 on CUDA (the MFU reference), fp32 on the CPU."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    n = n or (8192 if device.type == "cuda" else 512)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    dt = time.perf_counter() - t0
    return {"dtype": str(dtype).replace("torch.", ""), "matmul_n": n, "tflops": 2 * n**3 * repeats / dt / 1e12}


def make_jpegs(folder: Path, count: int, short_side: int, seed: int = 0) -> list[Path]:
    """``count`` JPEGs (quality 90, 4:3 or 3:4) cut at random from the bundled photos."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    photos = list(sample_images().values())
    rng = np.random.default_rng(seed)
    jobs = []
    for i in range(count):
        photo = photos[int(rng.integers(len(photos)))]
        h, w = photo.shape[:2]
        frac = rng.uniform(0.5, 1.0)
        ch, cw = max(8, int(h * frac)), max(8, int(w * frac))
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        landscape = rng.random() < 0.75
        out = (round(short_side * 4 / 3), short_side) if landscape else (short_side, round(short_side * 4 / 3))
        jobs.append((i, photo, (x, y, x + cw, y + ch), out))

    def work(job):
        i, photo, box, out = job
        path = folder / f"img{i:06d}.jpg"
        Image.fromarray(photo).resize(out, Image.BILINEAR, box=box).save(path, quality=90)
        return path

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(work, jobs))


class NaiveDataset(torch.utils.data.Dataset):
    """The naive pipeline: PIL decode, random resized crop + flip, scikit-image Lab, per sample."""

    def __init__(self, paths: list[Path], size: int, seed: int = 0) -> None:
        self.paths, self.size, self.seed = paths, size, seed

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        from PIL import Image
        from skimage.color import rgb2lab

        rng = np.random.default_rng([self.seed, i])
        img = Image.open(self.paths[i]).convert("RGB")
        w, h = img.size
        area = w * h * rng.uniform(0.25, 1.0)
        aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = min(w, int(round(math.sqrt(area * aspect)))), min(h, int(round(math.sqrt(area / aspect))))
        x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
        arr = np.asarray(img.resize((self.size, self.size), Image.BILINEAR, box=(x, y, x + cw, y + ch)))
        if rng.random() < 0.5:
            arr = arr[:, ::-1]
        lab = rgb2lab(arr).astype(np.float32)
        l_net = lab[..., :1] / 50.0 - 1.0
        ab = lab[..., 1:] / 128.0
        return torch.from_numpy(l_net.transpose(2, 0, 1).copy()), torch.from_numpy(ab.transpose(2, 0, 1).copy())


def flops_per_image(model: ColorizationNet, size: int, device: torch.device, batch: int = 2) -> float:
    """FLOPs of one training step (forward + backward) per image, counted by torch."""
    from torch.utils.flop_counter import FlopCounterMode

    model.train()
    x = torch.randn(batch, 1, size, size, device=device)
    y = torch.randn(batch, 2, size, size, device=device)
    counter = FlopCounterMode(display=False)
    with counter:
        F.mse_loss(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / batch


def cycle(make_iter):
    epoch = 0
    while True:
        yield from make_iter(epoch)
        epoch += 1


def time_steps(step, batches, warmup: int, steps: int, batch_size: int, device: torch.device) -> tuple[float, float]:
    """Run ``warmup`` then ``steps`` steps; return (images/s over the timed steps, seconds of the first step)."""
    it = iter(batches)
    first = None
    for k in range(warmup):
        t0 = time.perf_counter()
        step(*next(it))
        if k == 0:
            sync(device)
            first = time.perf_counter() - t0
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step(*next(it))
    sync(device)
    return batch_size * steps / (time.perf_counter() - t0), first or 0.0


# --- configurations ------------------------------------------------------------------


def run_naive(args, backbone, device, folder_paths, synthetic) -> dict:
    model = ColorizationNet(ModelConfig(backbone=backbone, pretrained=False)).to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-4)
    model.train()

    def step(l_net, ab):
        l_net = l_net.to(device)
        ab = ab.to(device)
        loss = F.mse_loss(model(l_net), ab)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    reset_memory(device)
    model_only, _ = time_steps(step, iter(lambda: synthetic, None), args.warmup, args.steps, args.batch_size, device)
    mem_model = peak_memory_gb(device)
    dataset = NaiveDataset(folder_paths, args.size)
    loader_kwargs = dict(batch_size=args.batch_size, shuffle=True, drop_last=True, num_workers=args.workers)
    if args.workers:
        loader_kwargs.update(persistent_workers=True, prefetch_factor=4)
    loader = torch.utils.data.DataLoader(dataset, **loader_kwargs)
    reset_memory(device)
    e2e, _ = time_steps(step, cycle(lambda epoch: loader), args.warmup, args.steps, args.batch_size, device)
    return {
        "config": "naive",
        "precision": "fp32",
        "compile": False,
        "input": f"JPEG folder, per-sample PIL + skimage rgb2lab in {args.workers} DataLoader worker(s)",
        "model_only_img_s": model_only,
        "end_to_end_img_s": e2e,
        "peak_memory_gb_model_only": mem_model,
        "peak_memory_gb_end_to_end": peak_memory_gb(device),
        "compile_s": None,
    }


def make_trainer(args, backbone, device, train_data, batch_size=None) -> Trainer:
    model = ColorizationNet(ModelConfig(backbone=backbone, pretrained=False))
    cfg = TrainConfig(
        batch_size=batch_size or args.batch_size,
        lr=1e-4,
        device=str(device),
        compile=args.compile,
        num_workers=args.workers,
        progress=False,
    )
    return Trainer(model, train_data, None, cfg)


def trainer_step(trainer: Trainer):
    """One step of the trainer's fast path: the core train_step on its (compiled) module, no host sync."""

    def step(l_net, ab):
        if len(l_net):
            train_step(
                trainer.forward,
                trainer.optimizer,
                l_net,
                ab,
                loss=trainer.config.loss,
                autocast=trainer.precision.autocast,
            )

    return step


def profile_steps(step, batch, device: torch.device, steps: int, top: int = 15) -> list[dict]:
    """Where one model-only training step spends its time: the top ops by self time (device time on CUDA)."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step(*batch)
        sync(device)
    attr = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    events = [e for e in prof.key_averages() if getattr(e, attr, 0) > 0]
    total = sum(getattr(e, attr) for e in events) or 1.0
    events.sort(key=lambda e: getattr(e, attr), reverse=True)
    rows = [
        {
            "op": e.key,
            "self_ms_per_step": getattr(e, attr) / 1000 / steps,
            "share": getattr(e, attr) / total,
            "calls_per_step": e.count / steps,
        }
        for e in events[:top]
    ]
    print(
        f"profile of one {device.type} training step "
        f"(top {top} by self {'device' if device.type == 'cuda' else 'CPU'} time):"
    )
    for r in rows:
        print(f"  {r['share']:6.1%} {r['self_ms_per_step']:9.2f} ms  {r['op']}")
    return rows


def run_fast(args, backbone, device, cache_path, folder_paths, synthetic) -> list[dict]:
    cached = CachedDataset(cache_path, size=args.size)
    trainer = make_trainer(args, backbone, device, cached)
    l_syn, ab_syn = (t.to(device) for t in synthetic)
    if trainer.precision.channels_last:
        l_syn = l_syn.contiguous(memory_format=torch.channels_last)
    step = trainer_step(trainer)
    reset_memory(device)
    model_only, first = time_steps(
        step, iter(lambda: (l_syn, ab_syn), None), args.warmup, args.steps, args.batch_size, device
    )
    mem_model = peak_memory_gb(device)
    top = profile_steps(step, (l_syn, ab_syn), device, args.profile_steps) if args.profile_steps else None
    reset_memory(device)
    e2e, _ = time_steps(step, cycle(trainer.epoch_batches), args.warmup, args.steps, args.batch_size, device)
    mem_e2e = peak_memory_gb(device)
    precision = trainer.precision.name
    rows = [
        {
            "config": "fast",
            "precision": precision,
            "compile": bool(trainer.compile),
            "input": "uint8 memory-mapped cache, crop/flip/Lab on the device",
            "model_only_img_s": model_only,
            "end_to_end_img_s": e2e,
            "peak_memory_gb_model_only": mem_model,
            "peak_memory_gb_end_to_end": mem_e2e,
            "compile_s": first if trainer.compile else None,
            "profile_top": top,
        }
    ]
    if not args.skip_folder:
        folder = ColorDataset(folder_paths, size=args.size, seed=0)
        trainer.train_data = folder
        reset_memory(device)
        e2e_folder, _ = time_steps(step, cycle(trainer.epoch_batches), args.warmup, args.steps, args.batch_size, device)
        rows.append(
            {
                "config": "fast_folder",
                "precision": precision,
                "compile": bool(trainer.compile),
                "input": f"JPEG folder via ColorDataset in {args.workers} DataLoader worker(s), Lab on the device",
                "model_only_img_s": model_only,
                "end_to_end_img_s": e2e_folder,
                "peak_memory_gb_model_only": mem_model,
                "peak_memory_gb_end_to_end": peak_memory_gb(device),
                "compile_s": None,
            }
        )
    del trainer
    return rows


def memory_sweep(args, backbone, device, cache_path, batches: list[int]) -> list[dict]:
    out = []
    for bs in batches:
        cached = CachedDataset(cache_path, size=args.size)
        trainer = make_trainer(args, backbone, device, cached, batch_size=bs)
        l_net = torch.randn(bs, 1, args.size, args.size, device=device).clamp_(-1, 1)
        ab = torch.randn(bs, 2, args.size, args.size, device=device).clamp_(-1, 1) * 0.3
        if trainer.precision.channels_last:
            l_net = l_net.contiguous(memory_format=torch.channels_last)
        reset_memory(device)
        step = trainer_step(trainer)
        for _ in range(3):
            step(l_net, ab)
        sync(device)
        out.append(
            {
                "backbone": backbone,
                "batch_size": bs,
                "precision": trainer.precision.name,
                "peak_memory_gb": peak_memory_gb(device),
            }
        )
        del trainer
    return out


# --- main ------------------------------------------------------------------------------


def fmt(v, spec=".1f") -> str:
    return "-" if v is None else format(v, spec)


def table(result: dict) -> str:
    lines = []
    dev = result["device"]
    lines.append(
        f"device: {dev['name']} ({dev['type']}), torch {dev['torch']}; "
        f"peak matmul {result['peak']['tflops']:.1f} TFLOP/s ({result['peak']['dtype']})"
    )
    s = result["settings"]
    lines.append(
        f"size {s['size']}, batch {s['batch_size']}, {s['steps']} timed steps after {s['warmup']} warm-up; "
        f"prepare: {result['prepare']['images_per_s']:.0f} img/s"
    )
    head = (
        f"{'config':<12} {'backbone':<18} {'prec':<5} {'model img/s':>12} {'e2e img/s':>10} {'e2e/model':>9} "
        f"{'GFLOP/img':>9} {'MFU':>6} {'mem GB':>7} {'compile s':>9}"
    )
    lines += [head, "-" * len(head)]
    for r in result["results"]:
        lines.append(
            f"{r['config']:<12} {r['backbone']:<18} {r['precision']:<5} "
            f"{r['model_only_img_s']:>12.1f} {r['end_to_end_img_s']:>10.1f} "
            f"{r['e2e_over_model_only']:>9.2f} {r['gflops_per_image']:>9.1f} {r['mfu_model_only'] * 100:>5.1f}% "
            f"{fmt(r['peak_memory_gb_end_to_end'], '.2f'):>7} {fmt(r['compile_s']):>9}"
        )
    for backbone, ratio in result["summary"]["fast_over_naive_end_to_end"].items():
        lines.append(f"fast / naive end-to-end ({backbone}): {ratio:.2f}x")
    for m in result["memory"]:
        lines.append(
            f"peak memory, fast path, {m['backbone']}, batch {m['batch_size']}: {fmt(m['peak_memory_gb'], '.2f')} GB"
        )
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--size", type=int, default=224, help="training crop size")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    p.add_argument("--warmup", type=int, default=None, help="untimed steps first (default: 10 on CUDA, 1 on the CPU)")
    p.add_argument("--backbones", default="efficientnet_lite0,inception_v3")
    p.add_argument("--configs", default="naive,fast", help="naive and/or fast (fast includes fast_folder)")
    p.add_argument(
        "--images", type=int, default=None, help="JPEGs to make (default: enough for one pass, at most 4096)"
    )
    p.add_argument("--jpeg-side", type=int, default=None, help="short side of the JPEGs (default: size * 375/224)")
    p.add_argument("--cache-size", type=int, default=None, help="side stored in the cache (default: size * 256/224)")
    p.add_argument(
        "--workers", type=int, default=None, help="DataLoader workers (default: min(12, cores) on CUDA, 0 on the CPU)"
    )
    p.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="torch.compile in the fast path (default: on for CUDA)",
    )
    p.add_argument(
        "--memory-batches",
        default=None,
        help="batch sizes for the memory sweep (default: 16,64,128 on CUDA, none on the CPU)",
    )
    p.add_argument("--skip-folder", action="store_true", help="skip the fast_folder measurement")
    p.add_argument("--workdir", default=None, help="where to put the JPEGs and the cache (default: a temporary folder)")
    p.add_argument("--profile-steps", type=int, default=3, help="profile this many fast-path steps (0: no profile)")
    p.add_argument("--out", default=None, help="JSON path (default: benchmarks/results/train_throughput-<device>.json)")
    args = p.parse_args(argv)
    cuda = args.device.startswith("cuda")
    if args.warmup is None:
        args.warmup = 10 if cuda else 1
    if args.workers is None:
        args.workers = min(12, os.cpu_count() or 1) if cuda else 0
    if args.memory_batches is None:
        args.memory_batches = "16,64,128" if cuda else ""
    if args.jpeg_side is None:
        args.jpeg_side = max(8, round(args.size * 375 / 224))
    if args.cache_size is None:
        args.cache_size = max(args.size, round(args.size * 256 / 224 / 8) * 8)
    if args.images is None:
        args.images = min(4096, args.batch_size * (args.warmup + args.steps))
    args.images = max(args.images, args.batch_size)
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    backbones = [b for b in args.backbones.split(",") if b]
    configs = [c for c in args.configs.split(",") if c]
    name = device_name(device)
    result: dict = {
        "benchmark": "train_throughput",
        "schema_version": SCHEMA_VERSION,
        "device": {
            "type": device.type,
            "name": name,
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
        },
        "settings": {
            k: getattr(args, k)
            for k in (
                "size",
                "batch_size",
                "steps",
                "warmup",
                "images",
                "jpeg_side",
                "cache_size",
                "workers",
                "compile",
            )
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    result["peak"] = measure_peak_flops(device)
    with tempfile.TemporaryDirectory(prefix="colorlab-bench-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        folder = work / "jpegs"
        paths = find_images(folder) if folder.is_dir() else []
        if len(paths) < args.images:
            paths = make_jpegs(folder, args.images, args.jpeg_side)
        paths = paths[: args.images]
        t0 = time.perf_counter()
        cache = prepare(
            folder,
            work / f"cache{args.cache_size}",
            size=args.cache_size,
            progress=False,
            workers=min(os.cpu_count() or 1, 16) if device.type == "cuda" else 1,
        )
        prep_s = time.perf_counter() - t0
        result["prepare"] = {"images": len(paths), "seconds": prep_s, "images_per_s": len(paths) / max(prep_s, 1e-9)}

        synthetic = (
            torch.rand(args.batch_size, 1, args.size, args.size, device=device) * 2 - 1,
            (torch.rand(args.batch_size, 2, args.size, args.size, device=device) * 2 - 1) * 0.3,
        )
        rows = []
        memory = []
        for backbone in backbones:
            probe = ColorizationNet(ModelConfig(backbone=backbone, pretrained=False)).to(device)
            gflops = flops_per_image(probe, args.size, device) / 1e9
            del probe
            found = []
            if "naive" in configs:
                found.append(run_naive(args, backbone, device, paths, synthetic))
            if "fast" in configs:
                found += run_fast(args, backbone, device, cache, paths, synthetic)
            peak = result["peak"]["tflops"] * 1e12
            for r in found:
                r["backbone"] = backbone
                r["gflops_per_image"] = gflops
                r["e2e_over_model_only"] = r["end_to_end_img_s"] / r["model_only_img_s"]
                r["mfu_model_only"] = gflops * 1e9 * r["model_only_img_s"] / peak
                r["mfu_end_to_end"] = gflops * 1e9 * r["end_to_end_img_s"] / peak
            rows += found
            batches = [int(b) for b in args.memory_batches.split(",") if b]
            if batches and "fast" in configs:
                memory += memory_sweep(args, backbone, device, cache, batches)
    result["results"] = rows
    result["memory"] = memory
    ratios = {}
    for backbone in backbones:
        by = {r["config"]: r for r in rows if r["backbone"] == backbone}
        if "naive" in by and "fast" in by:
            ratios[backbone] = by["fast"]["end_to_end_img_s"] / by["naive"]["end_to_end_img_s"]
    result["summary"] = {"fast_over_naive_end_to_end": ratios}
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"train_throughput-{slug(name)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(table(result))
    print(f"JSON: {out}")
    return result


if __name__ == "__main__":
    main()
