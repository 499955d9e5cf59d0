"""The benchmark scripts run unchanged at a tiny size on the CPU and write the documented JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_train_throughput_tiny_cpu(tmp_path):
    out = tmp_path / "tt.json"
    proc = _run(
        "train_throughput.py",
        "--device",
        "cpu",
        "--size",
        "32",
        "--batch-size",
        "2",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--backbones",
        "none",
        "--images",
        "6",
        "--workdir",
        str(tmp_path / "work"),
        "--out",
        str(out),
    )
    assert "model img/s" in proc.stdout and "fast / naive end-to-end (none)" in proc.stdout
    r = json.loads(out.read_text())
    assert r["benchmark"] == "train_throughput" and r["schema_version"] == 1
    assert r["device"]["type"] == "cpu" and r["device"]["name"]
    assert r["peak"]["tflops"] > 0 and r["peak"]["dtype"] == "float32"
    assert r["prepare"]["images"] == 6 and r["prepare"]["images_per_s"] > 0
    configs = {row["config"]: row for row in r["results"]}
    assert set(configs) == {"naive", "fast", "fast_folder"}
    for row in r["results"]:
        for key in (
            "model_only_img_s",
            "end_to_end_img_s",
            "e2e_over_model_only",
            "gflops_per_image",
            "mfu_model_only",
            "mfu_end_to_end",
        ):
            assert isinstance(row[key], float) and row[key] > 0, key
        assert row["backbone"] == "none" and row["precision"] in ("fp32", "bf16")
        assert "peak_memory_gb_end_to_end" in row and "compile_s" in row
    assert configs["naive"]["precision"] == "fp32" and not configs["fast"]["compile"]  # CPU: no compile by default
    assert r["summary"]["fast_over_naive_end_to_end"]["none"] > 0
    assert r["memory"] == []  # the memory sweep is CUDA-only
    top = configs["fast"]["profile_top"]
    assert top and all(t["self_ms_per_step"] > 0 and 0 < t["share"] <= 1 for t in top)
    assert any("conv" in t["op"] for t in top)  # a training step of a conv net is conv-bound


@pytest.mark.slow
def test_colorize_overhead_tiny_cpu(tmp_path):
    out = tmp_path / "co.json"
    proc = _run("colorize_overhead.py", "--backbone", "none", "--repeats", "2", "--warmup", "1", "--out", str(out))
    assert "ratio:" in proc.stdout
    r = json.loads(out.read_text())
    assert r["benchmark"] == "colorize_overhead" and r["photo"] == [512, 512] and r["network_input"] == [224, 224]
    assert r["network_forward_s"] > 0 and r["colorize_s"] > 0
    assert abs(r["ratio"] - r["colorize_s"] / r["network_forward_s"]) < 1e-9


@pytest.mark.slow
def test_video_fps_tiny_cpu(tmp_path):
    out = tmp_path / "vf.json"
    proc = _run(
        "video_fps.py",
        "--random-backbone",
        "none",
        "--width",
        "64",
        "--height",
        "48",
        "--seconds",
        "1",
        "--fps",
        "8",
        "--size",
        "32",
        "--batch-size",
        "3",
        "--out",
        str(out),
    )
    assert "frames/s" in proc.stdout and "end_to_end" in proc.stdout
    r = json.loads(out.read_text())
    assert r["benchmark"] == "video_fps" and r["schema_version"] == 1 and r["batch_size"] == 3
    assert r["clip"] == {"width": 64, "height": 48, "frames": 8, "fps": 8} and r["network_input"] == [32, 40]
    stages = {row["stage"]: row for row in r["results"]}
    assert set(stages) == {"decode", "network", "colorize_raw", "end_to_end"}
    assert all(row["fps"] > 0 and abs(row["fps"] - 8 / row["seconds"]) < 1e-6 for row in r["results"])
    assert (
        r["end_to_end"]["audio"] == "copied (aac)" and 4 in r["end_to_end"]["cuts"]
    )  # the hard cut (a 4-frame pan may add one)


def test_architectures_side_by_side_tiny_cpu(tmp_path):
    out = tmp_path / "arch.json"
    proc = _run(
        "architectures.py",
        "--steps",
        "1",
        "--rounds",
        "1",
        "--repeats",
        "1",
        "--batch-size",
        "2",
        "--size",
        "64",
        "--latency-size",
        "96",
        "--threads",
        "1",
        "--out",
        str(out),
    )
    assert "unet / paper, regression" in proc.stdout
    r = json.loads(out.read_text())
    assert set(r["rows"]) == {"paper/regression", "paper/classification", "unet/regression", "unet/classification"}
    assert all(row["train_img_s"] > 0 and row["colorize_ms"] > 0 for row in r["rows"].values())
    ratio = r["unet_over_paper"]["regression"]["colorize_ms"]
    assert (
        abs(ratio - r["rows"]["unet/regression"]["colorize_ms"] / r["rows"]["paper/regression"]["colorize_ms"]) < 1e-2
    )


def test_hint_gain_tiny_cpu(tmp_path):
    out = tmp_path / "hints.json"
    proc = _run("hint_gain.py", "--data", "sample", "--counts", "0,3", "--threads", "1", "--out", str(out))
    assert "PSNR gain over gray" in proc.stdout
    r = json.loads(out.read_text())
    assert r["photos"] == 2 and set(r["gain_db"]) == {"colorize", "network", "inverse-distance"}
    assert set(r["gain_db"]["colorize"]) == {"0", "3"} and set(r["gain_db"]["inverse-distance"]) == {"3"}
    assert r["gain_db"]["colorize"]["0"] == r["gain_db"]["network"]["0"]  # no hints: nothing to spread
    assert "segment oracle" in proc.stdout and set(r["segment_oracle_db"]) == {"10", "30"}
    assert r["segment_oracle_db"]["10"] > r["gain_db"]["network"]["0"]  # true colours beat the network's guess


def test_segment_oracle_paints_each_region_its_true_colour():
    """The hint benchmark's ceiling: on a photo of two flat regions of different lightness, painting
    each superpixel its true mean colour gives the photo back; mixing the regions would not."""
    import importlib.util

    import numpy as np

    from colorlab.metrics import psnr

    spec = importlib.util.spec_from_file_location("hint_gain", ROOT / "benchmarks" / "hint_gain.py")
    hint_gain = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hint_gain)
    photo = np.zeros((64, 64, 3), np.uint8)
    photo[:, :32] = (200, 40, 40)  # red, lighter
    photo[:, 32:] = (30, 60, 160)  # blue, darker
    painted = hint_gain.segment_oracle(photo, 10)
    assert painted.shape == photo.shape and painted.dtype == np.uint8
    assert psnr(painted, photo) > 40
    assert np.abs(painted[:, :32].astype(int) - (200, 40, 40)).max() <= 2


def test_hint_latency_tiny_cpu(tmp_path):
    out = tmp_path / "latency.json"
    proc = _run("hint_latency.py", "--counts", "0,2", "--repeats", "1", "--threads", "1", "--out", str(out))
    assert "seconds per update" in proc.stdout
    r = json.loads(out.read_text())
    assert r["size"] == 256 and set(r["seconds"]) == {"0", "2"} and all(v > 0 for v in r["seconds"].values())


def test_temperature_on_validation_tiny_cpu(tmp_path, photos):
    from PIL import Image

    from colorlab.cache import prepare
    from colorlab.checkpoint import save_checkpoint
    from colorlab.model import build_model

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("chelsea", "coffee", "astronaut", "rocket", "china", "flower"):
        Image.fromarray(photos[name]).save(folder / f"{name}.png")
    cache = prepare(folder, tmp_path / "cache", size=32, workers=1, progress=False)
    ckpt = save_checkpoint(tmp_path / "bins.pt", build_model("none", pretrained=False, head="classification"))
    out = tmp_path / "t.json"
    proc = _run(
        "temperature_on_validation.py",
        "--cache",
        str(cache),
        "--checkpoint",
        str(ckpt),
        "--val-fraction",
        "0.34",
        "--every",
        "1",
        "--size",
        "32",
        "--temperatures",
        "0.38,1.0",
        "--threads",
        "1",
        "--out",
        str(out),
    )
    assert "validation photos" in proc.stdout
    r = json.loads(out.read_text())
    assert set(r["rows"]) == {"0.38", "1.0"} and r["photos"] >= 1


def test_the_readmes_state_the_committed_hint_measurements():
    """The hint gains the READMEs quote are the committed benchmark results, not remembered numbers."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    bench = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    first, second = (
        json.loads((ROOT / "benchmarks" / "results" / name).read_text())
        for name in ("hint_gain-cpu.json", "hint_gain-second-cpu.json")
    )
    assert first["start"] != second["start"] and first["every"] == second["every"]  # disjoint sets
    for r in (first, second):
        ten = r["gain_db"]["colorize"]["10"]
        assert f"+{ten:.2f}" in readme and f"+{ten:.2f}" in bench
        above_idw, above_own = ten - r["gain_db"]["inverse-distance"]["10"], ten - r["gain_db"]["colorize"]["0"]
        assert f"{above_idw:.2f}" in readme and f"{above_own:.2f}" in readme, (above_idw, above_own)
        assert f"{above_idw:.2f}" in bench and f"{above_own:.2f}" in bench, (above_idw, above_own)
        for way in ("colorize", "network", "inverse-distance"):
            for count in ("1", "5", "10", "50"):
                value = r["gain_db"][way][count]
                assert f"{value:+.2f}".replace("-", "−") in bench, (way, count, value)
        for k, value in r["segment_oracle_db"].items():
            assert f"+{value:.2f}" in bench, (k, value)
