"""Material for the film lesson (notebook 8): a demo film made from bundled photos, and figures.

:func:`demo_clip` writes a short test film with camera motion, a hard cut, grain, exposure
flicker and a tone, encoded like :func:`colorlab.video.colorize_video`'s output.
:func:`flicker_figure`, :func:`strip_figure` and :func:`change_figure` draw what the lesson
measures (matplotlib, imported only when a figure is drawn).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .color import lab_to_rgb, rgb_to_lab
from .video_io import _ENCODER_OPTIONS, _OPUS_RATES, FILM_MARK, _av, _output_format, _temp_path

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

# --- A demo clip ----------------------------------------------------------------------

#: Sample rate of the demo clip's tone.
_DEMO_AUDIO_RATE = 16000
#: The demo tone before and after the cut (A4, then C#5), so one hears the cut too.
_DEMO_TONES_HZ = (440.0, 554.37)
#: The demo camera, over one shot at ``motion=1``: zoom in by this fraction, pan across this much of the free width.
_DEMO_ZOOM, _DEMO_PAN = 0.2, 0.8


def _ken_burns(photo: np.ndarray, size: tuple[int, int], progress: float, pan: bool, motion: float = 1.0) -> np.ndarray:
    """One frame of a slow camera move over ``photo``: ``progress`` in [0, 1] along the move.

    ``motion`` 1 zooms in by :data:`_DEMO_ZOOM` (and with ``pan`` sweeps :data:`_DEMO_PAN` of the
    free width); 0 holds still.
    """
    from PIL import Image

    w, h = size
    ph, pw = photo.shape[:2]
    box_w = min(pw, ph * w / h)  # the largest box of the output's aspect ratio
    zoom = 1.0 + _DEMO_ZOOM * motion * progress
    bw, bh = box_w / zoom, box_w * h / w / zoom
    if pan:  # left to right across the photo
        x0 = (pw - bw) * (0.5 + _DEMO_PAN / 2 * motion * (2.0 * progress - 1.0))
    else:
        x0 = max(0.0, (pw - bw) / 2)
    y0 = max(0.0, (ph - bh) / 2)  # max: rounding must not push the box off the photo
    return np.asarray(Image.fromarray(photo).resize((w, h), Image.BICUBIC, box=(x0, y0, x0 + bw, y0 + bh)))


def _old_film(
    photos: Sequence[np.ndarray],
    n: int,
    n_cut: int,
    size: tuple[int, int],
    motion: float,
    grain: float,
    exposure_flicker: float,
    rng: np.random.Generator,
) -> Iterator[tuple[range, np.ndarray]]:
    """The demo's ``n`` frames, a few at a time: (their indices, ``(k, H, W, 3)`` uint8 RGB).

    Frames before ``n_cut`` pan across ``photos[0]``, the rest zoom into ``photos[1]``; each gets
    its own exposure and grain from ``rng``.
    """
    w, h = size
    chunk = max(1, (1 << 21) // (w * h))  # frames made at once: a few large tensor operations
    for first in range(0, n, chunk):
        idx = range(first, min(n, first + chunk))
        shots = [
            _ken_burns(
                photos[0] if i < n_cut else photos[1],
                size,
                i / max(1, n_cut - 1) if i < n_cut else (i - n_cut) / max(1, n - n_cut - 1),
                pan=i < n_cut,
                motion=motion,
            )
            for i in idx
        ]
        lab = rgb_to_lab(torch.from_numpy(np.stack(shots)).permute(0, 3, 1, 2).float() / 255.0)
        # old film: lightness flickers and is grainy; the colours (a, b) stay as they are
        gain = torch.from_numpy(1.0 + exposure_flicker * rng.uniform(-1.0, 1.0, len(idx))).float().view(-1, 1, 1)
        noise = torch.from_numpy(grain * rng.standard_normal((len(idx), h, w))).float()
        lab[:, 0] = (lab[:, 0] * gain + noise).clamp(0.0, 100.0)
        yield idx, lab_to_rgb(lab).permute(0, 2, 3, 1).mul_(255.0).round_().to(torch.uint8).numpy()


def _mux_tone(dst: Any, a: Any, start: int, end: int, cut_s: float) -> None:
    """The demo tone's samples ``start`` to ``end`` (its pitch changes at ``cut_s`` seconds), encoded into ``dst``."""
    av = _av()
    rate = a.rate
    t = np.arange(start, end) / rate
    tone = np.where(t < cut_s, _DEMO_TONES_HZ[0], _DEMO_TONES_HZ[1])
    wave = (0.2 * np.sin(2 * np.pi * tone * t) * np.iinfo(np.int16).max).astype(np.int16)[None]
    if wave.size:
        frame = av.AudioFrame.from_ndarray(wave, format="s16", layout="mono")
        frame.sample_rate = rate
        frame.pts = None
        dst.mux(a.encode(frame))


