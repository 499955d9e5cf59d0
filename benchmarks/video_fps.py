"""How many frames per second does ``colorlab colorize-video`` manage at 480p, and where does the time go?

A clip made by :func:`colorlab.video.demo_clip` (854x480, 24 fps, with audio) is
timed in four stages, each on the whole clip, in one run:

* ``decode``: PyAV decodes every frame to RGB (the floor for any video tool);
* ``network``: the bare forward pass on the frames' network-size copies, in batches;
* ``colorize_raw``: frames already in memory -> resize, predict, join with the
  full-resolution L (:func:`colorlab.video.predict_frames` + :func:`colorlab.video.join_ab`);
* ``end_to_end``: :func:`colorlab.video.colorize_video` file to file: decode, predict,
  smooth, join, metrics, H.264 encode, audio copied.

Frames per second are reported for each (frames / best wall time of ``--repeats``).
The model is the bundled demo model unless ``--random-backbone NAME`` asks for a
randomly initialised one (the speed does not depend on the weights).

    python benchmarks/video_fps.py [--device cpu] [--batch-size 8] [--seconds 2] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from colorlab import video  # noqa: E402
from colorlab.infer import DEFAULT_SIZE, load_pretrained, predict_ab  # noqa: E402
from colorlab.model import ColorizationNet, ModelConfig  # noqa: E402

SCHEMA_VERSION = 1


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--width", type=int, default=854)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--fps", type=int, default=24)
    p.add_argument("--batch-size", type=int, default=video.DEFAULT_BATCH_SIZE)
    p.add_argument("--size", type=int, default=DEFAULT_SIZE, help="network input (short side)")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument(
        "--random-backbone",
        default=None,
        metavar="NAME",
        help="time a randomly initialised model with this extractor instead of the demo model",
    )
    p.add_argument("--out", default=None, help="JSON path (default: benchmarks/results/video_fps-<device>.json)")
    args = p.parse_args(argv)

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None  # a shared machine slows every stage
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.random_backbone:
        model = ColorizationNet(ModelConfig(backbone=args.random_backbone, pretrained=False)).to(device).eval()
        model_name = f"{args.random_backbone} (random weights)"
    else:
        model = load_pretrained(device)
        model_name = "demo model (efficientnet_lite0)"

    with tempfile.TemporaryDirectory() as work:
        clip = video.demo_clip(
            Path(work) / "clip.mp4", seconds=args.seconds, fps=args.fps, size=(args.width, args.height)
        )
        frames, _ = video.read_frames(clip)
        n = len(frames)
        small = video.network_frames(frames, args.size).to(device)

        def network() -> None:
            for s in range(0, n, args.batch_size):
                predict_ab(model, small[s : s + args.batch_size])
            if device.type == "cuda":
                torch.cuda.synchronize()

        def colorize_raw() -> None:
            pred = video.predict_frames(model, frames, batch_size=args.batch_size, size=args.size)
            video.join_ab(frames, pred.ab.to(device))

        result_box = {}

        def end_to_end() -> None:
            result_box["r"] = video.colorize_video(
                clip,
                Path(work) / "out.mp4",
                model,
                batch_size=args.batch_size,
                size=args.size,
                overwrite=True,
                progress=False,
            )

        network()  # warm-up (allocator, kernels)
        seconds = {
            "decode": _best(lambda: video.read_frames(clip), args.repeats),
            "network": _best(network, args.repeats),
            "colorize_raw": _best(colorize_raw, args.repeats),
            "end_to_end": _best(end_to_end, args.repeats),
        }
        r = result_box["r"]

    result = {
        "benchmark": "video_fps",
        "schema_version": SCHEMA_VERSION,
        "device": {
            "type": device.type,
            "name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "torch": torch.__version__,
            "av": __import__("av").__version__,
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_1min_before": load_before,
        },
        "model": model_name,
        "clip": {"width": args.width, "height": args.height, "frames": n, "fps": args.fps},
        "network_input": list(small.shape[1:3]),
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "results": [{"stage": k, "seconds": s, "fps": n / s} for k, s in seconds.items()],
        "end_to_end": {
            "audio": r.audio,
            "cuts": r.cuts,
            "flicker_source": r.flicker_source,
            "flicker_raw": r.flicker_raw,
            "flicker_smoothed": r.flicker_output,
            "psnr_db": r.psnr,
        },
    }
    print(
        f"{args.width}x{args.height}, {n} frames, network input {small.shape[2]}x{small.shape[1]}, "
        f"batch {args.batch_size}, "
        f"{model_name}, {device} ({torch.get_num_threads()} threads)"
    )
    print(f"{'stage':<14}{'seconds':>10}{'frames/s':>10}")
    for row in result["results"]:
        print(f"{row['stage']:<14}{row['seconds']:>10.2f}{row['fps']:>10.2f}")
    print(
        f"end to end: audio {r.audio}; flicker source {r.flicker_source:.2f}, raw {r.flicker_raw:.2f}, "
        f"smoothed {r.flicker_output:.2f}; PSNR {r.psnr:.2f} dB"
    )
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"video_fps-{device.type}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, out)
    print(f"JSON: {out}")
    return result


if __name__ == "__main__":
    main()
