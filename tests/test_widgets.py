"""The live-colorization app, driven through its widgets' state (no browser)."""

from __future__ import annotations

import datetime
import io

import numpy as np
import pytest
from PIL import Image

from notebook_support import demo_checkpoint, photo_png_bytes  # noqa: F401


def upload(app, name: str, content: bytes, mime: str = "image/png") -> None:
    """What the browser sends when a file is chosen (ipywidgets 8 FileUpload format)."""
    app.upload.value = (
        {
            "name": name,
            "type": mime,
            "size": len(content),
            "content": memoryview(content),
            "last_modified": datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
        },
    )


def decoded(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


@pytest.fixture(scope="module")
def app(demo_checkpoint):
    from colorlab.widgets import ColorizeApp

    return ColorizeApp(checkpoints={}, photo=None)


def test_app_starts_empty_and_asks_for_a_photo(app):
    assert app.source is None or app.result is not None
    assert app.upload.accept == "image/*"


def test_uploaded_photo_is_colorized_at_its_own_size(app):
    upload(app, "portrait.png", photo_png_bytes(90, 61))
    assert app.result.shape == (90, 61, 3)
    assert decoded(app.after.value).shape == (90, 61, 3)
    assert decoded(app.before.value).shape == (90, 61, 3)
    assert "portrait.png" in app.message.value
    assert 'download="portrait_colorized.png"' in app.download.value
    assert app.photo.value == "(uploaded photo)"


def test_saturation_slider_changes_the_result_but_not_its_size(app):
    upload(app, "portrait.png", photo_png_bytes(90, 61))
    app.saturation.value = 1.0
    before_png, before = app.after.value, app.result.copy()
    app.saturation.value = 0.0
    assert app.after.value != before_png
    assert app.result.shape == before.shape
    gray = app.result.astype(int)
    assert (gray.max(axis=2) - gray.min(axis=2)).max() <= 2  # saturation 0 is gray
    app.saturation.value = 2.0
    assert not np.array_equal(app.result, before)
    app.saturation.value = 1.0


def test_bundled_photo_menu_colorizes_that_photo(app):
    app.photo.value = "coffee"
    assert app.source_name == "coffee"
    assert app.result.shape == (400, 600, 3)


def test_large_photo_is_previewed_small_and_downloaded_full_size(app):
    from colorlab.widgets import PREVIEW_SIDE

    upload(app, "wide.png", photo_png_bytes(200, 1500))
    assert app.result.shape == (200, 1500, 3)
    assert max(decoded(app.after.value).shape[:2]) == PREVIEW_SIDE
    assert "1500x200" in app.download.value


@pytest.mark.parametrize(
    "name, content",
    [
        ("notes.txt", b"this is not a photo"),
        ("empty.png", b""),
        ("cut.png", photo_png_bytes(64, 64)[:120]),
    ],
)
def test_corrupt_upload_shows_a_readable_message_not_a_traceback_and_drops_the_old_result(app, name, content):
    upload(app, "ok.png", photo_png_bytes(40, 40))
    assert app.result is not None and app.download.value
    upload(app, name, content)
    assert name in app.message.value
    assert "Traceback" not in app.message.value and "Error" not in app.message.value
    # the old picture and its download link would pass for the result of this upload: they go
    assert app.result is None and app.download.value == "" and app.after.value == b""


def test_broken_checkpoint_is_reported_in_the_app(demo_checkpoint, tmp_path):
    from colorlab.widgets import ColorizeApp

    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    app = ColorizeApp(checkpoints={"mine": broken}, photo=None)
    upload(app, "ok.png", photo_png_bytes(32, 48))
    app.checkpoint.value = "mine"
    assert "cannot load the model 'mine'" in app.message.value
    assert "broken.pt" in app.message.value


def test_checkpoint_menu_lists_trained_runs(demo_checkpoint, tmp_path, monkeypatch):
    from colorlab.widgets import DEMO_MODEL, ColorizeApp

    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "03_training.pt").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    app = ColorizeApp(photo=None)
    assert list(app.checkpoint.options) == [DEMO_MODEL, "03_training.pt"]


def test_ab_picker_shows_the_lab_colour_live():
    from colorlab.widgets import ab_picker

    picker = ab_picker(L=50)
    a, b, swatch = picker.children[1], picker.children[2], picker.children[3]
    first = swatch.value
    a.value, b.value = 0.0, 0.0
    assert "Lab(50, 0, 0) -> sRGB(119, 119, 119)" in swatch.value
    assert swatch.value != first
