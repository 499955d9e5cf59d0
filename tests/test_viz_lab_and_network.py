"""The figures and measures of lessons 1 and 2: the sRGB gamut, the network drawn, its weights and receptive field."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

from colorlab import viz
from colorlab.color import rgb_to_lab


@pytest.fixture(scope="module")
def model():
    from colorlab.model import build_model

    torch.manual_seed(0)
    return build_model(pretrained=False)


def lab(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).view(3, 1, 1)


# --- the gamut --------------------------------------------------------------------------------


def test_every_srgb_colour_is_inside_the_gamut_white_and_black_included():
    rgb = torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rgb[:, 0, :8] = torch.tensor([[r, g, b] for r in (0, 1) for g in (0, 1) for b in (0, 1)], dtype=torch.float64).T
    assert not viz.out_of_srgb_gamut(rgb_to_lab(rgb)).any()


def test_colours_no_screen_shows_are_outside_the_gamut():
    outside = torch.cat([lab(90, 0, 100), lab(60, 90, -90), lab(50, 0, -110), lab(20, 80, 80)], dim=2)
    assert viz.out_of_srgb_gamut(outside).all()
    assert viz.out_of_srgb_gamut(outside[None]).shape == (1, 1, 4)


def test_the_ab_plane_hatches_what_is_outside_and_says_how_much_is_inside():
    fig = viz.ab_plane_figure(L=60, a=40, b=30, steps=41)
    ax = fig.axes[0]
    assert "% of the square in sRGB" in ax.get_title()
    assert ax.get_xlabel().startswith("a") and ax.get_ylabel().startswith("b")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["outside sRGB"]
    pixels = ax.images[0].get_array()
    painted = pixels[0, 0]  # the corner (a, b) = (-110, 110): no screen shows it
    assert (painted == painted[0]).all()  # ... so it is painted a flat gray
    assert (pixels[-1, -1] == painted).all()  # as is the opposite corner
    assert abs(pixels[20, 20] - painted).max() > 0.1  # the centre, L = 60 with a = b = 0, is its own gray
    assert pixels[18, 28].std() > 0.05  # a colour inside the gamut keeps its colour
    plt.close(fig)
    plain = viz.ab_plane_figure(L=60, steps=41, mark_gamut=False)
    assert "%" not in plain.axes[0].get_title()
    plt.close(plain)


def test_gamut_slices_draw_one_plane_per_lightness():
    fig = viz.gamut_slices_figure((20, 80), steps=21)
    titles = [ax.get_title() for ax in fig.axes]
    assert any("L = 20" in t for t in titles) and any("L = 80" in t for t in titles)
    plt.close(fig)


def test_ab_picker_says_when_the_colour_is_outside_the_gamut():
    from colorlab.widgets import ab_picker

    picker = ab_picker(L=60)
    a, b, swatch = picker.children[1], picker.children[2], picker.children[3]
    a.value, b.value = 10.0, 10.0
    assert "inside the sRGB gamut" in swatch.value
    a.value, b.value = 100.0, 100.0
    assert "outside the sRGB gamut" in swatch.value and "Lab(60, 100, 100)" in swatch.value


def test_the_curves_and_colour_space_figures_have_titles_and_labelled_axes():
    import numpy as np

    rgb = (np.random.default_rng(0).uniform(0, 255, (16, 16, 3))).astype(np.uint8)
    for fig in (viz.lab_curves_figure(), viz.color_spaces_figure(rgb)):
        assert fig._suptitle is not None
        for ax in fig.axes:
            if ax.get_label() != "<colorbar>":
                assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        plt.close(fig)


# --- the network: weights, receptive field, the drawing -----------------------------------------


def test_parameter_table_counts_each_part_and_gives_the_fusion_about_five_percent(model):
    rows = {r.part: r for r in viz.parameter_table(model)}
    assert rows["fusion"].params == (256 + 1000) * 256 + 256
    assert rows["extractor"].trainable == 0 and rows["extractor"].params > 4_000_000
    assert sum(r.trainable for r in rows.values()) == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert sum(r.share_of_trainable for r in rows.values()) == pytest.approx(1.0)
    assert rows["fusion"].share_of_trainable == pytest.approx(0.049, abs=0.001)
    assert rows["encoder"].share_of_trainable > 0.85  # where most trainable weights really are
    text = viz.format_parameter_table(list(rows.values()))
    assert "4.9%" in text and "321,792" in text


def test_receptive_field_follows_the_encoder_to_75_pixels_and_the_measurement_agrees(model):
    rows = viz.receptive_field(model.encoder)
    assert [r.field for r in rows] == [3, 7, 11, 19, 27, 43, 59, 75]
    assert rows[-1].jump == 8  # one encoder cell per 8 input pixels
    assert viz.measured_receptive_field(model.encoder, size=128) == 75
    assert model.encoder.layers[0][0].weight.grad is None  # measuring leaves the model's gradients alone


def test_receptive_field_counts_dilation_and_pooling_and_refuses_upsampling():
    chain = nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3))
    assert [r.field for r in viz.receptive_field(chain)] == [5, 6, 10]
    assert viz.measured_receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2), nn.Conv2d(1, 1, 3)), size=32) == 7
    assert viz.measured_receptive_field(nn.AvgPool2d(4, stride=2), size=32) == 4  # no weights at all
    with pytest.raises(TypeError, match="Upsample"):
        viz.receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Upsample(scale_factor=2)))


def test_network_figure_shows_every_part_with_its_traced_shape(model):
    fig = viz.network_figure(model, size=64)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for part in ("encoder", "feature extractor", "fusion", "decoder"):
        assert part in texts
    assert "256 x 8 x 8" in texts and "2 x 64 x 64" in texts and "frozen" in texts
    assert "4.9% of trainable" in texts
    assert fig.axes[0].get_title() and fig.axes[0].get_xlabel()
    plt.close(fig)


def test_network_figure_without_an_extractor_draws_no_extractor():
    from colorlab.model import build_model

    fig = viz.network_figure(build_model("none", pretrained=False), size=32)
    assert "feature extractor" not in " ".join(t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)