def demo_clip(
    path: str | os.PathLike[str],
    *,
    seconds: float = 3.0,
    fps: int = 24,
    size: tuple[int, int] = (320, 240),
    photos: Sequence[str] = ("chelsea", "coffee"),
    cut_at: float = 0.5,
    motion: float = 1.0,
    grain: float = 2.0,
    exposure_flicker: float = 0.04,
    seed: int = 0,
    audio: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write a short test film made from two bundled photos and return its path.

    Shot 1 pans slowly across ``photos[0]`` while zooming in; at ``cut_at`` of the
    length a hard cut goes to ``photos[1]``, which the camera slowly zooms into
    (``motion`` scales both moves; 0 is a still camera).
    ``size`` is ``(width, height)``. Like old film, each frame gets its own grain
    (noise of standard deviation ``grain`` L units added to the lightness) and
    exposure (``L`` scaled by a random factor within ``1 +- exposure_flicker``),
    drawn from ``seed``; the colours (a, b) are left as they are. With ``audio``,
    a sine tone whose pitch changes at the cut is added (AAC; Opus in ``.webm``).

    Encoded like :func:`colorize_video`'s output (H.264 in ``.mp4``), written
    atomically; an existing file is replaced only with ``overwrite``. The
    default photos are CC0 (see ``data/README.md``).
    """
    av = _av()
    from .samples import sample_images

    out = Path(path)
    muxer, video_codec, audio_codec = _output_format(out, overwrite)
    if seconds <= 0 or fps < 1 or min(size) < 8 or not 0 < cut_at < 1:
        raise ValueError(
            "demo clip needs seconds > 0, fps >= 1, sides >= 8 and 0 < cut_at < 1; "
            f"got {seconds}, {fps}, {size}, {cut_at}"
        )
    first_photo, second_photo = sample_images(list(photos)[:2]).values()
    n = max(2, round(seconds * fps))
    n_cut = min(n - 1, max(1, round(n * cut_at)))
    rng = np.random.default_rng(seed)
    w, h = size
    tmp = _temp_path(out)
    dst = av.open(str(tmp), "w", format=muxer)
    try:
        dst.metadata["comment"] = f"{FILM_MARK}: a demo clip"  # colorlab's: --overwrite may replace it
        v = dst.add_stream(video_codec, rate=fps, options=_ENCODER_OPTIONS.get(video_codec, {}))
        v.width, v.height = w, h
        v.pix_fmt = "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"
        a = None
        if audio:
            a = dst.add_stream(audio_codec, rate=_DEMO_AUDIO_RATE if audio_codec != "libopus" else _OPUS_RATES[0])
            a.layout = "mono"
        samples_done = 0
        for idx, rgb in _old_film((first_photo, second_photo), n, n_cut, size, motion, grain, exposure_flicker, rng):
            for i, frame_rgb in zip(idx, rgb):
                dst.mux(v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_rgb), format="rgb24")))
                if a is not None:  # the tone up to the end of this frame, so audio and video interleave
                    upto = round((i + 1) / fps * a.rate)
                    _mux_tone(dst, a, samples_done, upto, n_cut / fps)
                    samples_done = upto
        dst.mux(v.encode(None))
        if a is not None:
            dst.mux(a.encode(None))
        dst.close()
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(av.error.FFmpegError, OSError):
            dst.close()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return out


# --- Figures for the lesson -----------------------------------------------------------


def flicker_figure(
    curves: Mapping[str, torch.Tensor | np.ndarray],
    cuts: Sequence[int] = (),
    fps: float | None = None,
    title: str = "Frame-to-frame colour change",
) -> Figure:
    """Per-frame :func:`flicker_per_frame` curves (``{label: (T - 1,)}``) with the cuts marked.

    The value drawn at frame ``t`` is the change from frame ``t - 1`` to ``t``;
    the pairs across a cut are left out (they are not flicker, and they would
    dwarf everything else), as in :func:`flicker`. The x axis is the frame index,
    or seconds given ``fps``.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.6))
    scale = 1.0 / fps if fps else 1.0
    for label, values in curves.items():
        y = np.array(values, dtype=float)
        y[[c - 1 for c in cuts if 0 < c <= len(y)]] = np.nan
        ax.plot((np.arange(len(y)) + 1) * scale, y, marker=".", label=label)
    for k, c in enumerate(cuts):
        ax.axvline(c * scale, color="gray", linestyle="--", label="cut (pair left out)" if k == 0 else None)
    ax.set_xlabel("time (s)" if fps else "frame")
    ax.set_ylabel("mean |Δab| to previous frame")
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.legend()
    fig.tight_layout()
    return fig


