"""The click-to-colour app: every action a user can take, from Python (the browser test clicks for real)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from colorlab.hint_app import HintApp, palette_at, recommended_colours
from colorlab.model import ModelConfig
from colorlab.transfer import create_model


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    hints = create_model(ModelConfig(arch="unet", hints=True, pretrained=False)).eval()
    bins = create_model(ModelConfig(arch="unet", head="classification", pretrained=False)).eval()
    return hints, bins


@pytest.fixture()
def app(models, photos):
    return HintApp(photos["chelsea"][:200, :300], models[0], models[1])


def test_a_click_places_a_hint_with_a_likely_colour_and_recolours_the_photo_there(app):
    before = app.result.copy()
    assert app.hints == [] and "0 hints" in app.status.value
    app._on_canvas(None, {"event": "click", "x": 150.4, "y": 90.0}, None)  # what the picture sends
    assert len(app.hints) == 1 and app.hints[0]["x"] == pytest.approx(150.4) and app.canvas.selected == 0
    assert tuple(app.hints[0]["rgb"]) == app.recommended(150.4, 90.0)[0]
    assert app.canvas.hints == app.hints and "1 hint;" in app.status.value
    assert len(app.palette.children) == 1 + 6  # "likely here:" and six swatches
    app.set_colour("#0000ff")
    near = app.result[80:100, 140:160].astype(int)
    assert (near[..., 2] - near[..., 0]).mean() > 40  # blue where the hint is
    assert np.abs(app.result.astype(int) - before).sum() > 0


def test_move_recolour_delete_undo_and_reset(app):
    app.add_hint(20, 30, (250, 10, 10))
    app.add_hint(200, 100, "#10f010")
    app.move_hint(0, 40, 50)
    assert (app.hints[0]["x"], app.hints[0]["y"]) == (40.0, 50.0)
    app._on_canvas(None, {"event": "select", "index": 1}, None)
    app.set_colour("#2020f0")
    assert app.hints[1]["rgb"] == [32, 32, 240]
    app.delete_selected()
    assert len(app.hints) == 1
    app.undo()
    assert len(app.hints) == 2 and app.hints[1]["rgb"] == [32, 32, 240]
    app.undo()
    assert app.hints[1]["rgb"] == [16, 240, 16]
    app.reset()
    assert app.hints == [] and app.canvas.hints == []
    app.undo()
    assert len(app.hints) == 2
    app._on_canvas(None, {"event": "move", "index": 1, "x": 9999, "y": -5}, None)  # dragged off the picture
    assert (app.hints[1]["x"], app.hints[1]["y"]) == (299.0, 0.0)


def test_the_download_link_carries_the_result_and_a_big_photo_is_shown_small(models, photos):
    import base64
    import io
    import re

    from PIL import Image

    big = np.repeat(np.repeat(photos["coffee"], 2, axis=0), 2, axis=1)
    app = HintApp(big, models[0], models[1])
    assert min(app.photo.shape[:2]) == 256  # fast updates
    encoded = re.search(r"base64,([A-Za-z0-9+/=]+)'", app.download.value)[1]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(base64.b64decode(encoded)))), app.result)


def test_the_palette_is_the_classification_model_s_likeliest_bins_at_the_pixel(models, photos):
    top, bins = recommended_colours(models[1], photos["chelsea"], k=4)
    assert top.shape[0] == 4 and bins.shape[1] == 2
    swatches = palette_at(top, bins, 60.0, 10, 10, photos["chelsea"].shape[1], photos["chelsea"].shape[0])
    assert len(swatches) == 4 and all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in swatches)


def test_a_model_without_hints_is_refused_with_a_way_out(models, photos):
    paper = create_model(ModelConfig(backbone="none"))
    with pytest.raises(ValueError, match="takes hints"):
        HintApp(photos["chelsea"], paper, models[1])
