"""Colorize a film frame by frame without flicker: decode, predict, smooth in time, encode.

A frame is colorized like a photo: the network predicts ab on a small copy, the
ab is upsampled and joined with the frame's own full-resolution L, so the
lightness of the film is kept exactly. Predicted one frame at a time, the colour
jumps from frame to frame ("flicker"): tiny changes of the input (grain, motion,
exposure) move the prediction. The cure here is an exponential moving average of
the small ab that restarts at every scene cut, so colours never blend across a cut::

    s_t = ab_t                                  if frame t starts a shot
    s_t = alpha * ab_t + (1 - alpha) * s_{t-1}  otherwise

Cuts are found in the lightness alone (all a black-and-white film has): the mean
absolute change of a coarse copy of L between consecutive frames.

Decoding and encoding use PyAV (``av``; its wheels bring their own FFmpeg). The
output keeps every frame's timestamp (so variable frame rates survive) and the
original audio: copied packet for packet when the output container can hold its
codec, else re-encoded. It is written to a temporary file beside the output and
renamed when whole; on any error or Ctrl-C the temporary file is removed.

This module is the entry point, :func:`colorize_video`, and every name of the film API. The
work is done in three modules beside it: :mod:`colorlab.video_frames` (prediction, cuts,
smoothing and flicker, in tensors), :mod:`colorlab.video_io` (reading and writing files with
PyAV) and :mod:`colorlab.video_lesson` (the demo film and the lesson's figures).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .files import sigterm_as_interrupt
from .infer import DEFAULT_SIZE
from .model import ColorizationNet

# Every name of the film API is importable from here; `X as X` marks those outside __all__.
from .video_frames import CUT_GRID as CUT_GRID
from .video_frames import (
    DEFAULT_ALPHA,
    DEFAULT_BATCH_SIZE,
    DEFAULT_CUT_THRESHOLD,
    FramePredictions,
    _Colorizer,
    cut_scores,
    detect_cuts,
    flicker,
    flicker_per_frame,
    join_ab,
    network_frames,
    predict_frames,
    smooth_ab,
)
from .video_io import FALLBACK_FPS as FALLBACK_FPS
from .video_io import FILM_MARK as FILM_MARK
from .video_io import H264_CRF as H264_CRF
from .video_io import (
    MAX_PIXELS,
    OUTPUT_FORMATS,
    VideoError,
    VideoInfo,
    _av,
    _output_format,
    probe,
    read_frames,
    write_colorized,
)
from .video_io import TRUNCATION_TOLERANCE_S as TRUNCATION_TOLERANCE_S
from .video_io import is_colorlab_video as is_colorlab_video
from .video_lesson import change_figure, demo_clip, flicker_figure, strip_figure

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_CUT_THRESHOLD",
    "DEFAULT_BATCH_SIZE",
    "MAX_PIXELS",
    "OUTPUT_FORMATS",
    "VideoError",
    "VideoInfo",
    "VideoResult",
    "FramePredictions",
    "probe",
    "read_frames",
    "network_frames",
    "predict_frames",
    "join_ab",
    "cut_scores",
    "detect_cuts",
    "smooth_ab",
    "flicker_per_frame",
    "flicker",
    "colorize_video",
    "demo_clip",
    "flicker_figure",
    "strip_figure",
    "change_figure",
]


@dataclass
class VideoResult:
    """What :func:`colorize_video` did and measured.

    Flicker figures are :func:`flicker` of the network-size ab (Lab units) over
    all frame pairs not straddling a cut: of the source's own colours, of the raw
    per-frame prediction, and of what was written (smoothed, or raw with
    ``smooth=False``). ``psnr`` is the mean over frames of the written colours
    against the source frames (dB; before encoding).
    """

    input: Path
    output: Path
    frames: int
    width: int
    height: int
    fps: float
    audio: str
    smoothed: bool
    cuts: list[int] = field(default_factory=list)
    flicker_source: float = float("nan")
    flicker_raw: float = float("nan")
    flicker_output: float = float("nan")
    psnr: float = float("nan")
    seconds: float = 0.0

    @property
    def frames_per_second(self) -> float:
        """Frames colorized per second of wall time (decode, predict, smooth, join, encode)."""
        return self.frames / self.seconds if self.seconds > 0 else float("nan")

    def __str__(self) -> str:
        return (
            f"{self.input} -> {self.output}: {self.frames} frames {self.width}x{self.height} at {self.fps:.3g} fps, "
            f"{len(self.cuts)} cut(s), audio {self.audio}; flicker (mean |dab| per frame, Lab units) source "
            f"{self.flicker_source:.2f}, raw {self.flicker_raw:.2f}, written {self.flicker_output:.2f}"
            f"{' (smoothed)' if self.smoothed else ' (not smoothed)'}; PSNR vs source {self.psnr:.2f} dB; "
            f"{self.frames_per_second:.1f} frames/s"
        )


def colorize_video(
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    model: ColorizationNet | None = None,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    smooth: bool = True,
    alpha: float = DEFAULT_ALPHA,
    cut_threshold: float = DEFAULT_CUT_THRESHOLD,
    size: int = DEFAULT_SIZE,
    overwrite: bool = False,
    progress: bool = True,
    max_pixels: int = MAX_PIXELS,
) -> VideoResult:
    """Colorize a video file into ``output`` (``.mp4``, ``.m4v``, ``.mov``, ``.mkv`` or ``.webm``).

    Frames are decoded with PyAV, predicted ``batch_size`` at a time on the
    model's device (``model`` defaults to :func:`colorlab.load_pretrained`),
    smoothed in time (:func:`smooth_ab`, restarted at :func:`detect_cuts`; off with
    ``smooth=False``), joined with each frame's own full-resolution lightness and
    encoded (H.264, or VP9 for ``.webm``) with every frame's original timestamp.
    The audio is copied when the container can hold it, else re-encoded.

    The output appears only when complete. Raises :class:`VideoError` (one line)
    for an input that cannot be colorized (not a video, truncated or damaged, no
    frames, frames above ``max_pixels``, frame size changing mid-stream),
    :class:`FileExistsError` if ``output`` exists and not ``overwrite``, and
    :class:`ValueError` for bad arguments or ``output`` equal to ``input``.
    """
    _av()  # without PyAV, say so before anything else
    src_path, out_path = Path(input), Path(output)
    _check_settings(size, batch_size, alpha, cut_threshold)
    _check_not_the_input(src_path, out_path)
    output_format = _output_format(out_path, overwrite)
    info = probe(src_path, max_pixels)
    if model is None:
        from .infer import load_pretrained

        model = load_pretrained()
    was_training = model.training
    model.eval()
    colorizer = _Colorizer(model, size, smooth, alpha, cut_threshold)
    start = time.perf_counter()
    try:
        with sigterm_as_interrupt():  # kill: stop as on Ctrl-C, leaving no partial file
            audio = write_colorized(
                src_path, out_path, info, output_format, colorizer, batch_size=batch_size, progress=progress
            )
    finally:
        model.train(was_training)
    return VideoResult(
        input=src_path,
        output=out_path,
        frames=colorizer.frames,
        width=info.width,
        height=info.height,
        fps=float(info.fps),
        audio=audio,
        smoothed=smooth,
        cuts=colorizer.cuts,
        flicker_source=colorizer.flicker("source"),
        flicker_raw=colorizer.flicker("raw"),
        flicker_output=colorizer.flicker("output"),
        psnr=colorizer.psnr(),
        seconds=time.perf_counter() - start,
    )


def _check_settings(size: int, batch_size: int, alpha: float, cut_threshold: float) -> None:
    """Refuse settings :func:`colorize_video` cannot use, before any file is opened."""
    from .checks import check_size

    check_size(size)
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1] (1 = no smoothing), got {alpha}")
    if not cut_threshold > 0:
        raise ValueError(f"cut threshold must be positive (L units), got {cut_threshold}")


def _check_not_the_input(src_path: Path, out_path: Path) -> None:
    same = src_path.resolve() == out_path.resolve() or (
        src_path.exists() and out_path.exists() and os.path.samefile(src_path, out_path)
    )
    if same:
        raise ValueError(f"{out_path}: is the input itself; choose another output name")
