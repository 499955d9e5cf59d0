"""The memory-mapped cache: prepare (parallel, resumable, bad files), CachedDataset, device augmentation, Trainer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorlab import cache as cache_mod
from colorlab.cache import CachedDataset, is_cache, prepare, read_index
from colorlab.crops import CropSpec, center_crop_resize, crop_batch, sample_crop
from colorlab.engine import TrainConfig, Trainer
from colorlab.images import load_image
from colorlab.model import ColorizationNet, ModelConfig


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
        img = ds[i]
        assert img.dtype == torch.uint8 and img.shape == (3, 32, 32)
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


def test_prepare_rebuilds_when_the_files_change_only_when_asked(photo_dir, tmp_path, capsys):
    prepare(photo_dir, tmp_path / "c", size=16, workers=1, progress=False)
    Image.fromarray(_photo(np.random.default_rng(5), 20, 20)).save(photo_dir / "new.png")
    with pytest.raises(FileExistsError, match="holds another cache"):
        prepare(photo_dir, tmp_path / "c", size=16, workers=1, progress=False)
    assert read_index(tmp_path / "c")["stored"] == 7
    prepare(photo_dir, tmp_path / "c", size=16, workers=1, progress=False, overwrite=True)
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
        assert torch.equal(row, ds[i])
    sub = ds.subset([2, 4], augment=False)
    assert len(sub) == 2 and not sub.augment and torch.equal(sub[1], ds[4]) and sub.name(0) == ds.name(2)
    out = torch.zeros(2, 16, 16, 3, dtype=torch.uint8)
    assert torch.equal(ds.read_batch([1, 2], out=out), torch.stack([ds[1], ds[2]]))


def test_crop_batch_whole_box_is_identity_and_flip_mirrors():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8, generator=g)
    whole = torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 3)
    no, yes = torch.zeros(3, dtype=torch.bool), torch.ones(3, dtype=torch.bool)
    assert crop_batch(images, whole, no, 16).dtype == torch.uint8  # a batch like any other source's
    assert torch.equal(crop_batch(images, whole, no, 16), images)
    assert torch.equal(crop_batch(images, whole, yes, 16), images.flip(-1))
    channels_last = images.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
    assert torch.equal(crop_batch(channels_last, whole, no, 16), images)
    left = torch.tensor([[0.0, 0.0, 0.5, 1.0]] * 3)  # the left half, stretched to 16x16
    stretched = torch.nn.functional.interpolate(images[..., :8].float(), size=(16, 16), mode="bilinear")
    # the same samples (to 8 bits); only the last column differs: the crop sees real pixels beyond its box
    diff = crop_batch(images, left, no, 16)[..., :-1].int() - stretched.round()[..., :-1].int()
    assert diff.abs().max() <= 1


def test_resize_batch_keeps_uint8_and_leaves_the_right_size_alone():
    from colorlab.crops import resize_batch

    images = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    assert resize_batch(images, 16) is images
    small = resize_batch(images, 8)
    assert small.dtype == torch.uint8 and small.shape == (2, 3, 8, 8)
    expected = torch.nn.functional.interpolate(images.float(), size=(8, 8), mode="bilinear", antialias=True)
    assert (small.int() - expected.round().int()).abs().max() <= 1


def test_sampled_crops_are_pure_functions_of_seed_epoch_index_and_stay_inside():
    spec = CropSpec(scale=(0.25, 1.0), seed=1)
    draws = [sample_crop(spec, 0, i, 32, 32) for i in range(2000)]
    assert draws[:5] == [sample_crop(spec, 0, i, 32, 32) for i in range(5)]
    assert draws[:5] != [sample_crop(CropSpec(scale=(0.25, 1.0), seed=2), 0, i, 32, 32) for i in range(5)]
    assert draws[:5] != [sample_crop(spec, 1, i, 32, 32) for i in range(5)]
    boxes = np.array([b for b, _ in draws])
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    assert (boxes >= 0).all() and (boxes <= 1 + 1e-9).all() and (w * h >= 0.2).all()
    flips = np.mean([f for _, f in draws])
    assert 0.4 < flips < 0.6


def test_cached_batches_are_crops_of_the_stored_images_on_the_device(photo_dir, tmp_path):
    ds = CachedDataset(prepare(photo_dir, tmp_path / "c", size=24, workers=1, progress=False), size=16, seed=3)
    batches = list(ds.batches([[0, 1], [2, 3, 4]], 0, torch.device("cpu")))
    assert [tuple(b.shape) for b in batches] == [(2, 3, 16, 16), (3, 3, 16, 16)]
    again = list(ds.batches([[0, 1], [2, 3, 4]], 0, torch.device("cpu")))
    assert all(torch.equal(a, b) for a, b in zip(batches, again))  # seeded: the same crops
    boxes, flips = ds.crop_params([0, 1], 0)
    assert torch.allclose(batches[0], crop_batch(ds.read_batch([0, 1]), boxes, flips, 16))
    whole = ds.subset(range(len(ds)), augment=False)
    plain = next(whole.batches([[0]], 0, torch.device("cpu")))
    assert plain.shape == (1, 3, 16, 16)


def test_colorful_crops_work_on_a_cache_too(tmp_path):
    from test_data import half_gray_half_red, red_fraction

    (tmp_path / "photos").mkdir()
    Image.fromarray(half_gray_half_red()[:, 48:144]).save(tmp_path / "photos" / "half.png")  # square, half red
    cache = prepare(tmp_path / "photos", tmp_path / "c", size=64, workers=1, progress=False)
    kwargs = dict(size=16, scale=(0.05, 0.1), ratio=(1.0, 1.0))
    plain, picky = CachedDataset(cache, **kwargs), CachedDataset(cache, colorful_crops=4, **kwargs)

    def mean_red(ds: CachedDataset) -> float:  # item 0 over 40 epochs: 40 different crops
        return float(np.mean([red_fraction(next(ds.batches([[0]], e, torch.device("cpu")))[0]) for e in range(40)]))

    red = {"plain": mean_red(plain), "picky": mean_red(picky)}
    assert 0.2 < red["plain"] < 0.8 and red["picky"] > red["plain"] + 0.2


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
    first = next(t1.train_data.batches([t1.shard(0)[:2]], 0, t1.device))
    assert first.shape == (2, 3, 16, 16)


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
    assert (
        main(
            [
                "prepare",
                "--data",
                str(photo_dir),
                "--out",
                str(cache_dir),
                "--size",
                "24",
                "--workers",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "7 image(s) stored" in capsys.readouterr().out
    ckpt = tmp_path / "run.pt"
    code = main(
        [
            "train",
            "--data",
            str(cache_dir),
            "--backbone",
            "none",
            "--size",
            "16",
            "--batch-size",
            "2",
            "--epochs",
            "1",
            "--device",
            "cpu",
            "--out",
            str(ckpt),
            "--no-progress",
            "--val-fraction",
            "0.2",
        ]
    )
    assert code == 0 and ckpt.is_file()
    assert "done: step" in capsys.readouterr().out
