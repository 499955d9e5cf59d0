"""Hints spread along the photo's edges: a click colours its own object, not the whole photo."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from colorlab.color import rgb_uint8_to_lab
from colorlab.infer import colorize
from colorlab.model import ModelConfig
from colorlab.spread import FIT_MIN_HINTS, fit_to_hints, geodesic_distances, inverse_distance_field, spread_hints
from colorlab.transfer import create_model


def two_objects(h: int = 96, w: int = 128) -> np.ndarray:
    """A dark object on the left, a light one on the right, a sharp edge between (gray, (H, W, 3))."""
    rgb = np.full((h, w, 3), 200, dtype=np.uint8)
    rgb[:, : w // 2] = 60
    return rgb


def test_no_hints_leave_the_network_s_colours_alone():
    net = np.random.default_rng(0).normal(0, 20, (16, 24, 2)).astype(np.float32)
    np.testing.assert_array_equal(spread_hints(np.full((16, 24), 50.0), [], np.zeros((0, 2)), net), net)


def test_the_geodesic_distance_grows_across_an_edge():
    lightness = rgb_uint8_to_lab(two_objects())[..., 0]
    d = geodesic_distances(lightness, [(20, 48)])[0]
    same_side, other_side = d[48, 20 + 25], d[48, 20 + 65]  # 25 px away inside, 65 px away across the edge
    assert same_side < 40 and other_side > 5 * same_side


def test_one_hint_colours_its_own_object_and_hardly_the_other():
    lightness = rgb_uint8_to_lab(two_objects())[..., 0]
    red = np.array([[60.0, 40.0]])
    ab = spread_hints(lightness, [(30, 48)], red, np.zeros((96, 128, 2), np.float32))
    inside, outside = np.abs(ab[:, :64]).mean(), np.abs(ab[:, 64:]).mean()
    assert inside > 40 and outside < inside / 4
    # the naive baseline cannot tell the objects apart: one hint paints everything
    field = inverse_distance_field((96, 128), [(30, 48)], red)
    np.testing.assert_allclose(field[:, 64:], np.broadcast_to(red[0], (96, 64, 2)), atol=1e-6)


def test_each_hint_leads_near_itself_and_hints_outweigh_the_network():
    lightness = np.full((128, 128), 50.0)
    hints = np.array([[30.0, 0.0], [-30.0, 0.0]])
    ab = spread_hints(lightness, [(16, 16), (112, 112)], hints, np.full((128, 128, 2), 50.0))
    assert ab[16, 16, 0] > 10 and ab[112, 112, 0] < -10  # the network said +50 everywhere


@pytest.fixture(scope="module")
def hint_net():
    torch.manual_seed(0)
    return create_model(ModelConfig(arch="unet", hints=True, pretrained=False)).eval()


def test_colorize_with_one_hint_changes_colour_mostly_within_the_hinted_object(hint_net):
    photo = two_objects()
    plain = rgb_uint8_to_lab(colorize(photo, hint_net, precision="fp32"))[..., 1:]
    hinted = rgb_uint8_to_lab(colorize(photo, hint_net, hints=[(30, 48, "#d02020")], precision="fp32"))[..., 1:]
    change = np.linalg.norm(hinted - plain, axis=-1)
    inside, outside = change[:, :60].mean(), change[:, 68:].mean()
    assert inside > 10 and inside > 4 * outside, (inside, outside)


def test_fewer_than_three_hints_leave_the_network_s_answer_as_it_is_globally():
    net = np.random.default_rng(1).normal(0, 20, (32, 32, 2)).astype(np.float32)
    two = [(4.0, 4.0), (20.0, 9.0)]
    assert FIT_MIN_HINTS == 3
    np.testing.assert_array_equal(fit_to_hints(net, two, np.array([[50.0, 50.0], [60.0, -40.0]])), net)


def test_ten_hints_correct_a_network_that_paints_too_weakly_and_with_a_cast():
    rng = np.random.default_rng(2)
    truth = rng.normal(0, 25, (48, 48, 2)).astype(np.float32)
    net = 0.5 * truth + np.float32(8.0)  # half as colourful, and a cast
    points = [(float(x), float(y)) for x, y in rng.integers(0, 48, (10, 2))]
    hint_ab = np.array([truth[int(y), int(x)] for x, y in points])
    fitted = fit_to_hints(net, points, hint_ab)
    before, after = np.abs(net - truth).mean(), np.abs(fitted - truth).mean()
    assert after < before / 3, (before, after)
    # hints that agree with the network change nothing much
    agree = fit_to_hints(net, points, np.array([net[int(y), int(x)] for x, y in points]))
    np.testing.assert_allclose(agree, net, atol=1e-3)


def test_network_input_is_what_the_network_sees():
    """The public helper the hint app and the hint measurements share with colorize."""
    from colorlab.infer import DEFAULT_SIZE, network_input, network_input_size

    gray = np.zeros((300, 500), np.uint8)
    small = network_input(gray)
    assert small.shape == (*network_input_size(300, 500, DEFAULT_SIZE), 3) and small.dtype == np.uint8
    rgb = np.zeros((224, 224, 3), np.uint8)
    assert network_input(rgb) is rgb  # already the network's size: no copy
