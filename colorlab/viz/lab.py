"""Lesson 1's figures: a photo's L, a and b channels, the (a, b) plane, the sRGB gamut, the curves of
sRGB -> Lab and one photo in four colour spaces; also the Lab painting helpers the other figures share."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..color import lab_to_rgb, out_of_srgb_gamut, rgb_uint8_to_lab

__all__ = ["lab_channels_figure", "ab_plane_figure", "gamut_slices_figure", "lab_curves_figure", "color_spaces_figure"]


#: The a and b range drawn on colour-plane plots (Lab units).
AB_PLOT_LIMIT = 110.0
#: Lightness used to paint the a and b channels as colours.
_CHANNEL_PAINT_L = 70.0
#: The gray (sRGB, 0-1) that stands for "no sRGB colour here" on gamut plots.
_OUT_OF_GAMUT_GRAY = 0.82


def _lab_colormap(axis: str, L: float = _CHANNEL_PAINT_L, limit: float = AB_PLOT_LIMIT) -> ListedColormap:
    """A colormap whose colours are Lab(L, v, 0) (``axis='a'``) or Lab(L, 0, v) (``axis='b'``)."""
    v = torch.linspace(-limit, limit, 256, dtype=torch.float64)
    lab = torch.zeros(3, 1, 256, dtype=torch.float64)
    lab[0] = L
    lab[1 if axis == "a" else 2] = v
    rgb = lab_to_rgb(lab)[:, 0, :].T.numpy()
    return ListedColormap(rgb, name=f"lab_{axis}")


def _lab_swatch(L: float, a: float, b: float) -> np.ndarray:
    """The sRGB colour ``(3,)`` in [0, 1] of one Lab triple (clipped where it is out of gamut)."""
    return lab_to_rgb(torch.tensor([[[L]], [[a]], [[b]]], dtype=torch.float64))[:, 0, 0].numpy()


def _ab_background(ax: plt.Axes, L: float, steps: int = 221) -> None:
    """Paint ``ax`` with every colour of lightness ``L`` on the (a, b) plane (clipped out of gamut)."""
    v = torch.linspace(-AB_PLOT_LIMIT, AB_PLOT_LIMIT, steps, dtype=torch.float64)
    bb, aa = torch.meshgrid(v.flip(0), v, indexing="ij")  # b grows upward
    rgb = lab_to_rgb(torch.stack([torch.full_like(aa, float(L)), aa, bb])).permute(1, 2, 0).numpy()
    lim = AB_PLOT_LIMIT
    ax.imshow(rgb, extent=(-lim, lim, -lim, lim), alpha=0.55)
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xlabel("a (green - / red +)")
    ax.set_ylabel("b (blue - / yellow +)")


def lab_channels_figure(rgb: np.ndarray, title: str = "A photo split into L, a and b") -> Figure:
    """The photo and its L, a, b channels; a and b painted with the colours they stand for."""
    lab = rgb_uint8_to_lab(rgb)
    fig, axes = plt.subplots(1, 4, figsize=(16, 4))
    axes[0].imshow(rgb)
    axes[0].set_title("sRGB photo")
    panels = [
        (lab[..., 0], "L: lightness (0 black, 100 white)", "gray", 0, 100),
        (lab[..., 1], "a: green (-) to red (+)", _lab_colormap("a"), -AB_PLOT_LIMIT, AB_PLOT_LIMIT),
        (lab[..., 2], "b: blue (-) to yellow (+)", _lab_colormap("b"), -AB_PLOT_LIMIT, AB_PLOT_LIMIT),
    ]
    for ax, (channel, name, cmap, lo, hi) in zip(axes[1:], panels):
        im = ax.imshow(channel, cmap=cmap, vmin=lo, vmax=hi)
        ax.set_title(name)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="Lab units")
    for ax in axes:
        ax.set_xlabel("x (px)")
        ax.set_ylabel("y (px)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def ab_plane_figure(
    L: float = 60.0,
    a: float | None = None,
    b: float | None = None,
    steps: int = 221,
    *,
    mark_gamut: bool = True,
    ax: plt.Axes | None = None,
) -> Figure:
    """Every colour of lightness ``L`` on the (a, b) plane, with an optional marker at ``(a, b)``.

    With ``mark_gamut`` the colours a screen cannot show (outside the sRGB gamut: converting them
    to sRGB clips them, see :func:`colorlab.color.out_of_srgb_gamut`) are painted gray and hatched;
    without it they are shown clipped. ``ax`` draws into an existing axes (for rows of planes).
    """
    v = torch.linspace(-AB_PLOT_LIMIT, AB_PLOT_LIMIT, steps, dtype=torch.float64)
    bb, aa = torch.meshgrid(v.flip(0), v, indexing="ij")  # b grows upward
    lab = torch.stack([torch.full_like(aa, float(L)), aa, bb])
    rgb = lab_to_rgb(lab).permute(1, 2, 0).numpy()
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 5))
    else:
        fig = ax.figure
    lim = AB_PLOT_LIMIT
    title = f"The (a, b) plane at L = {L:g}"
    if mark_gamut:
        outside = out_of_srgb_gamut(lab).numpy()
        rgb = rgb.copy()
        rgb[outside] = _OUT_OF_GAMUT_GRAY
        ax.contourf(aa.numpy(), bb.numpy(), outside.astype(float), levels=[0.5, 1.5], colors="none", hatches=["///"])
        ax.add_patch(Rectangle((0, 0), 0, 0, facecolor=(_OUT_OF_GAMUT_GRAY,) * 3, hatch="///", label="outside sRGB"))
        ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
        title += f": {100 * (1 - outside.mean()):.0f}% of the square in sRGB"
    ax.imshow(rgb, extent=(-lim, lim, -lim, lim), zorder=0)
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    if a is not None and b is not None:
        ax.plot([a], [b], marker="o", ms=12, mfc="none", mec="k", mew=2)
        ax.annotate(f"(a={a:g}, b={b:g})", (a, b), xytext=(8, 8), textcoords="offset points")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_xlabel("a (green - / red +)")
    ax.set_ylabel("b (blue - / yellow +)")
    ax.set_title(title, fontsize=10 if mark_gamut else None)
    fig.tight_layout()
    return fig


def gamut_slices_figure(lightnesses: Sequence[float] = (30.0, 60.0, 90.0), steps: int = 161) -> Figure:
    """A row of (a, b) planes, one per lightness, with the colours outside sRGB hatched."""
    fig, axes = plt.subplots(1, len(lightnesses), figsize=(4.4 * len(lightnesses), 4.6), squeeze=False)
    for ax, L in zip(axes[0], lightnesses):
        ab_plane_figure(L, steps=steps, ax=ax)
    fig.suptitle("The sRGB gamut changes shape with lightness (hatched: a screen cannot show it)")
    fig.tight_layout()
    return fig


def lab_curves_figure() -> Figure:
    """The two nonlinear steps of sRGB -> Lab: the sRGB decoding curve and CIE's ``f``, with their straight pieces."""
    from ..color import lab_f, srgb_to_linear

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    c = torch.linspace(0, 1, 501, dtype=torch.float64)
    left.plot(c, srgb_to_linear(c), label="sRGB decoding (colorlab.color.srgb_to_linear)")
    left.plot(c, c, "k:", lw=1, label="no gamma (straight line)")
    left.plot(c, c**2.2, "--", lw=1, label="plain power 2.2 (a common shortcut)")
    left.set_xlabel("stored sRGB value c (0-1)")
    left.set_ylabel("linear light (0-1)")
    left.set_title("Step 1: undo the gamma")
    left.legend(fontsize=8, loc="upper left")
    t = torch.linspace(0, 1, 501, dtype=torch.float64)
    right.plot(t, lab_f(t), label="f(t) (colorlab.color.lab_f)")
    right.plot(t, t ** (1 / 3), "--", lw=1, label="pure cube root")
    right.plot(t, t, "k:", lw=1, label="straight line t")
    right.set_xlabel("t = Y / Y_white (relative luminance)")
    right.set_ylabel("f(t)")
    right.set_title("Step 3: CIE's f, a cube root with a straight start")
    right.legend(fontsize=8, loc="lower right")
    zooms = (
        (left, c * 0.1, srgb_to_linear, "c", "linear", "zoom: straight up to c = 0.04045"),
        (right, t * 0.03, lab_f, "t", "f(t)", "zoom: straight up to t = 0.0089"),
    )
    for ax, x, curve, xlabel, ylabel, title in zooms:
        ax.grid(alpha=0.3)
        inset = ax.inset_axes((0.62, 0.1, 0.33, 0.25) if ax is left else (0.5, 0.28, 0.33, 0.3))
        inset.plot(x, curve(x))
        inset.plot(x, x ** (2.2 if ax is left else 1 / 3), "--", lw=1)
        inset.set_title(title, fontsize=7)
        inset.set_xlabel(xlabel, fontsize=7, labelpad=0)
        inset.set_ylabel(ylabel, fontsize=7, labelpad=0)
        inset.tick_params(labelsize=6)
    fig.suptitle("The two curves of sRGB -> Lab")
    fig.tight_layout()
    return fig


