"""The live-colorization app, driven through its widgets' state (no browser)."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from notebook_support import demo_checkpoint, photo_png_bytes  # noqa: F401
from PIL import Image


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


def gray_png_bytes(height: int, width: int) -> bytes:
    """A black-and-white photo as a learner would upload it (mode L)."""
    buffer = io.BytesIO()
    Image.open(io.BytesIO(photo_png_bytes(height, width))).convert("L").save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def app(demo_checkpoint):
    from colorlab.widgets import ColorizeApp

    return ColorizeApp(checkpoints={}, photo=None)


@pytest.fixture(scope="module")
def bins_checkpoint(tmp_path_factory):
    """A small classification-head model (no ImageNet extractor, untrained), saved as a checkpoint."""
    from colorlab.checkpoint import save_checkpoint
    from colorlab.model import build_model

    torch.manual_seed(0)
    model = build_model("none", pretrained=False, head="classification", temperature=0.3)
    return save_checkpoint(tmp_path_factory.mktemp("bins") / "bins.pt", model)


def shown(widget) -> bool:
    return widget.layout.display != "none"


def test_app_starts_empty_and_asks_for_a_photo(app):
    assert app.source is None and app.result is None
    assert "Upload a photo" in app.message_text
    assert app.upload.accept == "image/*"
    assert not shown(app._columns[2])


def test_uploaded_photo_is_colorized_at_its_own_size(app):
    upload(app, "portrait.png", photo_png_bytes(90, 61))
    assert app.result.shape == (90, 61, 3)
    assert decoded(app.after.value).shape == (90, 61, 3)
    assert decoded(app.before.value).shape == (90, 61, 3)
    assert "portrait.png" in app.message.value
    assert 'download="portrait_colorized.png"' in app.download.value
    assert app.photo.value == "(uploaded photo)"


def test_colour_photo_is_shown_beside_its_result_as_the_original(app):
    upload(app, "portrait.png", photo_png_bytes(90, 61))
    assert app.source_has_colour and shown(app._columns[2])
    assert np.array_equal(decoded(app.original.value), app.source)


def test_black_and_white_upload_has_no_original_panel_and_says_so(app):
    upload(app, "grandma.png", gray_png_bytes(72, 96))
    assert app.result.shape == (72, 96, 3)
    assert not app.source_has_colour and not shown(app._columns[2]) and app.original.value == b""
    assert "black-and-white photo" in app.message_text


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


def test_extractor_top5_follows_the_photo(app):
    app.photo.value = "chelsea"
    names = [name for name, _ in app.guesses]
    probs = [p for _, p in app.guesses]
    assert len(names) == 5 and probs == sorted(probs, reverse=True) and sum(probs) <= 1
    assert names[0] in ("Egyptian cat", "tabby", "tiger cat")  # recognised from the lightness alone
    assert "Egyptian cat" in app.guess_list.value
    app.photo.value = "coffee"
    assert app.guesses[0][0] == "espresso" and "espresso" in app.guess_list.value


def test_message_is_html_for_the_app_and_plain_text_for_code(app):
    app.photo.value = "chelsea"
    assert app.message.value.startswith("<span") and "chelsea: 451x300" in app.message.value
    assert app.message_text.startswith("chelsea: 451x300, model ") and "<" not in app.message_text


def test_app_is_busy_while_colorizing_and_gives_the_controls_back(app, monkeypatch):
    import colorlab.infer
    from colorlab.widgets import BUSY_TEXT

    real, seen = colorlab.infer.colorize, []

    def watching(*args, **kwargs):
        seen.append((app.busy, app.status.value, [c.disabled for c in app.controls]))
        return real(*args, **kwargs)

    monkeypatch.setattr(colorlab.infer, "colorize", watching)
    app.saturation.value = 1.3
    assert seen == [(True, BUSY_TEXT, [True] * len(app.controls))]
    assert not app.busy and app.status.value == "" and not any(c.disabled for c in app.controls)
    app.saturation.value = 1.0


def test_controls_come_back_and_the_old_result_goes_when_colorizing_fails(app, monkeypatch):
    import colorlab.infer

    app.photo.value = "chelsea"
    assert app.result is not None and app.guesses

    def failing(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(colorlab.infer, "colorize", failing)
    app.saturation.value = 1.4
    assert "cannot colorize chelsea: out of memory" in app.message_text
    assert app.result is None and app.after.value == b"" and app.download.value == "" and app.guesses == []
    assert not app.busy and not any(c.disabled for c in app.controls)
    monkeypatch.undo()
    app.saturation.value = 1.0
    assert app.result is not None and app.guesses  # and it works again


def test_large_photo_is_previewed_small_and_downloaded_full_size(app):
    from colorlab.widgets import PREVIEW_SIDE

    upload(app, "wide.png", photo_png_bytes(200, 1500))
    assert app.result.shape == (200, 1500, 3)
    assert max(decoded(app.after.value).shape[:2]) == PREVIEW_SIDE
    assert max(decoded(app.original.value).shape[:2]) == PREVIEW_SIDE
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
    # the old picture, its original, download link and guesses would pass for this upload's: they go
    assert app.result is None and app.download.value == "" and app.after.value == b""
    assert app.original.value == b"" and app.before.value == b"" and app.guesses == [] and app.guess_list.value == ""


def test_figure_is_a_static_picture_of_the_panels(app):
    import matplotlib.pyplot as plt

    app.photo.value = "chelsea"
    fig = app.figure()
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["what the model sees", "result", "original"]
    assert app.message_text in fig._suptitle.get_text() and "top guess: " in fig._suptitle.get_text()
    plt.close(fig)
    upload(app, "grandma.png", gray_png_bytes(72, 96))
    fig = app.figure()
    assert [ax.get_title() for ax in fig.axes] == ["what the model sees", "result"]
    plt.close(fig)


def test_figure_without_a_photo_says_what_to_do(demo_checkpoint):
    from colorlab.widgets import ColorizeApp

    with pytest.raises(ValueError, match="no photo yet"):
        ColorizeApp(checkpoints={}, photo=None).figure()


def test_broken_checkpoint_is_reported_in_the_app(demo_checkpoint, tmp_path):
    from colorlab.widgets import ColorizeApp

    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    app = ColorizeApp(checkpoints={"mine": broken}, photo=None)
    upload(app, "ok.png", photo_png_bytes(32, 48))
    app.checkpoint.value = "mine"
    assert "cannot load the model 'mine'" in app.message.value
    assert "broken.pt" in app.message.value
    assert not any(c.disabled for c in app.controls)


def test_checkpoint_menu_lists_trained_runs(demo_checkpoint, tmp_path, monkeypatch):
    from colorlab.widgets import DEMO_MODEL, ColorizeApp, demo_checkpoints

    (tmp_path / "runs").mkdir()
    for name in ("03_training.pt", "06_classification_head.pt", "my-run.pt"):
        (tmp_path / "runs" / name).write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    app = ColorizeApp(photo=None)
    lessons = ["Lesson 3: your model (03_training.pt)", "Lesson 6: your model (06_classification_head.pt)"]
    assert list(app.checkpoint.options) == [*demo_checkpoints(), *lessons, "my-run.pt"]
    assert app._entries[lessons[0]] == Path("runs") / "03_training.pt"
    assert app.checkpoint.value == DEMO_MODEL


def test_a_lessons_checkpoint_is_named_after_the_lesson_and_keeps_its_file_name():
    from colorlab.widgets import checkpoint_label

    assert checkpoint_label("runs/03_training.pt") == "Lesson 3: your model (03_training.pt)"
    assert checkpoint_label("../runs/06_classification_head.pt") == "Lesson 6: your model (06_classification_head.pt)"
    assert checkpoint_label("runs/lesson3/run.pt") == "Lesson 3: your model (run.pt)"  # the folder says which
    assert checkpoint_label("runs/Lesson_7/x.pt") == "Lesson 7: your model (x.pt)"
    for other in ("runs/run.pt", "runs/my-run.pt", "runs/2024_model.pt", "runs/00_x.pt"):
        assert checkpoint_label(other) == Path(other).name


def test_long_control_descriptions_get_the_room_they_need(app):
    """ipywidgets gives a description a fixed width that cuts "Temperature" off; long ones take their own."""
    controls = [app.photo, app.checkpoint, app.saturation, app.temperature]
    long = [c for c in controls if len(c.description) >= 10]
    assert {c.description for c in long} == {"Saturation", "Temperature"}
    assert all(c.style.description_width == "initial" for c in long)


def test_temperature_slider_appears_only_for_a_classification_head(demo_checkpoint, bins_checkpoint):
    from colorlab.widgets import DEMO_MODEL, ColorizeApp

    app = ColorizeApp(checkpoints={"bins": bins_checkpoint}, photo="chelsea", size=64)  # small: fast
    assert app.checkpoint.value == DEMO_MODEL and not shown(app.temperature_box)
    assert "temperature" not in app.message_text
    app.checkpoint.value = "bins"
    assert shown(app.temperature_box)
    assert app.temperature.value == pytest.approx(0.3)  # the model's own temperature
    assert "temperature 0.30" in app.message_text
    mean = app.result.copy()
    app.temperature.value = 1.0
    assert "temperature 1.00" in app.message_text and not np.array_equal(app.result, mean)
    assert app.temperature.min > 0  # T = 0 is not a temperature
    app.checkpoint.value = DEMO_MODEL
    assert not shown(app.temperature_box)


def test_a_model_without_an_imagenet_extractor_says_it_knows_nothing_of_the_photo(demo_checkpoint, bins_checkpoint):
    from colorlab.widgets import ColorizeApp

    app = ColorizeApp(checkpoints={"bins": bins_checkpoint}, photo="chelsea", model="bins")
    assert app.guesses == [] and "no ImageNet extractor" in app.guess_list.value
    assert app.result.shape == app.source.shape


def test_model_menu_offers_every_demo_model_whose_file_exists(demo_checkpoint, bins_checkpoint, monkeypatch):
    import colorlab.checkpoint
    from colorlab.checkpoint import DEFAULT_HEAD, DEMO_MODELS
    from colorlab.widgets import DEMO_LABELS, DEMO_MODEL, ColorizeApp, demo_checkpoints

    assert DEMO_MODEL == DEMO_LABELS[DEFAULT_HEAD]
    assert DEMO_LABELS == {
        "regression": "U-Net (default)",
        "classification": "Vivid (classification)",
        "paper-regression": "Regression (paper)",
        "paper-classification": "Classification (paper)",
    }
    assert set(DEMO_LABELS) == set(DEMO_MODELS)
    real = colorlab.checkpoint.model_path
    missing = {name: real(name).with_name("not-there.pt") for name in DEMO_MODELS.values()}
    monkeypatch.setattr(
        colorlab.checkpoint,
        "model_path",
        lambda name: missing.get(name) if name != DEMO_MODELS[DEFAULT_HEAD] else real(name),
    )
    assert list(demo_checkpoints()) == [DEMO_MODEL]  # a demo whose file is absent is not offered

    shipped = {name: bins_checkpoint if "classification" in head else real(name) for head, name in DEMO_MODELS.items()}
    monkeypatch.setattr(colorlab.checkpoint, "model_path", lambda name: shipped[name])
    app = ColorizeApp(checkpoints={}, photo="chelsea", size=64)
    assert list(app.checkpoint.options) == [DEMO_MODEL] + [DEMO_LABELS[h] for h in DEMO_MODELS if h != DEFAULT_HEAD]
    assert app.checkpoint.value == DEMO_MODEL
    app.checkpoint.value = DEMO_LABELS["classification"]
    assert shown(app.temperature_box) and app.result is not None
    assert "model Vivid (classification)" in app.message_text


def test_a_model_in_memory_can_be_offered(demo_checkpoint, tiny_net):
    from colorlab.widgets import ColorizeApp

    app = ColorizeApp(checkpoints={"just trained": tiny_net}, photo="coffee", model="just trained")
    assert app.model() is tiny_net and app.result.shape == (400, 600, 3)
    with pytest.raises(ValueError, match="not in the menu"):
        ColorizeApp(checkpoints={}, photo=None, model="nothing")


def test_ab_picker_shows_the_lab_colour_live():
    from colorlab.widgets import ab_picker

    picker = ab_picker(L=50)
    a, b, swatch = picker.children[1], picker.children[2], picker.children[3]
    first = swatch.value
    a.value, b.value = 0.0, 0.0
    assert "Lab(50, 0, 0) -> sRGB(119, 119, 119)" in swatch.value
    assert swatch.value != first


def test_the_temperature_hint_does_not_promise_vivid_colours_near_zero():
    """Issue 24: for our models the most likely bin is mostly gray, so T -> 0 is not 'vivid'."""
    from colorlab.widgets import ColorizeApp

    app = ColorizeApp(checkpoints={}, photo=None)
    text = app.temperature_box.children[1].value
    assert "often gray" in text and "(vivid)" not in text
