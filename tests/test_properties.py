"""Property-based tests (hypothesis): colour round-trips, any size in, same size out, bytes never crash."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from colorlab.color import lab_to_rgb, lab_to_rgb_uint8, rgb_to_lab, rgb_uint8_to_lab
from colorlab.data import ColorDataset
from colorlab.images import ImageLoadError, load_image
from colorlab.infer import colorize
from colorlab.model import build_model

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model("none", encoder_channels=(8,) * 8, fusion_channels=8).eval()


# --- RGB -> Lab -> RGB ---------------------------------------------------------------

unit = st.floats(0.0, 1.0, allow_nan=False, width=32)


@settings(max_examples=200, **SETTINGS)
@given(arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 4), st.just(3)), elements=unit))
def test_rgb_lab_round_trip_float(rgb):
    t = torch.from_numpy(rgb).permute(2, 0, 1)
    lab = rgb_to_lab(t)
    assert torch.isfinite(lab).all()
    assert (lab[0] >= -1e-3).all() and (lab[0] <= 100 + 1e-3).all()
    back = lab_to_rgb(lab)
    torch.testing.assert_close(back, t, atol=2e-4, rtol=0)
    back64 = lab_to_rgb(rgb_to_lab(t.double()))
    torch.testing.assert_close(back64, t.double(), atol=1e-6, rtol=0)


@settings(max_examples=200, **SETTINGS)
@given(arrays(np.uint8, st.tuples(st.integers(1, 6), st.integers(1, 6), st.just(3))))
def test_rgb_lab_round_trip_uint8_exact(rgb):
    assert np.array_equal(lab_to_rgb_uint8(rgb_uint8_to_lab(rgb)), rgb)


# --- colorize keeps any size ---------------------------------------------------------------


@settings(max_examples=25, **SETTINGS)
@given(
    h=st.one_of(st.integers(1, 40), st.integers(1, 1500)),
    w=st.one_of(st.integers(1, 40), st.integers(1, 1500)),
    channels=st.sampled_from([0, 3, 4]),
    seed=st.integers(0, 2**16),
)
@example(h=3, w=5, channels=3, seed=0)  # the shape CI once drew: ambiguous, refused
@example(h=5, w=3, channels=3, seed=0)
def test_colorize_keeps_size(model, h, w, channels, seed):
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels == 0 else (h, w, channels)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    if channels and h in (3, 4) and w > 4:
        # (3, W, 3) could be channels-first or channels-last: refused with a way out (issue 12, case 21)
        with pytest.raises(ImageLoadError, match="ambiguous"):
            colorize(image, model, size=16)
        return
    out = colorize(image, model, size=16)
    assert out.shape == (h, w, 3) and out.dtype == np.uint8
    if channels == 0:  # the lightness of a gray input is kept
        gray_back = np.asarray(Image.fromarray(out).convert("L"), dtype=np.int16)
        assert np.abs(gray_back - image).mean() < 8


# --- random bytes never kill the process ----------------------------------------------------

_MAGIC = [
    b"",
    b"\xff\xd8\xff\xe0",
    b"\x89PNG\r\n\x1a\n",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
]


def _valid(fmt: str) -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(buf, fmt)
    return buf.getvalue()


_VALID = {fmt: _valid(fmt) for fmt in ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")}


def _decode_or_reason(tmp_path, data: bytes, suffix: str) -> None:
    p = tmp_path / f"x{suffix}"
    p.write_bytes(data)
    try:
        rgb = load_image(p)
    except ImageLoadError as exc:
        assert str(p) in str(exc) and "\n" not in str(exc)
    else:
        assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8
    try:  # the training dataset: a crop, or the same one-line error
        crop = ColorDataset([p], size=8, skip_grayscale=False)[0]
    except ImageLoadError as exc:
        assert "\n" not in str(exc)
    else:
        assert crop.shape == (3, 8, 8)


@settings(max_examples=150, **SETTINGS)
@given(magic=st.sampled_from(_MAGIC), body=st.binary(max_size=600), suffix=st.sampled_from([".png", ".jpg", ".bin"]))
def test_random_bytes_never_crash(tmp_path, magic, body, suffix):
    _decode_or_reason(tmp_path, magic + body, suffix)


@settings(max_examples=150, **SETTINGS)
@given(
    fmt=st.sampled_from(sorted(_VALID)),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.integers(0, 10_000)),
)
def test_corrupted_real_files_never_crash(tmp_path, fmt, flips, cut):
    data = bytearray(_VALID[fmt])
    for pos, value in flips:
        data[pos % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    _decode_or_reason(tmp_path, bytes(data), ".img")


# --- issue 27: options and checkpoints from anywhere: a sane image or one clear error --------------

_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**6), 10**6),
    st.none(),
    st.booleans(),
    st.text(max_size=3),
)


@pytest.fixture(scope="module")
def bins_model():
    from colorlab.model import build_model

    torch.manual_seed(0)
    return build_model("none", pretrained=False, head="classification").eval()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(temperature=_NUMBERS, saturation=_NUMBERS, size=st.one_of(st.integers(-64, 96), st.floats(allow_nan=True)))
def test_colorize_options_give_a_sane_image_or_one_clear_error(bins_model, temperature, saturation, size):
    from colorlab.infer import colorize

    img = np.random.default_rng(0).integers(0, 255, (12, 16, 3), dtype=np.uint8)
    kwargs = {"size": size}
    if temperature is not None:
        kwargs["temperature"] = temperature
    if saturation is not None:
        kwargs["saturation"] = saturation
    try:
        out = colorize(img, bins_model, **kwargs)
    except ValueError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 300
        return
    assert out.shape == img.shape and out.dtype == np.uint8
    assert out.max() > 0  # never the black picture of a non-finite decode


_CONFIG_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**7),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(-5, 5000), max_size=9),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    field=st.sampled_from(
        [
            "backbone",
            "pretrained",
            "backbone_weights",
            "encoder_channels",
            "fusion_channels",
            "head",
            "grid",
            "temperature",
            "arch",
            "hints",
            "trainable_stages",
        ]
    ),
    value=_CONFIG_VALUES,
)
@example(field="arch", value="unet")
@example(field="hints", value=True)
@example(field="encoder_channels", value=[4096] * 8)
def test_a_checkpoint_config_from_anywhere_builds_or_is_refused_in_one_line(field, value):
    from colorlab.checkpoint import CheckpointError, model_from_checkpoint
    from colorlab.model import ModelConfig

    config = ModelConfig(backbone="none", pretrained=False).to_dict()
    config[field] = value
    ckpt = {"format": "colorlab-checkpoint", "version": 1, "model_config": config, "model": {}}
    try:
        model_from_checkpoint(ckpt, "crafted.pt", pretrained=False)
    except CheckpointError as exc:
        assert str(exc).startswith("crafted.pt: ") and "\n" not in str(exc)