def color_spaces_figure(rgb: np.ndarray, title: str = "One photo in four colour spaces") -> Figure:
    """The photo's three channels in sRGB, YCbCr, HSV and Lab: one row per space, ``(H, W, 3)`` uint8 in."""
    from skimage.color import rgb2hsv, rgb2ycbcr

    spaces = [
        ("sRGB", rgb.astype(np.float64), ("R", "G", "B"), [(0, 255)] * 3),
        (
            "YCbCr",
            rgb2ycbcr(rgb),
            ("Y' (luma)", "Cb (blue - luma)", "Cr (red - luma)"),
            [(16, 235), (16, 240), (16, 240)],
        ),
        ("HSV", rgb2hsv(rgb), ("H (hue, circular)", "S (saturation)", "V = max(R, G, B)"), [(0, 1)] * 3),
        (
            "Lab",
            rgb_uint8_to_lab(rgb),
            ("L (lightness)", "a (green - red)", "b (blue - yellow)"),
            [(0, 100), (-AB_PLOT_LIMIT, AB_PLOT_LIMIT), (-AB_PLOT_LIMIT, AB_PLOT_LIMIT)],
        ),
    ]
    fig, axes = plt.subplots(len(spaces), 3, figsize=(9, 2.7 * len(spaces)))
    for row, (space, values, names, ranges) in zip(axes, spaces):
        for k, (ax, name, (lo, hi)) in enumerate(zip(row, names, ranges)):
            cmap = "hsv" if name.startswith("H ") else "gray"
            if space == "Lab" and k > 0:
                cmap = _lab_colormap("ab"[k - 1])
            im = ax.imshow(values[..., k], cmap=cmap, vmin=lo, vmax=hi)
            ax.set_title(f"{space}: {name}", fontsize=10)
            ax.set_xlabel("x (px)")
            ax.set_ylabel("y (px)")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
