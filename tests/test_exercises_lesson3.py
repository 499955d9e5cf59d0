"""Lesson 3's exercise checks: the worked solutions pass, typical mistakes fail with a useful reason."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from colorlab.color import AB_SCALE
from colorlab.exercises import lesson3


# The worked solutions, as the notebook shows them.
def my_train_step(model, optimizer, l_net, ab):
    model.train()
    pred = model(l_net)
    loss = F.mse_loss(pred, ab)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach()


@torch.no_grad()
def my_validate(model, batches):
    model.eval()
    total, count = 0.0, 0
    for l_net, ab in batches:
        total += F.mse_loss(model(l_net), ab).item() * len(l_net)
        count += len(l_net)
    val_loss = total / count
    return val_loss, AB_SCALE * math.sqrt(val_loss)


def test_the_worked_solutions_pass():
    assert lesson3.check_train_step(my_train_step)
    assert lesson3.check_rms_ab(AB_SCALE * math.sqrt(lesson3.EXAMPLE_VAL_LOSS))
    assert lesson3.check_validate(my_validate)


def test_the_library_train_step_passes_its_own_check_with_or_without_clipping():
    from colorlab.train import train_step

    assert lesson3.check_train_step(lambda m, o, l_net, ab: train_step(m, o, l_net, ab))
    assert lesson3.check_train_step(lambda m, o, l_net, ab: train_step(m, o, l_net, ab, grad_clip=None))


def test_a_train_step_without_zero_grad_is_told_to_clear_the_old_gradients():
    def no_zero_grad(model, optimizer, l_net, ab):
        loss = F.mse_loss(model(l_net), ab)
        loss.backward()
        optimizer.step()
        return loss.item()

    result = lesson3.check_train_step(no_zero_grad)
    assert not result and "zero_grad" in result.message


def test_a_train_step_that_steps_before_backward_or_never_is_told_the_order():
    def step_first(model, optimizer, l_net, ab):
        loss = F.mse_loss(model(l_net), ab)
        optimizer.step()
        loss.backward()
        return loss.item()

    def no_step(model, optimizer, l_net, ab):
        loss = F.mse_loss(model(l_net), ab)
        optimizer.zero_grad()
        loss.backward()
        return loss.item()

    first = lesson3.check_train_step(step_first)
    assert not first and "backward first" in first.message
    never = lesson3.check_train_step(no_step)
    assert not never and "did not change" in never.message and "optimizer.step()" in never.message


def test_a_train_step_with_another_loss_is_named():
    def with_loss(fn):
        def step(model, optimizer, l_net, ab):
            loss = fn(model(l_net), ab)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            return loss.item()

        return step

    assert "L1" in lesson3.check_train_step(with_loss(F.l1_loss)).message
    assert "summed" in lesson3.check_train_step(with_loss(lambda p, t: F.mse_loss(p, t, reduction="sum"))).message
    assert "root" in lesson3.check_train_step(with_loss(lambda p, t: F.mse_loss(p, t).sqrt())).message


def test_a_right_step_that_returns_nothing_or_the_wrong_number_fails_with_the_expected_loss():
    def returns_nothing(model, optimizer, l_net, ab):
        my_train_step(model, optimizer, l_net, ab)

    def returns_the_loss_after(model, optimizer, l_net, ab):
        my_train_step(model, optimizer, l_net, ab)
        return F.mse_loss(model(l_net), ab).item()

    nothing = lesson3.check_train_step(returns_nothing)
    assert not nothing and "return the loss" in nothing.message
    after = lesson3.check_train_step(returns_the_loss_after)
    assert not after and "return the loss of this batch" in after.message


def test_train_step_check_reports_a_crash_a_value_or_a_placeholder_instead_of_raising():
    crash = lesson3.check_train_step(lambda m, o, l_net, ab: m(l_net[:, :0]))
    assert not crash and "raised" in crash.message
    assert "the function itself" in lesson3.check_train_step(0.01).message
    placeholder = lesson3.check_train_step(None)
    assert not placeholder and "write my_train_step" in placeholder.message
    assert str(placeholder).startswith("not yet:")


def test_rms_ab_check_names_the_usual_slips():
    loss = lesson3.EXAMPLE_VAL_LOSS
    assert "square root first" in lesson3.check_rms_ab(AB_SCALE * loss).message
    assert "multiply by AB_SCALE" in lesson3.check_rms_ab(math.sqrt(loss)).message
    assert "(Lab units)²" in lesson3.check_rms_ab(loss * AB_SCALE**2).message
    assert "per channel" in lesson3.check_rms_ab(AB_SCALE * math.sqrt(2 * loss)).message
    assert not lesson3.check_rms_ab(3.0)
    assert not lesson3.check_rms_ab("14.3")
    assert "EXAMPLE_VAL_LOSS" in lesson3.check_rms_ab(None).message


def test_validate_check_catches_unweighted_batch_means_and_averaged_roots():
    @torch.no_grad()
    def batch_means(model, batches):
        losses = [F.mse_loss(model(l_net), ab).item() for l_net, ab in batches]
        loss = sum(losses) / len(losses)
        return loss, AB_SCALE * math.sqrt(loss)

    @torch.no_grad()
    def mean_of_roots(model, batches):
        loss, _ = my_validate(model, batches)
        roots = [AB_SCALE * F.mse_loss(model(l_net), ab).sqrt().item() for l_net, ab in batches]
        return loss, sum(roots) / len(roots)

    unweighted = lesson3.check_validate(batch_means)
    assert not unweighted and "weight each batch" in unweighted.message
    roots = lesson3.check_validate(mean_of_roots)
    assert not roots and "average the squared errors first" in roots.message


def test_validate_check_wants_lab_units_a_pair_and_untouched_weights():
    def scaled(model, batches):
        loss, _ = my_validate(model, batches)
        return loss, math.sqrt(loss)

    def trains(model, batches):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for l_net, ab in batches:
            my_train_step(model, optimizer, l_net, ab)
        return my_validate(model, batches)

    assert "AB_SCALE" in lesson3.check_validate(scaled).message
    assert "changed the weights" in lesson3.check_validate(trains).message
    assert "two numbers" in lesson3.check_validate(lambda m, b: 0.01).message
    assert lesson3.check_validate(lambda m, b: dict(zip(("val_loss", "val_rms_ab"), my_validate(m, b))))
    assert "write my_validate" in lesson3.check_validate(None).message


def test_the_overfit_figure_shows_the_loss_in_both_units_the_snapshots_and_the_truth():
    import matplotlib.pyplot as plt
    import numpy as np

    from colorlab import viz

    img = np.zeros((8, 8, 3), np.uint8)
    fig = viz.overfit_figure([0.02, 0.01, 0.005], {0: img, 3: img}, img)
    assert fig._suptitle.get_text() and fig.axes[0].get_xlabel() == "step" and "MSE" in fig.axes[0].get_ylabel()
    assert any("Lab units" in ax.get_ylabel() for ax in fig.axes[0].child_axes)  # the RMS ab axis beside the loss
    assert [ax.get_title() for ax in fig.axes if ax.images] == ["before training", "after 3 steps", "truth"]
    plt.close(fig)


def test_resume_check_wants_the_interrupted_epoch_and_every_epoch_once():
    stopped, total = lesson3.RESUME_INTERRUPTED_EPOCH, lesson3.RESUME_EPOCHS
    assert lesson3.check_resume((stopped, total))
    assert lesson3.check_resume([stopped, float(total)])
    assert "finishes that epoch" in lesson3.check_resume((stopped + 1, total)).message
    assert "does not start again" in lesson3.check_resume((1, total)).message
    assert "before the interruption are in it too" in lesson3.check_resume((stopped, total - stopped + 1)).message
    assert "replaced" in lesson3.check_resume((stopped, total + 1)).message
    for bad in (None, 2, "2, 10", (2,), (2.5, 10), (True, 10)):
        verdict = lesson3.check_resume(bad)
        assert not verdict and verdict.message


def test_solution_values_are_what_the_worked_solutions_compute():
    values = lesson3.solution_values()
    assert math.isclose(values["example_rms_ab"], AB_SCALE * math.sqrt(lesson3.EXAMPLE_VAL_LOSS))
    assert round(values["example_rms_ab"], 2) == 14.31 and round(values["example_error_vector"], 1) == 20.2
    assert lesson3.check_rms_ab(values["example_rms_ab"])
