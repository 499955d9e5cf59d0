"""DistributedDataParallel on the CPU (gloo, 2 processes): replicas stay identical, data is sharded, rank 0 writes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from colorlab.engine import TrainConfig, Trainer
from colorlab.model import ColorizationNet, ModelConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(backbone="none", encoder_channels=(8, 16, 16, 16, 16, 16, 16, 16), fusion_channels=16)


def _photos(n: int = 12, size: int = 40) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (size, size + 8, 3), dtype=np.uint8) for _ in range(n)]


def _worker(rank: int, world: int, store: str, runs: list[tuple[str, str | None]]) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        for out, use_cache in runs:
            _train_one(rank, out, use_cache)
    finally:
        dist.destroy_process_group()


def _train_one(rank: int, out: str, use_cache: str | None) -> None:
    from colorlab.cache import CachedDataset
    from colorlab.data import ColorDataset

    torch.manual_seed(100 + rank)  # different initial weights: DDP must make them equal
    model = ColorizationNet(ModelConfig(**TINY))
    initial = {k: v.clone() for k, v in model.trainable_state_dict().items()}
    data = CachedDataset(use_cache, size=32) if use_cache else ColorDataset(_photos(), size=32)
    cfg = TrainConfig(epochs=2, batch_size=2, device="cpu", progress=False, max_steps=4, lr=1e-2)
    trainer = Trainer(
        model,
        data,
        data if not use_cache else data.subset(range(4), augment=False),
        cfg,
        checkpoint=Path(out) / "ckpt.pt",
    )
    shard = trainer.shard(0)
    trainer.fit()
    torch.save(
        {
            "weights": model.trainable_state_dict(),
            "initial": initial,
            "shard": shard,
            "step": trainer.step,
            "history": trainer.history,
            "is_main": trainer.is_main,
            "steps_per_epoch": trainer.steps_per_epoch(),
        },
        Path(out) / f"rank{rank}.pt",
    )


def _check(results: list[dict], n_items: int) -> None:
    r0, r1 = results
    assert r0["step"] == r1["step"] == 4
    for k in r0["weights"]:
        assert torch.equal(r0["weights"][k], r1["weights"][k]), f"replicas differ at {k}"
    assert any(not torch.equal(r0["weights"][k], r0["initial"][k]) for k in r0["weights"]), "no training happened"
    # Sharding like DistributedSampler: disjoint, equal-sized, together the epoch's (trimmed) order.
    s0, s1 = set(r0["shard"]), set(r1["shard"])
    assert not s0 & s1 and len(r0["shard"]) == len(r1["shard"]) == r0["steps_per_epoch"] * 2
    assert len(s0 | s1) == n_items // 4 * 4
    assert r0["is_main"] and not r1["is_main"]
    # Both ranks report the same (all-reduced) training loss and validation metrics.
    assert r0["history"][-1]["train_loss"] == pytest.approx(r1["history"][-1]["train_loss"])
    assert r0["history"][-1]["val_psnr"] == pytest.approx(r1["history"][-1]["val_psnr"])


def _photo_cache(tmp_path: Path, size: int) -> Path:
    """Ten colourful PNGs in ``tmp_path/photos`` and their cache in ``tmp_path/cache``."""
    from PIL import Image

    from colorlab.cache import prepare

    photos = tmp_path / "photos"
    photos.mkdir()
    for i, p in enumerate(_photos(10)):
        Image.fromarray(p).save(photos / f"p{i}.png")
    return prepare(photos, tmp_path / "cache", size=size, workers=1, progress=False)


def test_ddp_two_processes_folder_and_cached_dataset(tmp_path):
    """One spawn (process start-up is the slow part), two runs: a folder-style dataset, then a cache."""
    cache = _photo_cache(tmp_path, size=40)
    runs = [(str(tmp_path / "folder"), None), (str(tmp_path / "cached"), str(cache))]
    for out, _ in runs:
        Path(out).mkdir()
    mp.spawn(_worker, args=(2, str(tmp_path / "store"), runs), nprocs=2, join=True)
    folder, cached = ([torch.load(Path(out) / f"rank{r}.pt", weights_only=False) for r in range(2)] for out, _ in runs)

    _check(folder, 12)
    ckpt = torch.load(tmp_path / "folder" / "ckpt.pt", weights_only=True)
    assert ckpt["step"] == 4
    for k, v in folder[0]["weights"].items():
        assert torch.equal(ckpt["model"][k], v)  # rank 0 wrote the checkpoint
    _check(cached, 10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_cli_on_cpu(tmp_path):
    """``torchrun --nproc_per_node=2 -m colorlab train`` on a cache: one checkpoint, one final message."""
    cache = _photo_cache(tmp_path, size=32)
    ckpt = tmp_path / "run.pt"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}",
        "-m",
        "colorlab",
        "train",
        "--data",
        str(cache),
        "--backbone",
        "none",
        "--size",
        "32",
        "--batch-size",
        "2",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--out",
        str(ckpt),
        "--no-progress",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("done: step") == 1  # rank 0 only
    assert ckpt.is_file()
    saved = torch.load(ckpt, weights_only=True)
    assert saved["step"] == 9 // 4  # 9 training images, global batch 2 x 2
