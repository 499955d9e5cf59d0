"""Bad input, a matrix: every row is a file a student might hand colorlab.

Each row is checked against the ``colorize`` API, the ``colorlab colorize``
CLI, the training data path (``ColorDataset`` and the ``Trainer``) and the
widget app's upload. Valid images come back at their exact (EXIF-rotated)
size; invalid ones give one line naming the file and the reason, and a batch
goes on.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorlab.checkpoint import save_checkpoint
from colorlab.cli import main as cli_main
from colorlab.data import ColorDataset
from colorlab.engine import TrainConfig, Trainer
from colorlab.images import ImageLoadError, load_image
from colorlab.infer import colorize
from colorlab.model import build_model

RNG = np.random.default_rng(0)


def tiny_model():
    torch.manual_seed(0)
    return build_model("none", encoder_channels=(8,) * 8, fusion_channels=8).eval()


def _colour(h: int, w: int) -> np.ndarray:
    """A colourful (H, W, 3) uint8 gradient (not grayscale, so the dataset keeps it)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([(x * 255 // max(1, w - 1)), (y * 255 // max(1, h - 1)), np.full_like(x, 40)], -1).astype(np.uint8)


# --- the rows: name -> (make(dir) -> path, expected) -----------------------------
# expected is ("ok", (H, W)) or ("error", words the one-line reason must contain)


def _zero_byte(d: Path) -> Path:
    p = d / "zero.jpg"
    p.write_bytes(b"")
    return p


def _truncated_jpeg(d: Path) -> Path:
    buf = io.BytesIO()
    Image.fromarray(_colour(64, 64)).save(buf, "JPEG", quality=90)
    p = d / "truncated.jpg"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return p


def _text_png(d: Path) -> Path:
    p = d / "notes.png"
    p.write_text("this is not a picture, just some text\n" * 10)
    return p


def _random_bytes(d: Path) -> Path:
    p = d / "noise.jpg"
    p.write_bytes(RNG.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return p


def _cmyk_jpeg(d: Path) -> Path:
    p = d / "cmyk.jpg"
    Image.fromarray(_colour(20, 30)).convert("CMYK").save(p, "JPEG")
    assert Image.open(p).mode == "CMYK"
    return p


def _palette_png(d: Path) -> Path:
    p = d / "palette.png"
    Image.fromarray(_colour(20, 30)).convert("P", palette=Image.ADAPTIVE, colors=16).save(p)
    assert Image.open(p).mode == "P"
    return p


def _la_png(d: Path) -> Path:
    p = d / "la.png"
    a = np.stack([_colour(20, 30)[..., 0], np.full((20, 30), 128, np.uint8)], -1)
    Image.frombytes("LA", (30, 20), a.tobytes()).save(p)
    assert Image.open(p).mode == "LA"
    return p


def _rgba_png(d: Path) -> Path:
    p = d / "rgba.png"
    a = np.concatenate([_colour(20, 30), np.full((20, 30, 1), 100, np.uint8)], -1)
    Image.fromarray(a).save(p)
    assert Image.open(p).mode == "RGBA"
    return p


def _gray16_png(d: Path) -> Path:
    p = d / "gray16.png"
    a = (np.arange(20 * 30, dtype=np.uint16).reshape(20, 30) * 100).astype(np.uint16)
    Image.fromarray(a).save(p)
    assert Image.open(p).mode.startswith("I;16")
    return p


def _one_by_one(d: Path) -> Path:
    p = d / "one.png"
    Image.fromarray(np.array([[[200, 30, 30]]], np.uint8)).save(p)
    return p


def _one_by_5000(d: Path) -> Path:
    p = d / "strip.png"
    Image.fromarray(_colour(1, 5000)).save(p)
    return p


def _exif_rotate(d: Path) -> Path:
    p = d / "rotated.jpg"
    img = Image.fromarray(_colour(20, 30))  # stored 30 wide, 20 high
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": shown 20 wide, 30 high
    img.save(p, "JPEG", exif=exif)
    return p


def _directory(d: Path) -> Path:
    p = d / "folder.png"
    p.mkdir()
    return p


def _missing(d: Path) -> Path:
    return d / "does_not_exist.jpg"


def _spaces_unicode(d: Path) -> Path:
    sub = d / "my phötos ñandú"
    sub.mkdir()
    p = sub / "Großmutter 写真 1.png"
    Image.fromarray(_colour(20, 30)).save(p)
    return p


def _bomb(d: Path) -> Path:
    """A PNG whose header claims 20000 x 20000 pixels (over twice PIL's limit), with almost no data."""
    buf = io.BytesIO()
    Image.fromarray(_colour(4, 4)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = 8 + 8  # signature, then length + b"IHDR"
    data[ihdr : ihdr + 8] = struct.pack(">II", 20000, 20000)
    crc = zlib.crc32(bytes(data[12 : ihdr + 13])) & 0xFFFFFFFF
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    p = d / "bomb.png"
    p.write_bytes(bytes(data))
    return p


ROWS = {
    "zero-byte": (_zero_byte, ("error", "empty")),
    "truncated-jpeg": (_truncated_jpeg, ("error", "truncated")),
    "text-named-png": (_text_png, ("error", "not an image")),
    "random-bytes": (_random_bytes, ("error", "not an image")),
    "cmyk-jpeg": (_cmyk_jpeg, ("ok", (20, 30))),
    "palette-png": (_palette_png, ("ok", (20, 30))),
    "la-png": (_la_png, ("ok", (20, 30))),
    "rgba-png": (_rgba_png, ("ok", (20, 30))),
    "gray16-png": (_gray16_png, ("ok", (20, 30))),
    "1x1": (_one_by_one, ("ok", (1, 1))),
    "1x5000": (_one_by_5000, ("ok", (1, 5000))),
    "exif-rotate": (_exif_rotate, ("ok", (30, 20))),
    "directory": (_directory, ("error", "directory")),
    "missing": (_missing, ("error", "no such file")),
    "spaces-non-ascii": (_spaces_unicode, ("ok", (20, 30))),
    "decompression-bomb": (_bomb, ("error", "decompression bomb")),
}
GOOD = [k for k, (_, e) in ROWS.items() if e[0] == "ok"]
BAD = [k for k, (_, e) in ROWS.items() if e[0] == "error"]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad inputs")
    return {name: make(d) for name, (make, _) in ROWS.items()}


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, model) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt", model)


def _one_line_naming(msg: str, path: Path, words: str) -> None:
    assert "\n" not in msg.strip(), msg
    assert str(path) in msg, msg
    assert words in msg.lower(), msg


# --- colorize (API) ----------------------------------------------------------------


@pytest.mark.parametrize("row", list(ROWS))
def test_colorize_api(row, files, model):
    path = files[row]
    kind, expected = ROWS[row][1]
    if kind == "ok":
        out = colorize(path, model, size=16)
        assert out.dtype == np.uint8 and out.shape == (*expected, 3)
    else:
        with pytest.raises(ImageLoadError) as info:
            colorize(path, model, size=16)
        _one_line_naming(str(info.value), path, expected)


def test_colorize_api_accepts_str_path_with_non_ascii(files, model):
    assert colorize(str(files["spaces-non-ascii"]), model, size=16).shape == (20, 30, 3)


# --- colorlab colorize (CLI) ------------------------------------------------------------


def _cli(args, capsys):
    code = cli_main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize("row", list(ROWS))
def test_colorize_cli(row, files, checkpoint, tmp_path, capsys):
    path = files[row]
    kind, expected = ROWS[row][1]
    out_dir = tmp_path / "out"
    code, out, err = _cli(
        ["colorize", str(path), "-o", str(out_dir), "--checkpoint", str(checkpoint), "--size", "16", "--device", "cpu"],
        capsys,
    )
    if kind == "ok":
        assert code == 0, err
        result = out_dir / f"{path.stem}.png"
        with Image.open(result) as im:
            assert (im.height, im.width) == expected
    else:
        assert code != 0
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1, err
        _one_line_naming(lines[0], path, expected)
        assert not any(out_dir.glob("*.png"))


def test_colorize_cli_batch_goes_on(files, checkpoint, tmp_path, capsys):
    """All rows in one call: every good file is written at its size, every bad one is one line, exit 1."""
    out_dir = tmp_path / "out"
    names = [str(files[r]) for r in ROWS]
    code, out, err = _cli(
        ["colorize", *names, "-o", str(out_dir), "--checkpoint", str(checkpoint), "--size", "16", "--device", "cpu"],
        capsys,
    )
    assert code == 1
    for row in GOOD:
        with Image.open(out_dir / f"{files[row].stem}.png") as im:
            assert (im.height, im.width) == ROWS[row][1][1], row
    err_lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(err_lines) == len(BAD), err
    for row, line in zip(BAD, err_lines):
        _one_line_naming(line, files[row], ROWS[row][1][1])


def test_colorize_cli_subprocess_exit_code(files, checkpoint, tmp_path):
    """The real ``colorlab`` command: a bad file among good ones -> exit code non-zero, good ones written."""
    exe = Path(sys.executable).with_name("colorlab")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "colorlab"]
    out_dir = tmp_path / "out put"
    proc = subprocess.run(
        [
            *cmd,
            "colorize",
            str(files["spaces-non-ascii"]),
            str(files["zero-byte"]),
            str(files["1x1"]),
            "-o",
            str(out_dir),
            "--checkpoint",
            str(checkpoint),
            "--size",
            "16",
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert str(files["zero-byte"]) in proc.stderr
    assert (out_dir / f"{files['spaces-non-ascii'].stem}.png").is_file()
    assert (out_dir / "one.png").is_file()


# --- the training dataset and the trainer ---------------------------------------------


@pytest.mark.parametrize("row", list(ROWS))
def test_dataset(row, files):
    path = files[row]
    kind, expected = ROWS[row][1]
    ds = ColorDataset([path], size=16, augment=True, skip_grayscale=False)
    if kind == "ok":
        image = ds[0]
        assert image.dtype == torch.uint8 and tuple(image.shape) == (3, 16, 16)
    else:
        with pytest.raises(ImageLoadError) as info:
            ds[0]
        reason = info.value.reason
        assert "\n" not in reason and expected in reason.lower(), reason


def test_dataset_skips_grayscale_rows_by_default(files):
    with pytest.raises(ImageLoadError, match="grayscale"):
        ColorDataset([files["gray16-png"]], size=16)[0]


def test_trainer_survives_every_row(files):
    """One epoch over all rows: the good files train, each bad one is warned about once, by name."""
    items = [files[r] for r in ROWS]
    ds = ColorDataset(items, size=16, skip_grayscale=False)
    trainer = Trainer(tiny_model(), ds, None, TrainConfig(epochs=1, batch_size=2, device="cpu", progress=False))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = trainer.fit()
    assert len(history) == 1 and np.isfinite(history[0]["train_loss"])
    assert set(ds.skipped.reasons) == {str(files[r]) for r in BAD}
    texts = [str(w.message) for w in caught if "skipping" in str(w.message)]
    for row in BAD:
        assert sum(str(files[row]) in t for t in texts) == 1, row


# --- PIL's decompression-bomb guard and huge images -----------------------------------


def test_decompression_bomb_guard_stays_on():
    import importlib

    import colorlab

    for mod in ("color", "model", "data", "train", "infer", "metrics", "cli"):
        importlib.import_module(f"colorlab.{mod}")
    assert colorlab is not None
    assert Image.MAX_IMAGE_PIXELS == int(1024 * 1024 * 1024 // 4 // 3)


def test_bomb_error_is_clear(files):
    with pytest.raises(ImageLoadError) as info:
        load_image(files["decompression-bomb"])
    msg = str(info.value)
    assert "decompression bomb" in msg and "400000000" in msg and "\n" not in msg


_HUGE_SCRIPT = r"""
import resource, sys
import numpy as np
from PIL import Image
p = sys.argv[1]
a = np.tile((np.arange(7746) % 256).astype(np.uint8)[None, :], (7746, 1))  # 60 megapixels
a[::97] = 30
Image.fromarray(a).save(p, quality=60)
del a
import torch
from colorlab.infer import colorize
from colorlab.model import build_model
torch.manual_seed(0)
model = build_model("none", encoder_channels=(8,) * 8, fusion_channels=8).eval()
colorize(np.zeros((64, 64), np.uint8), model, size=16)  # warm up
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = colorize(p, model, size=32)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(out.shape[0], out.shape[1], (after - before) // 1024)
"""


@pytest.mark.slow
def test_60_megapixel_image_bounded_memory(tmp_path):
    """A 7746 x 7746 photo is colorized at full size; the peak grows by < 450 MB (the result alone is 180 MB)."""
    script = tmp_path / "huge.py"
    script.write_text(_HUGE_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "huge.jpg")], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    h, w, grown_mb = map(int, proc.stdout.split()[-3:])
    assert (h, w) == (7746, 7746)
    assert grown_mb < 450, f"colorize of a 60 MP image grew the peak memory by {grown_mb} MB"


# --- the widget app (an upload carries bytes, so paths that are not files have no row) ----


UPLOADABLE = [k for k in ROWS if k not in ("directory", "missing")]


@pytest.fixture(scope="module")
def app(checkpoint):
    from colorlab.widgets import ColorizeApp

    application = ColorizeApp(checkpoints={"tiny": checkpoint}, photo=None, size=16)
    application.checkpoint.value = "tiny"
    return application


@pytest.mark.parametrize("row", UPLOADABLE)
def test_widget_upload(row, files, app):
    path = files[row]
    kind, expected = ROWS[row][1]
    app.result = None
    app.load_bytes(path.name, path.read_bytes())
    message = app.message.value
    assert "Traceback" not in message
    if kind == "ok":
        assert app.result is not None and app.result.shape == (*expected, 3), message
    else:
        assert app.result is None
        assert path.name in message and expected in message.lower(), message


# --- numbers at the boundary (issue 27, cases 3, 4, 5 and 12) -------------------------------

BAD_TEMPERATURES = [float("nan"), float("inf"), 0.0, -1.0, 1e-40, 11.0]


@pytest.fixture(scope="module")
def bins_net():
    from colorlab.model import build_model

    torch.manual_seed(0)
    return build_model("none", pretrained=False, head="classification").eval()


@pytest.mark.parametrize("value", BAD_TEMPERATURES)
def test_api_refuses_a_temperature_that_is_not_a_usable_number(bins_net, value):
    img = np.full((16, 16, 3), 120, np.uint8)
    with pytest.raises(ValueError, match="temperature must be a number from 0.001"):
        colorize(img, bins_net, temperature=value)


def test_temperature_0_is_refused_not_read_as_the_default(bins_net):
    # before: `temperature or config.temperature` turned 0 into the model's 0.38 silently
    logits = torch.randn(1, len(bins_net.ab_bins), 2, 2)
    with pytest.raises(ValueError, match="temperature"):
        bins_net.decode(logits, temperature=0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"saturation": float("nan")}, "saturation must be a number from 0"),
        ({"saturation": -1.0}, "saturation must be a number from 0"),
        ({"size": 0}, "multiple of 8"),
        ({"size": -8}, "multiple of 8"),
        ({"size": 7}, "multiple of 8"),
    ],
)
def test_api_refuses_bad_saturation_and_size(bins_net, kwargs, match):
    with pytest.raises(ValueError, match=match):
        colorize(np.full((16, 16, 3), 120, np.uint8), bins_net, **kwargs)


@pytest.mark.parametrize(
    "args,match",
    [
        (["colorize", "IMG", "-o", "OUT.png", "--temperature", "nan"], "--temperature must be a number from 0.001"),
        (["colorize", "IMG", "-o", "OUT.png", "--temperature", "1e-40"], "--temperature must be a number from 0.001"),
        (["colorize", "IMG", "-o", "OUT.png", "--temperature", "0"], "--temperature must be a number from 0.001"),
        (["colorize", "IMG", "-o", "OUT.png", "--saturation", "nan"], "--saturation must be a number from 0"),
        (["evaluate", "--data", "sample", "--temperature", "nan"], "--temperature must be a number from 0.001"),
        (["colorize-video", "VIDEO", "-o", "OUT.mp4", "--size", "0"], "--size must be a multiple of 8"),
        (["colorize-video", "VIDEO", "-o", "OUT.mp4", "--size", "7"], "--size must be a multiple of 8"),
    ],
)
def test_cli_refuses_bad_numbers_in_one_line(files, tmp_path, capsys, args, match):
    from colorlab.cli import main

    args = [
        str(files["rgba-png"])
        if a == "IMG"
        else str(tmp_path / "clip.mp4")
        if a == "VIDEO"
        else str(tmp_path / a)
        if a.startswith("OUT")
        else a
        for a in args
    ]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err
    assert not any(p.name.startswith("OUT") for p in tmp_path.iterdir())


@pytest.mark.parametrize("value", [float("nan"), 0.0, -1.0])
def test_a_checkpoint_with_a_bad_temperature_is_refused_at_load_naming_it(bins_net, tmp_path, capsys, files, value):
    from colorlab.checkpoint import CheckpointError, load_model, save_checkpoint
    from colorlab.cli import main

    path = save_checkpoint(tmp_path / "bad-t.pt", bins_net)
    ckpt = torch.load(path, weights_only=True)
    ckpt["model_config"]["temperature"] = value
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match="bad-t.pt.*temperature"):
        load_model(path, "cpu")
    assert main(["colorize", str(files["rgba-png"]), "-o", str(tmp_path / "o.png"), "--checkpoint", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad-t.pt" in err[0] and "temperature" in err[0]


@pytest.mark.parametrize(
    "closed,args,match",
    [
        (0, ["colorize", "-", "-o", "OUT"], "standard input, which is closed"),
        (1, ["colorize", "IMG", "-o", "-"], "standard output, which is closed"),
    ],
)
def test_closed_standard_streams_get_one_line_not_a_traceback(files, tmp_path, closed, args, match):
    # issue 27, case 13: `colorlab colorize - -o o <&-` and `colorize a.png -o - >&-`
    args = [str(files["rgba-png"]) if a == "IMG" else str(tmp_path / "out") if a == "OUT" else a for a in args]
    proc = subprocess.run(
        [sys.executable, "-m", "colorlab", *args],
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.close(closed),
        timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and match in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("device", ["mps", "meta"])
def test_unsupported_devices_get_one_line(files, tmp_path, capsys, device):
    assert cli_main(["colorize", str(files["rgba-png"]), "-o", str(tmp_path / "o.png"), "--device", device]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "use cpu, cuda or cuda:N" in err[0]


def test_16_bit_images_are_scaled_by_their_bit_depth_not_their_values(tmp_path):
    # issue 27, case 2: a flat 16-bit PNG at 200/65535 is nearly black, with or without one pixel at 256
    from colorlab.images import load_image

    flat = np.full((8, 8), 200, np.uint16)
    spiked = flat.copy()
    spiked[0, 0] = 256
    for name, arr in (("flat", flat), ("spiked", spiked)):
        Image.fromarray(arr).save(tmp_path / f"{name}.png")
        assert Image.open(tmp_path / f"{name}.png").mode.startswith("I;16")
        from_file = load_image(tmp_path / f"{name}.png")
        from_array = load_image(arr)
        assert from_file[1:, 1:].max() == 1 and from_array[1:, 1:].max() == 1, name  # 200 / 257 rounds to 1


def test_a_validation_fraction_that_leaves_nothing_to_train_names_the_cause(tmp_path, capsys):
    # issue 27, case 14: "ColorDataset got no images" when there were 4
    from colorlab.samples import sample_images

    for name, img in list(sample_images().items())[:4]:
        Image.fromarray(img).save(tmp_path / f"{name}.png")
    code = cli_main(
        [
            "train",
            "--data",
            str(tmp_path),
            "--val-fraction",
            "0.99",
            "--backbone",
            "none",
            "--size",
            "16",
            "--out",
            str(tmp_path / "run.pt"),
            "--no-progress",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "leaves none to train on" in err[0] and "--val-fraction" in err[0]


def test_a_bfloat16_tensor_is_read_like_a_float_one():
    # issue 27, case 14: "Got unsupported ScalarType BFloat16"
    img = torch.rand(12, 10, 3)
    for dtype in (torch.bfloat16, torch.float16):
        out = load_image(img.to(dtype))
        assert out.shape == (12, 10, 3) and out.dtype == np.uint8
        assert np.abs(out.astype(int) - load_image(img.to(dtype).float().numpy()).astype(int)).max() == 0
