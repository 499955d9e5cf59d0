"""Nothing lost, ever: the 27 ways a careless or hostile user could lose data, crash or be misled.

One test per case, numbered as in the issue that listed them. Exit codes follow one rule:
0 all done, 1 some inputs failed, 2 usage error (nothing was done), 130 interrupted.
"""

from __future__ import annotations

import errno
import io
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import icc_profiles
import numpy as np
import pytest
import torch
from PIL import Image

from colorlab.cache import prepare, read_index
from colorlab.checkpoint import load_checkpoint, save_checkpoint
from colorlab.cli import main
from colorlab.color import rgb_uint8_to_lab
from colorlab.engine import TrainConfig, Trainer
from colorlab.files import exclusive_lock
from colorlab.images import ImageLoadError, find_images, load_image
from colorlab.model import build_model

ROOT = Path(__file__).resolve().parents[1]


def tiny():
    torch.manual_seed(0)
    return build_model("none", encoder_channels=(8,) * 8, fusion_channels=8)


def colour(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // max(1, w - 1), y * 255 // max(1, h - 1), np.full_like(x, 60)], -1)
    return np.clip(base + rng.integers(-10, 10, base.shape), 0, 255).astype(np.uint8)


def save(path: Path, rgb: np.ndarray | None = None, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(colour() if rgb is None else rgb).save(path, **kwargs)
    return path


@pytest.fixture()
def ckpt(tmp_path) -> Path:
    return save_checkpoint(tmp_path / "tiny.pt", tiny())


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def photo_folder(root: Path, n: int = 6, size: int = 40) -> Path:
    for i in range(n):
        save(root / f"p{i}.png", colour(size, size + 8, seed=i))
    return root


def train_args(data: Path, out: Path, *extra) -> list:
    return [
        "train",
        "--data",
        data,
        "--backbone",
        "none",
        "--size",
        "16",
        "--batch-size",
        "2",
        "--epochs",
        "1",
        "--val-fraction",
        "0",
        "--device",
        "cpu",
        "--no-progress",
        "--out",
        out,
        *extra,
    ]


# --- data loss ---------------------------------------------------------------------------------


def test_01_colorize_never_replaces_the_input_photo(tmp_path, ckpt, capsys):
    photo = save(tmp_path / "inplace" / "photo.png")
    before = photo.read_bytes()
    code, _, err = run(["colorize", photo, "-o", tmp_path / "inplace", "--checkpoint", ckpt, "--size", "16"], capsys)
    assert code == 2 and "would replace the photo itself" in one_line(err)
    assert photo.read_bytes() == before


def test_02_inputs_with_the_same_name_are_refused_before_anything_is_written(tmp_path, ckpt, capsys):
    a, b = save(tmp_path / "a" / "x.png"), save(tmp_path / "b" / "x.png")
    code, _, err = run(["colorize", a, b, "-o", tmp_path / "out", "--checkpoint", ckpt, "--size", "16"], capsys)
    assert code == 2 and "would both be written to" in err
    img_bmp, img_webp = save(tmp_path / "img.bmp"), save(tmp_path / "img.webp")
    code, _, err = run(["colorize", img_bmp, img_webp, "-o", tmp_path / "out", "--checkpoint", ckpt], capsys)
    assert code == 2 and "img.png" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_03_train_never_replaces_a_checkpoint_unless_asked(tmp_path, ckpt, capsys):
    data = photo_folder(tmp_path / "photos")
    out = tmp_path / "run.pt"
    out.write_bytes(ckpt.read_bytes())
    before = out.read_bytes()
    code, _, err = run(train_args(data, out), capsys)
    assert code == 2 and "already exists" in one_line(err) and "--resume" in err and "--overwrite" in err
    assert out.read_bytes() == before
    code, _, _ = run(train_args(data, out, "--overwrite"), capsys)
    assert code == 0 and load_checkpoint(out)["step"] == 3


def test_04_sigterm_saves_a_checkpoint_and_exits_130(tmp_path):
    data = photo_folder(tmp_path / "photos", n=8)
    out = tmp_path / "run.pt"
    cmd = [sys.executable, "-m", "colorlab", *map(str, train_args(data, out))]
    cmd[cmd.index("--epochs") + 1] = "1000"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    line = ""
    while "training on" not in line and time.monotonic() < deadline:
        line = proc.stdout.readline()
    time.sleep(1.0)  # a few steps in
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    saved = load_checkpoint(out)
    assert saved["step"] >= 1


def test_05_an_unwritable_out_is_refused_before_training(tmp_path, capsys):
    data = photo_folder(tmp_path / "photos")
    (tmp_path / "a_folder.pt").mkdir()
    (tmp_path / "a_file").write_text("x")
    for out, words in (
        (tmp_path / "a_folder.pt", "is a folder"),
        (tmp_path / "a_file" / "run.pt", "is a file, not a folder"),
    ):
        t0 = time.monotonic()
        code, _, err = run(train_args(data, out), capsys)
        assert code == 2 and words in one_line(err)
        assert time.monotonic() - t0 < 30  # found at once, not after an epoch


def test_06_export_never_replaces_the_training_checkpoint_and_resume_needs_the_optimizer(tmp_path, capsys):
    data = photo_folder(tmp_path / "photos")
    run_pt = tmp_path / "run.pt"
    assert run(train_args(data, run_pt), capsys)[0] == 0
    before = run_pt.read_bytes()
    code, _, err = run(["export", run_pt, run_pt], capsys)
    assert code == 2 and "is the checkpoint being exported" in one_line(err)
    code, _, err = run(["export", run_pt, run_pt, "--overwrite"], capsys)
    assert code == 2 and "is the checkpoint being exported" in one_line(err)
    assert run_pt.read_bytes() == before
    small = tmp_path / "small.pt"
    assert run(["export", run_pt, small], capsys)[0] == 0
    code, _, err = run(train_args(data, small, "--resume") + ["--epochs", "2"], capsys)
    assert code == 2 and "no optimizer state" in one_line(err)


def test_07_colorize_writes_atomically_so_a_full_disk_keeps_the_earlier_result(tmp_path, ckpt, capsys, monkeypatch):
    photo = save(tmp_path / "x.jpg")
    out = tmp_path / "out"
    assert run(["colorize", photo, "-o", out, "--checkpoint", ckpt, "--size", "16"], capsys)[0] == 0
    before = (out / "x.png").read_bytes()
    real_save = Image.Image.save

    def full_disk(self, fp, *args, **kwargs):
        if hasattr(fp, "write"):
            fp.write(b"\x89PNG half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    code, _, err = run(["colorize", photo, "-o", out, "--checkpoint", ckpt, "--size", "16", "--overwrite"], capsys)
    monkeypatch.setattr(Image.Image, "save", real_save)
    assert code == 1 and "No space left" in err
    assert (out / "x.png").read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["x.png"]  # no 0-byte or temporary files left


def test_08_a_second_prepare_never_mixes_caches(tmp_path, capsys):
    data = photo_folder(tmp_path / "photos")
    cache = tmp_path / "cache"
    assert (
        run(["prepare", "--data", data, "--out", cache, "--size", "16", "--workers", "1", "--no-progress"], capsys)[0]
        == 0
    )
    index = (cache / "index.json").read_bytes()
    code, _, err = run(
        ["prepare", "--data", data, "--out", cache, "--size", "24", "--workers", "1", "--no-progress"], capsys
    )
    assert code == 2 and "holds another cache" in one_line(err)
    assert (cache / "index.json").read_bytes() == index
    with exclusive_lock(cache / "index.json", what="prepare"):  # another prepare at work there
        code, _, err = run(
            ["prepare", "--data", data, "--out", cache, "--size", "16", "--workers", "1", "--no-progress"], capsys
        )
    assert code == 2 and "another colorlab prepare is writing it" in one_line(err)
    assert (
        run(
            [
                "prepare",
                "--data",
                data,
                "--out",
                cache,
                "--size",
                "24",
                "--workers",
                "1",
                "--no-progress",
                "--overwrite",
            ],
            capsys,
        )[0]
        == 0
    )
    assert read_index(cache)["size"] == 24


def test_09_two_trainings_on_one_checkpoint_are_refused(tmp_path, capsys):
    data = photo_folder(tmp_path / "photos")
    out = tmp_path / "run.pt"
    with exclusive_lock(out, what="training run"):  # a first run holds it
        code, _, err = run(train_args(data, out), capsys)
    assert code == 2 and "another colorlab training run is writing it" in one_line(err)
    assert not out.exists()


# --- crashes and hangs -----------------------------------------------------------------------------


def _corrupt_avif_raising_runtime_error() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(colour(32, 32)).save(buf, "AVIF", quality=60)
    data, rng = buf.getvalue(), np.random.default_rng(0)
    for _ in range(500):
        d = bytearray(data)
        for _ in range(4):
            d[rng.integers(0, len(d))] = rng.integers(0, 256)
        try:
            im = Image.open(io.BytesIO(bytes(d)))
            im.load()
        except RuntimeError:
            return bytes(d)
        except Exception:
            continue
    pytest.fail("no corrupt AVIF that makes Pillow raise RuntimeError was found")


def test_10_a_corrupt_avif_is_one_line_and_the_batch_goes_on(tmp_path, ckpt, capsys):
    from colorlab.widgets import ColorizeApp

    bad = tmp_path / "bad.avif"
    bad.write_bytes(_corrupt_avif_raising_runtime_error())
    with pytest.raises(ImageLoadError, match=r"bad\.avif: corrupt or undecodable"):
        load_image(bad)
    good = save(tmp_path / "good.png")
    code, out, err = run(["colorize", bad, good, "-o", tmp_path / "out", "--checkpoint", ckpt, "--size", "16"], capsys)
    assert code == 1 and "bad.avif" in one_line(err) and (tmp_path / "out" / "good.png").is_file()
    app = ColorizeApp(checkpoints={}, photo=None)
    app.load_bytes("bad.avif", bad.read_bytes())  # does not raise
    assert "bad.avif" in app.message.value and app.result is None


def test_11_evaluate_reports_a_bad_file_and_still_prints_the_results(tmp_path, ckpt, capsys):
    data = photo_folder(tmp_path / "photos", n=2)
    (data / "broken.jpg").write_bytes(b"not a jpeg")
    code, out, err = run(["evaluate", "--data", data, "--checkpoint", ckpt, "--size", "16"], capsys)
    assert code == 1 and "PSNR" in out and "broken.jpg" in one_line(err)


@pytest.fixture()
def bad_cache(tmp_path) -> dict[str, Path]:
    data = photo_folder(tmp_path / "photos")
    incomplete = prepare(data, tmp_path / "incomplete", size=16, workers=1, progress=False)
    index = json.loads((incomplete / "index.json").read_text())
    (incomplete / "index.json").write_text(json.dumps({**index, "complete": False}))
    truncated = prepare(data, tmp_path / "truncated", size=16, workers=1, progress=False)
    images = truncated / "images.npy"
    images.write_bytes(images.read_bytes()[:-100])
    return {"incomplete": incomplete, "truncated": truncated, "photos": data}


def _with(args: list, flag: str, value: str) -> list:
    args = list(args)
    args[args.index(flag) + 1] = value
    return args


def test_12_usage_errors_are_one_line_and_exit_2(tmp_path, ckpt, capsys, bad_cache):
    data = bad_cache["photos"]
    other = tmp_path / "other.pt"
    save_checkpoint(other, build_model("none"))
    unknown = tmp_path / "unknown.pt"
    state = torch.load(ckpt, weights_only=True)
    state["model_config"]["backbone"] = "foo"
    torch.save(state, unknown)
    existing = tmp_path / "notes.txt"
    existing.write_text("x")
    run_pt = tmp_path / "run.pt"
    save_checkpoint(run_pt, tiny())
    cases = {
        "size 0": train_args(data, tmp_path / "a.pt", "--size", "0"),
        "size 60": train_args(data, tmp_path / "a.pt", "--size", "60"),
        "batch size 0": train_args(data, tmp_path / "a.pt", "--batch-size", "0"),
        "lr -1": train_args(data, tmp_path / "a.pt", "--lr", "-1"),
        "min scale 2": train_args(data, tmp_path / "a.pt", "--min-scale", "2"),
        "seed -1": train_args(data, tmp_path / "a.pt", "--seed", "-1"),
        "workers -1": train_args(data, tmp_path / "a.pt", "--workers", "-1"),
        "backbone foo": train_args(data, tmp_path / "a.pt", "--backbone", "foo"),
        "missing data": train_args(tmp_path / "nothing", tmp_path / "a.pt"),
        "resume onto another backbone": _with(
            train_args(data, run_pt, "--resume") + ["--epochs", "2"], "--backbone", "efficientnet_lite0"
        ),
        "incomplete cache": train_args(bad_cache["incomplete"], tmp_path / "a.pt"),
        "truncated images.npy": train_args(bad_cache["truncated"], tmp_path / "a.pt"),
        "device cuda without a GPU": train_args(data, tmp_path / "a.pt", "--device", "cuda:99"),
        "device foo": train_args(data, tmp_path / "a.pt", "--device", "foo"),
        "unknown backbone in a checkpoint": [
            "colorize",
            save(tmp_path / "p.png"),
            "-o",
            tmp_path / "o",
            "--checkpoint",
            unknown,
        ],
        "evaluate size 0": ["evaluate", "--data", data, "--checkpoint", ckpt, "--size", "0"],
        "evaluate only nosuch": ["evaluate", "--data", "sample", "--only", "nosuch", "--checkpoint", ckpt],
        "export to a directory": ["export", run_pt, tmp_path],
        "-o an existing file": ["colorize", save(tmp_path / "p.png"), "-o", existing, "--checkpoint", ckpt],
    }
    for what, args in cases.items():
        code, _, err = run(args, capsys)
        assert code == 2, f"{what}: exit {code}: {err}"
        line = one_line(err)
        assert line.startswith("colorlab: "), (what, line)
    assert not (tmp_path / "a.pt").exists()


def test_13_the_checkpoint_is_written_before_a_long_validation_and_validation_is_capped(tmp_path, monkeypatch):
    from colorlab.data import ColorDataset

    photos = [colour(24, 24, seed=i) for i in range(12)]
    out = tmp_path / "run.pt"
    seen = {}
    real = Trainer.validate

    def spy(self, dataset=None):
        seen["checkpoint_before_validation"] = out.exists()
        return real(self, dataset)

    monkeypatch.setattr(Trainer, "validate", spy)
    trainer = Trainer(
        tiny(),
        ColorDataset(photos, size=16),
        ColorDataset(photos, size=16, augment=False),
        TrainConfig(epochs=1, batch_size=2, max_steps=1, val_max_images=5, progress=False, device="cpu"),
        checkpoint=out,
    )
    history = trainer.fit()
    assert seen["checkpoint_before_validation"]
    assert history[-1]["val_images"] == 5


def test_14_a_one_pixel_tall_panorama_needs_no_more_memory_than_a_square(tmp_path, ckpt):
    script = (
        "import resource, sys, numpy as np, torch; from PIL import Image; import colorlab\n"
        "from colorlab.checkpoint import load_model\n"
        "h, w = int(sys.argv[1]), int(sys.argv[2]); p = sys.argv[3]\n"
        "Image.fromarray(np.full((h, w), 128, np.uint8)).save(p)\n"
        "m = load_model(sys.argv[4], 'cpu'); base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "colorlab.colorize(p, m)\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1e6)\n"
    )
    peaks = {}
    for h, w in ((1, 10_000_000), (3162, 3162)):
        proc = subprocess.run(
            [sys.executable, "-c", script, str(h), str(w), str(tmp_path / f"{h}x{w}.png"), str(ckpt)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        peaks[(h, w)] = float(proc.stdout.split()[-1])
    assert peaks[(1, 10_000_000)] < 1.0, peaks  # GB above the model, for 10 Mpx; a square of as many pixels:
    assert peaks[(1, 10_000_000)] < 2 * peaks[(3162, 3162)] + 0.2, peaks


# --- wrong results without a word -------------------------------------------------------------------


def test_15_a_folder_without_usable_photos_fails_and_writes_no_checkpoint(tmp_path, capsys):
    data = tmp_path / "photos"
    for i in range(3):
        save(data / f"gray{i}.png", np.full((20, 20), 100 + i, np.uint8))
    (data / "broken.jpg").write_bytes(b"nope")
    out = tmp_path / "run.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code, _, err = run(train_args(data, out), capsys)
    assert code == 1 and "no usable training photos" in err
    assert not out.exists()


def test_16_a_float_tiff_is_read_by_its_range_not_stretched(tmp_path):
    half = tmp_path / "half.tif"
    Image.fromarray(np.full((4, 5), 0.5, np.float32), "F").save(half)
    assert (load_image(half) == 128).all()
    wide = tmp_path / "wide.tif"
    Image.fromarray(np.full((4, 5), 200.0, np.float32), "F").save(wide)
    assert (load_image(wide) == 200).all()


def test_17_embedded_colour_profiles_are_honoured_and_results_are_tagged_srgb(tmp_path, ckpt, capsys):
    gray = tmp_path / "linear_gray.png"
    Image.fromarray(np.full((8, 8), 32, np.uint8), "L").save(gray, icc_profile=icc_profiles.linear_gray())
    assert rgb_uint8_to_lab(load_image(gray))[0, 0, 0] == pytest.approx(42.0, abs=0.6)  # not 12: linear light
    adobe = tmp_path / "adobe.png"
    Image.fromarray(np.tile(np.array([150, 60, 40], np.uint8), (8, 8, 1))).save(
        adobe, icc_profile=icc_profiles.adobe_rgb()
    )
    L = rgb_uint8_to_lab(load_image(adobe))[0, 0, 0]
    assert L == pytest.approx(41.5, abs=1.0) and abs(L - 37.6) > 3  # 37.6 is what ignoring the profile gives
    assert run(["colorize", adobe, "-o", tmp_path / "out", "--checkpoint", ckpt, "--size", "16"], capsys)[0] == 0
    from PIL import ImageCms

    with Image.open(tmp_path / "out" / "adobe.png") as im:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
    assert "sRGB" in ImageCms.getProfileDescription(profile)


def test_18_nan_weights_and_nonsense_saturation_are_refused(tmp_path, ckpt, capsys):
    state = torch.load(ckpt, weights_only=True)
    first = next(iter(state["model"]))
    state["model"][first] = torch.full_like(state["model"][first], float("nan"))
    broken = tmp_path / "nan.pt"
    torch.save(state, broken)
    photo = save(tmp_path / "p.png")
    code, _, err = run(["colorize", photo, "-o", tmp_path / "o", "--checkpoint", broken], capsys)
    assert code == 2 and "NaN" in one_line(err)
    for value in ("nan", "inf", "-1"):
        code, _, err = run(
            ["colorize", photo, "-o", tmp_path / "o", "--checkpoint", ckpt, "--saturation", value], capsys
        )
        assert code == 2 and "--saturation" in one_line(err)
    assert not (tmp_path / "o").exists()


def test_19_evaluate_skips_grayscale_photos_and_prints_standard_json(tmp_path, ckpt, capsys):
    data = photo_folder(tmp_path / "photos", n=2)
    save(data / "gray.png", np.full((30, 30), 90, np.uint8))
    code, out, _ = run(["evaluate", "--data", data, "--checkpoint", ckpt, "--size", "16", "--json"], capsys)
    assert code == 0
    result = json.loads(out, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    assert result["n"] == 2 and list(result["skipped"]) == [str(data / "gray.png")]
    assert np.isfinite(result["mean"]["gray_psnr"])


def test_20_symlinked_folders_are_followed_and_a_link_loop_does_not_trap_the_walk(tmp_path):
    elsewhere = photo_folder(tmp_path / "elsewhere", n=2)
    data = photo_folder(tmp_path / "data", n=1)
    (data / "linked").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "back").symlink_to(data, target_is_directory=True)  # a loop
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = find_images(data)
    names = sorted(p.relative_to(data).as_posix() for p in found)
    assert names == ["linked/p0.png", "linked/p1.png", "p0.png"]
    assert any("symbolic link back" in str(w.message) for w in caught)


def test_21_arrays_are_read_by_their_range_and_layout(photos):
    img = photos["coffee"][:40, :50]
    assert np.array_equal(load_image(img.astype(np.float32)), img)  # floats in 0-255
    assert np.array_equal(load_image(img.astype(np.int64)), img)
    assert np.array_equal(load_image(img / 255.0), img)  # floats in 0-1
    assert np.array_equal(load_image(img.astype(np.int64) * 257), img)  # 16-bit range in a wide int
    for bad, words in (
        (img.transpose(2, 0, 1), "channels-first"),
        (img[:, :3].transpose(2, 0, 1), "channels"),
        (np.full((4, 4), np.nan), "NaN"),
        (np.full((4, 4), -3.0), "float values from -3"),
    ):
        with pytest.raises(ImageLoadError, match=words):
            load_image(bad)


def test_22_resume_refuses_another_batch_size_or_size_and_keeps_one_record_per_epoch(tmp_path, capsys):
    data = photo_folder(tmp_path / "photos", n=8)
    out = tmp_path / "run.pt"
    assert run(train_args(data, out, "--max-steps", "2") + ["--epochs", "2"], capsys)[0] == 0
    for flag, value in (("--batch-size", "4"), ("--size", "24")):
        args = train_args(data, out, "--resume") + ["--epochs", "2"]
        args[args.index(flag) + 1] = value
        code, _, err = run(args, capsys)
        assert code == 2 and "resume with the same" in one_line(err)
    assert run(train_args(data, out, "--resume") + ["--epochs", "2"], capsys)[0] == 0
    history = load_checkpoint(out)["history"]
    assert [h["epoch"] for h in history] == [1, 2]


def test_23_nonsense_counts_are_usage_errors_and_an_interrupted_run_exits_130(tmp_path, ckpt, capsys, monkeypatch):
    data = photo_folder(tmp_path / "photos")
    for flag, value in (("--epochs", "0"), ("--epochs", "-1"), ("--max-steps", "0"), ("--max-steps", "-1")):
        code, _, err = run(train_args(data, tmp_path / "a.pt", flag, value), capsys)
        assert code == 2 and one_line(err)
    code, _, err = run(
        ["colorize", save(tmp_path / "p.png"), "-o", tmp_path / "o", "--checkpoint", ckpt, "--size", "5"], capsys
    )
    assert code == 2 and "--size" in one_line(err)
    import colorlab.engine.trainer as trainer_mod

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer_mod, "train_step", interrupted)
    code, out, _ = run(train_args(data, tmp_path / "b.pt"), capsys)
    assert code == 130 and "Interrupted" in out and (tmp_path / "b.pt").exists()


def test_24_the_app_drops_a_stale_result_and_reloads_a_rewritten_checkpoint(tmp_path, photos):
    from colorlab.widgets import ColorizeApp

    path = save_checkpoint(tmp_path / "mine.pt", tiny())
    app = ColorizeApp(checkpoints={"mine": path}, photo=None, size=16)
    app.checkpoint.value = "mine"
    app.set_source("coffee", photos["coffee"][:32, :32])
    first = app.result.copy()
    assert app.download.value
    app.load_bytes("notes.txt", b"not an image")
    assert app.result is None and app.download.value == "" and app.after.value == b""
    app.set_source("coffee", photos["coffee"][:32, :32])
    other = tiny()
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.5)
    time.sleep(0.01)
    save_checkpoint(path, other)  # the file changes on disk while the app is open
    app.refresh()
    assert not np.array_equal(app.result, first)


# --- unclear ------------------------------------------------------------------------------------------


def test_25_the_help_examples_glob_is_expanded(tmp_path, ckpt, capsys, monkeypatch):
    folder = tmp_path / "old photos"
    save(folder / "a.png"), save(folder / "b.png")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(
        ["colorize", "old photos/*.png", "-o", "colorized", "--checkpoint", ckpt, "--size", "16"], capsys
    )
    assert code == 0 and sorted(p.name for p in (tmp_path / "colorized").iterdir()) == ["a.png", "b.png"]


def test_26_pipes_devices_and_link_loops_say_what_they_are(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageLoadError, match="named pipe"):
        load_image(fifo)
    with pytest.raises(ImageLoadError, match="device"):
        load_image("/dev/zero")
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    with pytest.raises(ImageLoadError, match="link loop"):
        load_image(loop)


def test_27_unsupported_formats_odd_inputs_and_interruptions_say_what_they_are(
    tmp_path, ckpt, capsys, photos, monkeypatch
):
    heic = tmp_path / "phone.heic"
    heic.write_bytes(b"\0\0\0\x18ftypheic" + b"\0" * 64)
    with pytest.raises(ImageLoadError, match="HEIC"):
        load_image(heic)
    svg = tmp_path / "logo.png"  # a wrong extension does not hide it
    svg.write_bytes(b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>')
    with pytest.raises(ImageLoadError, match="SVG"):
        load_image(svg)
    # tensors, bytes and open files are images too
    img = photos["coffee"][:16, :16]
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    for source in (torch.from_numpy(img), buf.getvalue(), io.BytesIO(buf.getvalue())):
        assert np.array_equal(load_image(source), img)
    # a damaged cache index says so, not "no images found"
    cache = prepare(photo_folder(tmp_path / "photos"), tmp_path / "cache", size=16, workers=1, progress=False)
    (cache / "index.json").write_text("{ not json")
    code, _, err = run(train_args(cache, tmp_path / "a.pt"), capsys)
    assert code == 2 and "index.json: unreadable or corrupt" in one_line(err)
    # -o NAME.jpg with one photo writes that file, not a folder
    code, _, _ = run(
        ["colorize", save(tmp_path / "p.png"), "-o", tmp_path / "out.jpg", "--checkpoint", ckpt, "--size", "16"], capsys
    )
    assert code == 0 and (tmp_path / "out.jpg").is_file() and Image.open(tmp_path / "out.jpg").format == "JPEG"
    # a huge image: one line from colorlab, not PIL's two-line warning
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_image(save(tmp_path / "big.png", colour(12, 12)))  # 144 pixels: over the limit, under twice it (a bomb)
    texts = [str(w.message) for w in caught]
    assert len(texts) == 1 and "a very large image (12x12" in texts[0] and "\n" not in texts[0]


def test_27_ctrl_c_in_prepare_prints_one_line_and_keeps_what_is_stored(tmp_path):
    # Ctrl-C must land while prepare is working. On a fast machine a small folder can be done
    # before the signal is sent, which proves nothing: then try again with four times the photos.
    for attempt, n in enumerate((300, 1200, 4800)):
        out = tmp_path / f"c{attempt}"
        data = photo_folder(tmp_path / f"photos{attempt}", n=n, size=256)
        cmd = [
            sys.executable,
            "-m",
            "colorlab",
            "prepare",
            "--data",
            str(data),
            "--out",
            str(out),
            "--size",
            "32",
            "--workers",
            "2",
            "--no-progress",
        ]
        # As from a terminal: a shell that runs this suite in the background (`.ci/run &`) makes its
        # children ignore SIGINT, and Python then never raises KeyboardInterrupt.
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        deadline = time.monotonic() + 120
        while not (out / "state.npy").exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(0.2)  # let the workers start: their tracebacks were the noise
        if proc.poll() is not None:  # finished (or failed) before Ctrl-C could be sent
            _, err = proc.communicate()
            assert proc.returncode == 0, f"prepare failed before Ctrl-C: {err}"
            continue
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group, workers included
        _, err = proc.communicate(timeout=120)
        if (
            proc.returncode == 0
            and (out / "index.json").is_file()
            and json.loads((out / "index.json").read_text())["complete"]
        ):
            continue  # the signal came after the last photo: not a test of Ctrl-C
        break
    else:
        pytest.fail("prepare finished every time before Ctrl-C could reach it")
    assert proc.returncode == 130, f"exit {proc.returncode}: {err}"
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "run the same command again" in lines[0], err
    # what was stored is kept: the same command continues and completes the cache
    again = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300
    )
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "index.json").read_text())["complete"]