def strip_figure(
    rows: Mapping[str, Sequence[np.ndarray]],
    columns: Sequence[str],
    title: str,
    size: float = 2.6,
) -> Figure:
    """A grid of frames: one row per ``{label: [(H, W, 3) uint8, ...]}``, one column per ``columns`` label."""
    import matplotlib.pyplot as plt

    nrows, ncols = len(rows), len(columns)
    h, w = next(iter(rows.values()))[0].shape[:2]
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols * w / h, size * nrows + 0.6), squeeze=False)
    for r, (label, images) in enumerate(rows.items()):
        for c, image in enumerate(images):
            ax = axes[r, c]
            ax.imshow(image)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(columns[c])
            if c == 0:
                ax.set_ylabel(label, fontsize=12)
            if r == nrows - 1:
                ax.set_xlabel(f"{w} px")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def change_figure(pairs: Mapping[str, torch.Tensor], title: str, size: float = 3.4) -> Figure:
    """Where the colour changed between two frames: ``{label: ab (2, 2, h, w)}`` -> maps of ``sqrt(da^2 + db^2)``.

    All maps share one colour scale (Lab units), so a flickering prediction shows up as a brighter map.
    """
    import matplotlib.pyplot as plt

    maps = {k: (v[1].float() - v[0].float()).pow(2).sum(dim=0).sqrt().cpu().numpy() for k, v in pairs.items()}
    vmax = max(float(m.max()) for m in maps.values()) or 1.0
    h, w = next(iter(maps.values())).shape
    fig, axes = plt.subplots(
        1, len(maps), figsize=(size * len(maps) * w / h + 1.0, size + 0.6), squeeze=False, layout="constrained"
    )
    for ax, (label, m) in zip(axes[0], maps.items()):
        im = ax.imshow(m, cmap="magma", vmin=0.0, vmax=vmax)
        ax.set_title(f"{label}: mean {m.mean():.2f}")
        ax.set_xlabel("x (network px)")
        ax.set_ylabel("y (network px)")
    fig.colorbar(im, ax=axes[0].tolist(), label="|Δab| (Lab units)")
    fig.suptitle(title)
    return fig
