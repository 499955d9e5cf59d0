"""The memory-mapped cache: prepare (parallel, resumable, bad files), CachedDataset, device augmentation, Trainer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorlab import cache as cache_mod
from colorlab.cache import CachedDataset, augment_batch, is_cache, prepare, read_index, sample_crop_params
from colorlab.data import center_crop_resize, load_image
from colorlab.model import ColorizationNet, ModelConfig
from colorlab.train import TrainConfig, Trainer


def _photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A colourful smooth image (gradients + noise), not grayscale."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x / w * 255, y / h * 255, (x + y) / (w + h) * 255], axis=-1)
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture()
def photo_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    for i in range(7):
        h, w = (40, 60) if i % 2 else (70, 50)
        target = root / ("sub" if i % 3 == 0 else "") / f"p{i}.{'png' if i == 4 else 'jpg'}"
        Image.fromarray(_photo(rng, h, w)).save(target)
    (root / "broken.jpg").write_bytes(b"this is not a jpeg")
    Image.fromarray(np.full((30, 30), 100, np.uint8)).save(root / "gray.png")
    return root


def test_prepare_stores_center_crops_and_records_bad_files(photo_dir, tmp_path, capsys):
    out = prepare(photo_dir, tmp_path / "cache", size=32, workers=1, progress=False)
    assert is_cache(out)
    index = read_index(out)
    assert index["complete"] and index["size"] == 32 and index["stored"] == 7
    assert set(index["skipped"]) == {"broken.jpg", "gray.png"}
    assert "grayscale" in index["skipped"]["gray.png"]
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "warning: skipping" in line]
    assert len(warnings) == 2 and any("broken.jpg" in w for w in warnings)

    ds = CachedDataset(out, augment=False)
    assert len(ds) == 7
    for i in range(len(ds)):
        img, idx, reason = ds[i]
        assert img.dtype == torch.uint8 and img.shape == (3, 32, 32) and idx == i and reason is None
        expected = center_crop_resize(load_image(photo_dir / ds.name(i), max_side=64), 32)
        assert np.array_equal(img.permute(1, 2, 0).numpy(), expected)


def test_prepare_resumes_after_interruption(photo_dir, tmp_path, monkeypatch):
    reference = prepare(photo_dir, tmp_path / "ref", size=24, workers=1, progress=False)
    real = cache_mod._process
    calls = {"n": 0}

    def flaky(job):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(cache_mod, "_process", flaky)
    with pytest.raises(KeyboardInterrupt):
        prepare(photo_dir, tmp_path / "c", size=24, workers=1, progress=False)
    assert not read_index(tmp_path / "c")["complete"]
    monkeypatch.setattr(cache_mod, "_process", real)

    done = []
    monkeypatch.setattr(cache_mod, "_process", lambda job: (done.append(job[0]), real(job))[1])
    prepare(photo_dir, tmp_path / "c", size=24, workers=1, progress=False)
    assert len(done) == 9 - 3  # only the files not finished before the interruption
    a, b = CachedDataset(reference, augment=False), CachedDataset(tmp_path / "c", augment=False)
    assert np.array_equal(np.asarray(a.images), np.asarray(b.images))
    assert read_index(tmp_path / "c")["skipped"] == read_index(reference)["skipped"]

    # A complete cache of the same files is not redone.
    done.clear()
    prepare(photo_dir, tmp_path / "c", size=24, workers=1, progress=False)
    assert done == []


def test_prepare_parallel_matches_serial(photo_dir, tmp_path):
    serial = CachedDataset(prepare(photo_dir, tmp_path / "s", size=16, workers=1, progress=False), augment=False)
    parallel = CachedDataset(prepare(photo_dir, tmp_path / "p", size=16, workers=2, progress=False), augment=False)
    assert np.array_equal(np.asarray(serial.images), np.asarray(parallel.images))
    assert read_index(parallel.path)["skipped"].keys() == read_index(serial.path)["skipped"].keys()


def test_prepare_rebuilds_when_the_files_change(photo_dir, tmp_path, capsys):
    prepare(photo_dir, tmp_path / "c", size=16, workers=1, progress=False)
    Image.fromarray(_photo(np.random.default_rng(5), 20, 20)).save(photo_dir / "new.png")
    prepare(photo_dir, tmp_path / "c", size=16, workers=1, progress=False)
    assert "rebuilding" in capsys.readouterr().err
    assert read_index(tmp_path / "c")["stored"] == 8


def test_prepare_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        prepare(tmp_path / "empty", tmp_path / "c", progress=False)
    with pytest.raises(ValueError, match="not a colorlab cache"):
        CachedDataset(tmp_path / "empty")


def test_read_batch_and_subset(photo_dir, tmp_path):
    ds = CachedDataset(prepare(photo_dir, tmp_path / "c", size=16, workers=1, progress=False))
    idx = [5, 0, 3, 3]
    batch = ds.read_batch(idx)
    assert batch.shape == (4, 3, 16, 16) and batch.dtype == torch.uint8
    for row, i in zip(batch, idx):
        assert torch.equal(row, ds[i][0])
    sub = ds.subset([2, 4], augment=False)
    assert len(sub) == 2 and not sub.augment and torch.equal(sub[1][0], ds[4][0]) and sub.name(0) == ds.name(2)
    out = torch.zeros(2, 16, 16, 3, dtype=torch.uint8)
    assert torch.equal(ds.read_batch([1, 2], out=out), torch.stack([ds[1][0], ds[2][0]]))


def test_augment_batch_identity_flip_and_resize():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8, generator=g)
    as_float = images.float() / 255
    assert torch.allclose(augment_batch(images, augment=False), as_float)
    identity = torch.tensor([[1.0, 1.0, 0.0, 0.0]] * 3)
    assert torch.allclose(augment_batch(images, params=identity), as_float, atol=1e-5)
    flipped = torch.tensor([[-1.0, 1.0, 0.0, 0.0]] * 3)
    assert torch.allclose(augment_batch(images, params=flipped), as_float.flip(-1), atol=1e-5)
    small = augment_batch(images, 8, augment=False)
    assert small.shape == (3, 3, 8, 8)
    channels_last = images.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
    assert torch.allclose(augment_batch(channels_last, augment=False), as_float)


def test_augment_batch_random_crops_are_seeded_and_in_range():
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    a = augment_batch(images, 24, generator=torch.Generator().manual_seed(1))
    b = augment_batch(images, 24, generator=torch.Generator().manual_seed(1))
    c = augment_batch(images, 24, generator=torch.Generator().manual_seed(2))
    assert a.shape == (64, 3, 24, 24) and torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1
    p = sample_crop_params(2000, torch.Generator().manual_seed(0), scale=(0.25, 1.0))
    sx, sy, tx, ty = p.abs()[:, 0], p[:, 1], p[:, 2], p[:, 3]
    assert (sx <= 1).all() and (sy <= 1).all() and (sx * sy >= 0.2).all()
    # The crop stays inside the image: |t| + s <= 1 in grid coordinates.
    assert (tx.abs() + sx <= 1 + 1e-6).all() and (ty.abs() + sy <= 1 + 1e-6).all()
    flips = (p[:, 0] < 0).float().mean()
    assert 0.4 < flips < 0.6


def _trainer(cache_dir: Path, seed: int = 0, **cfg) -> Trainer:
    ds = CachedDataset(cache_dir, size=16)
    torch.manual_seed(seed)
    model = ColorizationNet(ModelConfig(backbone="none", encoder_channels=(8, 8, 8, 8, 8, 8, 8, 8), fusion_channels=8))
    config = TrainConfig(epochs=2, batch_size=2, device="cpu", progress=False, seed=seed, **cfg)
    return Trainer(model, ds, ds.subset(range(len(ds)), augment=False), config)


def test_trainer_on_cache_is_deterministic_and_validates(photo_dir, tmp_path):
    cache_dir = prepare(photo_dir, tmp_path / "c", size=24, workers=1, progress=False)
    t1, t2 = _trainer(cache_dir), _trainer(cache_dir)
    h1, h2 = t1.fit(), t2.fit()
    assert t1.step == 2 * (7 // 2)
    assert np.isfinite(h1[-1]["train_loss"]) and "val_psnr" in h1[-1]
    assert h1[-1]["train_loss"] == h2[-1]["train_loss"]
    for (k, v), (_, w) in zip(t1.model.trainable_state_dict().items(), t2.model.trainable_state_dict().items()):
        assert torch.equal(v, w), k
    # The batches the trainer sees are device-augmented crops of the cache at the dataset's size.
    l_net, ab = next(iter(t1.iter_batches(0)))
    assert l_net.shape == (2, 1, 16, 16) and ab.shape == (2, 2, 16, 16)


def test_trainer_on_cache_resumes_mid_epoch(photo_dir, tmp_path):
    cache_dir = prepare(photo_dir, tmp_path / "c", size=24, workers=1, progress=False)
    full = _trainer(cache_dir)
    full.fit()
    ckpt = tmp_path / "run.pt"
    part = _trainer(cache_dir, max_steps=4)
    part.checkpoint = ckpt
    part.fit()
    resumed = Trainer(
        ColorizationNet(ModelConfig(backbone="none", encoder_channels=(8,) * 8, fusion_channels=8)),
        part.train_data,
        None,
        TrainConfig(epochs=2, batch_size=2, device="cpu", progress=False),
        checkpoint=ckpt,
        resume=True,
    )
    assert resumed.step == 4
    resumed.fit()
    assert resumed.step == full.step
    for (k, v), (_, w) in zip(full.model.trainable_state_dict().items(), resumed.model.trainable_state_dict().items()):
        assert torch.allclose(v, w, atol=1e-6), k


def test_cli_prepare_and_train_on_cache(photo_dir, tmp_path, capsys):
    from colorlab.cli import main

    cache_dir = tmp_path / "c"
    assert main(["prepare", "--data", str(photo_dir), "--out", str(cache_dir), "--size", "24", "--workers", "1", "--no-progress"]) == 0
    assert "7 image(s) stored" in capsys.readouterr().out
    ckpt = tmp_path / "run.pt"
    code = main(
        ["train", "--data", str(cache_dir), "--backbone", "none", "--size", "16", "--batch-size", "2", "--epochs", "1",
         "--device", "cpu", "--out", str(ckpt), "--no-progress", "--val-fraction", "0.2"]
    )
    assert code == 0 and ckpt.is_file()
    assert "done: step" in capsys.readouterr().out