def test_27_01_overwrite_never_replaces_an_input_photo_or_a_file_colorlab_did_not_write(tmp_path, ckpt, capsys):
    # issue 27, case 1: photos/b.jpg and the original photos/a/b.png; colorize photos -o photos/a --overwrite
    from colorlab.images import is_colorlab_output

    ckpt = str(ckpt)
    photos = tmp_path / "photos"
    (photos / "a").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(photos / "b.jpg")
    Image.fromarray(rng.integers(0, 255, (30, 20, 3), dtype=np.uint8)).save(photos / "a" / "b.png")  # a portrait
    original = (photos / "a" / "b.png").read_bytes()
    code, _, err = run(
        ["colorize", str(photos), "-o", str(photos / "a"), "--checkpoint", ckpt, "--size", "16", "--overwrite"], capsys
    )
    assert code == 2 and "not a colorlab result" in err
    assert "left out 1 photo(s) inside the output folder" in err  # said, not silently dropped
    assert (photos / "a" / "b.png").read_bytes() == original
    # colorlab's own earlier result is what --overwrite may replace
    out = tmp_path / "out"
    assert (
        run(["colorize", str(photos / "b.jpg"), "-o", str(out), "--checkpoint", ckpt, "--size", "16"], capsys)[0] == 0
    )
    assert is_colorlab_output(out / "b.png") and not is_colorlab_output(photos / "a" / "b.png")
    assert (
        run(
            ["colorize", str(photos / "b.jpg"), "-o", str(out), "--checkpoint", ckpt, "--size", "16", "--overwrite"],
            capsys,
        )[0]
        == 0
    )
    # an input of the same run is never a target, even a colorlab result used as input
    code, _, err = run(
        [
            "colorize",
            str(out / "b.png"),
            str(photos / "b.jpg"),
            "-o",
            str(out),
            "--checkpoint",
            ckpt,
            "--size",
            "16",
            "--overwrite",
        ],
        capsys,
    )
    assert code == 2 and ("is an input of this run" in err or "would both be written" in err)


