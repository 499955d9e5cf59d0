"""Lesson 2's exercise checks: the worked solutions pass, typical mistakes fail with a useful reason."""

from __future__ import annotations

import pytest
import torch

from colorlab.exercises import lesson2

# --- the lesson's worked solutions ----------------------------------------------------------


def conv_params(c_in, c_out, k):
    return k * k * c_in * c_out + c_out


def receptive_field(layers):
    field, jump = 1, 1
    for k, s in layers:
        field += (k - 1) * jump
        jump *= s
    return field


def fusion(features, embedding, conv):
    _, _, h, w = features.shape
    tiled = embedding[:, :, None, None].expand(-1, -1, h, w)
    return torch.relu(conv(torch.cat([features, tiled], dim=1)))


# --- exercise 1: weights of a convolution -----------------------------------------------------


def test_the_worked_conv_params_solution_passes():
    result = lesson2.check_conv_params(conv_params)
    assert result, result.message


@pytest.mark.parametrize(
    "slip, said",
    [
        (lambda i, o, k: k * k * i * o, "one bias per output channel"),
        (lambda i, o, k: k * i * o + o, "k² = 9 weights"),
        (lambda i, o, k: k * k * i * o + i, "one per *output* channel"),
    ],
)
def test_typical_conv_params_slips_are_named(slip, said):
    result = lesson2.check_conv_params(slip)
    assert not result and said in result.message


# --- exercise 2: the fusion's share -----------------------------------------------------------


def test_the_worked_fusion_share_passes_and_says_it_is_not_most():
    from colorlab.model import build_model

    model = build_model(pretrained=False)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    share = sum(p.numel() for p in model.fusion.parameters()) / trainable
    result = lesson2.check_fusion_share(share)
    assert result and "not 'most" in result.message
    assert 0.04 < share < 0.06  # the 1x1 conv holds about 5% of the trainable weights


def test_a_share_of_all_weights_or_a_percentage_is_named():
    from colorlab.model import build_model

    model = build_model(pretrained=False)
    fusion = sum(p.numel() for p in model.fusion.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert "frozen extractor" in lesson2.check_fusion_share(fusion / sum(p.numel() for p in model.parameters())).message
    assert "percentage" in lesson2.check_fusion_share(100 * fusion / trainable).message


# --- exercise 3: the receptive field ----------------------------------------------------------


def test_the_worked_receptive_field_solution_passes_and_names_the_encoders_75_pixels():
    result = lesson2.check_receptive_field(receptive_field)
    assert result and "75x75" in result.message


def test_a_receptive_field_that_ignores_strides_is_told_about_the_jump():
    result = lesson2.check_receptive_field(lambda layers: 1 + sum(k - 1 for k, _ in layers))
    assert not result and "ignores the strides" in result.message


# --- exercise 4: fusion from scratch ----------------------------------------------------------


def test_the_worked_fusion_solution_passes():
    result = lesson2.check_fusion(fusion)
    assert result, result.message


def test_fusion_without_relu_or_with_the_wrong_order_is_named():
    def no_relu(features, embedding, conv):
        _, _, h, w = features.shape
        return conv(torch.cat([features, embedding[:, :, None, None].expand(-1, -1, h, w)], dim=1))

    def swapped(features, embedding, conv):
        _, _, h, w = features.shape
        return torch.relu(conv(torch.cat([embedding[:, :, None, None].expand(-1, -1, h, w), features], dim=1)))

    assert "ReLU is missing" in lesson2.check_fusion(no_relu).message
    assert "features first" in lesson2.check_fusion(swapped).message


def test_fusion_that_forgets_to_tile_reports_the_error_instead_of_raising():
    result = lesson2.check_fusion(lambda features, embedding, conv: conv(torch.cat([features, embedding], dim=1)))
    assert not result and "raised RuntimeError" in result.message


def test_the_checks_leave_the_learners_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    lesson2.check_fusion(fusion)
    lesson2.check_receptive_field(receptive_field)
    assert torch.equal(torch.rand(3), expected)


# --- every check: a placeholder or a crash is an answer, never an exception ------------------------

CHECKS = [lesson2.check_conv_params, lesson2.check_fusion_share, lesson2.check_receptive_field, lesson2.check_fusion]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_every_check_says_not_yet_to_the_placeholder(check):
    result = check(None)
    assert not result and str(result).startswith("not yet: ")


@pytest.mark.parametrize("check", [lesson2.check_conv_params, lesson2.check_receptive_field], ids=lambda c: c.__name__)
def test_function_checks_report_a_crash_instead_of_raising(check):
    def crash(*args):
        raise ZeroDivisionError("oops")

    assert "ZeroDivisionError" in check(crash).message