def test_27_overwrite_never_replaces_a_file_that_is_not_a_colorlab_checkpoint(tmp_path, ckpt, capsys):
    # the one rule (colorlab.files.replace_problem) for training and export too
    data = photo_folder(tmp_path / "photos", n=3)
    notes = tmp_path / "notes.pt"
    notes.write_bytes(b"my notes, not a checkpoint")
    code, _, err = run(
        [
            "train",
            "--data",
            data,
            "--epochs",
            "1",
            "--batch-size",
            "2",
            "--size",
            "16",
            "--backbone",
            "none",
            "--out",
            notes,
            "--overwrite",
            "--no-progress",
        ],
        capsys,
    )
    assert code == 2 and "not a colorlab checkpoint" in err and notes.read_bytes() == b"my notes, not a checkpoint"
    code, _, err = run(["export", ckpt, notes, "--overwrite"], capsys)
    assert code == 2 and "not a colorlab checkpoint" in err and notes.read_bytes() == b"my notes, not a checkpoint"
    copy = tmp_path / "copy.pt"
    assert run(["export", ckpt, copy], capsys)[0] == 0
    assert run(["export", ckpt, copy, "--overwrite"], capsys)[0] == 0  # colorlab's own earlier copy


def test_27_prepare_never_replaces_files_that_are_not_a_colorlab_cache(tmp_path, capsys):
    data = photo_folder(tmp_path / "photos", n=3)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "images.npy").write_bytes(b"my own array")
    for extra in ([], ["--overwrite"]):
        code, _, err = run(
            ["prepare", "--data", data, "--out", out, "--size", "24", "--workers", "1", "--no-progress", *extra], capsys
        )
        assert code == 2 and "not part of a colorlab cache" in err
        assert (out / "images.npy").read_bytes() == b"my own array"
