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
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from .color import lab_to_rgb, rgb_to_lab, rgb_uint8_to_l
from .files import sigterm_as_interrupt
from .infer import DEFAULT_SIZE, join_lightness, network_input_size, predict_ab
from .metrics import psnr
from .model import ColorizationNet

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

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

#: Weight of the newest frame's prediction in the moving average (1 = no smoothing).
DEFAULT_ALPHA = 0.3
#: A cut: the coarse lightness changes by more than this many L units (of 100) on average.
DEFAULT_CUT_THRESHOLD = 8.0
#: Frames predicted together.
DEFAULT_BATCH_SIZE = 8
#: Cut detection compares lightness pooled to this many cells per side (motion averages out).
CUT_GRID = 16
#: The largest frame accepted: 8K UHD (7680 x 4320).
MAX_PIXELS = 7680 * 4320
#: A file whose streams end this much before the length its header promises is truncated.
TRUNCATION_TOLERANCE_S = 0.5
#: Frame rate assumed when a file states none (the frames' own timestamps are kept anyway).
FALLBACK_FPS = 24
#: H.264 quality (constant rate factor; lower is better, 18 is visually near-lossless).
H264_CRF = "18"

#: Output suffix -> (FFmpeg muxer, video encoder, audio encoder used when the audio cannot be copied).
OUTPUT_FORMATS: dict[str, tuple[str, str, str]] = {
    ".mp4": ("mp4", "libx264", "aac"),
    ".m4v": ("mp4", "libx264", "aac"),
    ".mov": ("mov", "libx264", "aac"),
    ".mkv": ("matroska", "libx264", "aac"),
    ".webm": ("webm", "libvpx-vp9", "libopus"),
}
_ENCODER_OPTIONS = {"libx264": {"crf": H264_CRF, "preset": "medium"}, "libvpx-vp9": {"crf": "30", "b": "0"}}
#: Audio codecs each container is known to hold when copied; anything else is re-encoded
#: (FFmpeg lists e.g. Opus as "supported" by MOV, then refuses to write it).
_COPYABLE_AUDIO = {
    "mp4": {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"},
    "mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le"},
    "matroska": {"aac", "mp3", "ac3", "eac3", "opus", "vorbis", "flac", "alac", "pcm_s16le", "pcm_s24le"},
    "webm": {"opus", "vorbis"},
}
#: Sample rates an Opus encoder takes; other audio is resampled to the first.
_OPUS_RATES = (48000, 24000, 16000, 12000, 8000)


class VideoError(ValueError):
    """A video that cannot be colorized; the message is one line naming the file and the reason."""


def _av():
    try:
        import av
    except ImportError as exc:  # pragma: no cover - av is a dependency
        raise ImportError("colorlab.video needs PyAV: pip install av") from exc
    return av


# --- Reading ------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` reads from a video's header, before any frame is decoded."""

    path: Path
    container: str
    codec: str
    width: int
    height: int
    fps: Fraction
    frames: int | None
    duration: float | None
    audio: str | None

    def __str__(self) -> str:
        n = f"{self.frames} frames" if self.frames else "frame count unknown"
        d = f"{self.duration:.2f} s" if self.duration is not None else "length unknown"
        a = f"audio {self.audio}" if self.audio else "no audio"
        return f"{self.path.name}: {self.width}x{self.height} {self.codec} at {float(self.fps):.3g} fps, {n}, {d}, {a}"


def _reason(exc: Exception) -> str:
    """FFmpeg's words for an error, on one line, without the errno."""
    return " ".join(str(getattr(exc, "strerror", None) or exc).split())


def _open_input(path: Path):
    av = _av()
    if not path.exists():
        raise VideoError(f"{path}: no such file")
    if path.is_dir():
        raise VideoError(f"{path}: is a folder, not a video file")
    try:
        return av.open(str(path))
    except av.error.FFmpegError as exc:
        raise VideoError(f"{path}: not a video, or truncated before its header ends (FFmpeg: {_reason(exc)})") from None


def _info(path: Path, src: Any, max_pixels: int) -> VideoInfo:
    fmt = src.format.name
    if fmt.endswith("_pipe") or fmt in ("image2", "gif"):
        raise VideoError(f"{path}: a still image ({fmt}), not a video; colorize it with `colorlab colorize`")
    if not src.streams.video:
        kinds = sorted({s.type for s in src.streams})
        holds = f"only {' and '.join(kinds)}" if kinds else "no streams at all"
        raise VideoError(f"{path}: no video frames (the file holds no video stream, {holds})")
    v = src.streams.video[0]
    w, h = v.codec_context.width, v.codec_context.height
    if w < 1 or h < 1:
        raise VideoError(f"{path}: the video stream states no frame size ({w}x{h}); the file is damaged")
    if w * h > max_pixels:
        raise VideoError(
            f"{path}: {w}x{h} frames ({w * h / 1e6:.1f} MP) exceed the limit of {max_pixels / 1e6:.1f} MP "
            f"({max_pixels} pixels, 8K UHD by default); downscale it first (e.g. ffmpeg -vf scale=-2:2160), or raise "
            "the limit with --max-pixels N (colorize_video(..., max_pixels=N) in Python)"
        )
    fps = v.average_rate or v.guessed_rate or v.base_rate or Fraction(FALLBACK_FPS)
    duration = src.duration / 1e6 if src.duration else None
    audio = src.streams.audio[0].codec_context.name if src.streams.audio else None
    return VideoInfo(path, fmt, v.codec_context.name, w, h, Fraction(fps), v.frames or None, duration, audio)


def probe(path: str | os.PathLike[str], max_pixels: int = MAX_PIXELS) -> VideoInfo:
    """Read a video's header and check it can be colorized, without decoding frames.

    Raises :class:`VideoError` (one line) for a missing file, a file that is not
    a video (text, a still image), one truncated before its header ends, one
    without a video stream, or frames above ``max_pixels``.
    """
    p = Path(path)
    with _open_input(p) as src:
        return _info(p, src, max_pixels)


def read_frames(
    path: str | os.PathLike[str], max_frames: int | None = None, max_pixels: int = MAX_PIXELS
) -> tuple[np.ndarray, float]:
    """All frames of a (short) video in memory: ``(T, H, W, 3)`` uint8 RGB, and the frame rate.

    Meant for clips in the lessons; :func:`colorize_video` streams instead.
    ``max_frames`` stops early.
    """
    p = Path(path)
    frames: list[np.ndarray] = []
    with _open_input(p) as src:
        info = _info(p, src, max_pixels)
        try:
            for frame in src.decode(src.streams.video[0]):
                frames.append(frame.to_ndarray(format="rgb24"))
                if max_frames is not None and len(frames) >= max_frames:
                    break
        except _av().error.FFmpegError as exc:
            raise VideoError(
                f"{p}: damaged or truncated: decoding failed after {len(frames)} frames (FFmpeg: {_reason(exc)})"
            ) from None
    if not frames:
        raise VideoError(f"{p}: no video frames (the video stream is empty)")
    return np.stack(frames), float(info.fps)


# --- Predicting and joining -----------------------------------------------------------


def _as_frames(frames: np.ndarray | torch.Tensor, device: torch.device | None = None) -> torch.Tensor:
    t = frames if isinstance(frames, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(frames))
    if t.dtype != torch.uint8 or t.dim() != 4 or t.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB frames (T, H, W, 3), got {t.dtype} {tuple(t.shape)}")
    return t.to(device) if device is not None else t


def network_frames(frames: np.ndarray | torch.Tensor, size: int = DEFAULT_SIZE) -> torch.Tensor:
    """Frames ``(B, H, W, 3)`` uint8 -> the small copies the network sees, ``(B, h, w, 3)`` uint8.

    ``(h, w)`` follows :func:`colorlab.infer.network_input_size` (short side
    ``size``, multiples of 8); the resize is bilinear with antialiasing, on the
    frames' device.
    """
    t = _as_frames(frames)
    h, w = network_input_size(t.shape[1], t.shape[2], size)
    if (h, w) == tuple(t.shape[1:3]):
        return t
    x = t.permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


@dataclass
class FramePredictions:
    """The model's view of a clip, all at network size ``(h, w)``, in Lab units.

    ``ab``: the raw per-frame prediction ``(T, 2, h, w)``; ``lightness``: the
    frames' ``L`` ``(T, 1, h, w)`` in ``[0, 100]`` (what cut detection reads);
    ``source_ab``: the frames' own ab ``(T, 2, h, w)`` (the truth, for a colour source).
    """

    ab: torch.Tensor
    lightness: torch.Tensor
    source_ab: torch.Tensor


def _small_views(model: ColorizationNet, small: torch.Tensor) -> FramePredictions:
    rgb = small.permute(0, 3, 1, 2)
    return FramePredictions(
        ab=predict_ab(model, small),
        lightness=rgb_uint8_to_l(rgb),
        source_ab=rgb_to_lab(rgb.float() / 255.0)[:, 1:3],
    )


def predict_frames(
    model: ColorizationNet,
    frames: np.ndarray | torch.Tensor,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    size: int = DEFAULT_SIZE,
) -> FramePredictions:
    """Predict ab for every frame ``(T, H, W, 3)`` uint8, in batches on the model's device (no smoothing)."""
    device = next(model.parameters()).device
    parts = []
    for start in range(0, len(frames), batch_size):
        small = network_frames(_as_frames(frames[start : start + batch_size], device), size)
        parts.append(_small_views(model, small))
    return FramePredictions(
        *(torch.cat([getattr(p, k) for p in parts]).cpu() for k in ("ab", "lightness", "source_ab"))
    )


def join_ab(frames: np.ndarray | torch.Tensor, ab: torch.Tensor) -> np.ndarray:
    """Each frame's own full-resolution ``L`` + ``ab`` ``(T, 2, h, w)`` upsampled bilinearly -> ``(T, H, W, 3)``
    uint8 RGB, on ``ab``'s device (:func:`colorlab.infer.join_lightness`, the same join as for photos)."""
    return join_lightness(_as_frames(frames), ab)


# --- Cuts, smoothing, flicker: pure functions on tensors ------------------------------


def _lightness_seq(l_seq: torch.Tensor) -> torch.Tensor:
    if l_seq.dim() == 3:
        l_seq = l_seq.unsqueeze(1)
    if l_seq.dim() != 4 or l_seq.shape[1] != 1:
        raise ValueError(f"expected lightness (T, 1, h, w) or (T, h, w), got {tuple(l_seq.shape)}")
    return l_seq.float()


def cut_scores(l_seq: torch.Tensor, previous: torch.Tensor | None = None) -> torch.Tensor:
    """How much each frame's coarse lightness differs from the frame before: ``(T,)`` in L units.

    ``l_seq`` is ``L`` ``(T, 1, h, w)`` (or ``(T, h, w)``) in ``[0, 100]``. Each
    frame is average-pooled to a :data:`CUT_GRID` x :data:`CUT_GRID` grid (so slow
    motion and grain average out) and compared with the previous one by mean
    absolute difference. ``previous`` is the ``L`` ``(1, 1, h, w)`` of the frame
    before ``l_seq[0]`` (from an earlier batch); without it the first score is 0.
    """
    seq = _lightness_seq(l_seq)
    if previous is not None:
        seq = torch.cat([_lightness_seq(previous).to(seq.device), seq])
    coarse = F.adaptive_avg_pool2d(seq, (CUT_GRID, CUT_GRID))
    diffs = (coarse[1:] - coarse[:-1]).abs().mean(dim=(1, 2, 3))
    return diffs if previous is not None else torch.cat([diffs.new_zeros(1), diffs])


def detect_cuts(
    l_seq: torch.Tensor, threshold: float = DEFAULT_CUT_THRESHOLD, previous: torch.Tensor | None = None
) -> torch.Tensor:
    """Scene cuts: ``(T,)`` bool, True where frame ``t`` starts a new shot.

    A cut is a :func:`cut_scores` value above ``threshold`` (L units). The first
    frame is never a cut unless ``previous`` (the frame before it) is given.
    """
    if not threshold > 0:
        raise ValueError(f"cut threshold must be positive (L units), got {threshold}")
    return cut_scores(l_seq, previous) > threshold


def smooth_ab(
    ab_seq: torch.Tensor, cuts: torch.Tensor, alpha: float = DEFAULT_ALPHA, initial: torch.Tensor | None = None
) -> torch.Tensor:
    """Exponential moving average of ``ab`` ``(T, 2, h, w)`` over time, restarted at cuts.

    ``s_t = ab_t`` where ``cuts[t]`` (and at ``t = 0`` without ``initial``),
    else ``s_t = alpha * ab_t + (1 - alpha) * s_{t-1}``. ``alpha`` in ``(0, 1]``
    weights the newest frame (1 = no smoothing; about ``1/alpha`` frames are
    remembered). ``initial`` ``(1, 2, h, w)`` is the smoothed ab of the frame
    before ``ab_seq[0]``, to continue across batches. Returns ``(T, 2, h, w)``.
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1] (1 = no smoothing), got {alpha}")
    if ab_seq.dim() != 4 or ab_seq.shape[1] != 2:
        raise ValueError(f"expected ab (T, 2, h, w), got {tuple(ab_seq.shape)}")
    cuts = torch.as_tensor(cuts, dtype=torch.bool).reshape(-1)
    if cuts.numel() != ab_seq.shape[0]:
        raise ValueError(f"cuts has {cuts.numel()} entries for {ab_seq.shape[0]} frames")
    out = torch.empty_like(ab_seq)
    state = None if initial is None else initial.reshape(ab_seq.shape[1:]).to(ab_seq)
    for t in range(ab_seq.shape[0]):
        state = ab_seq[t] if state is None or bool(cuts[t]) else alpha * ab_seq[t] + (1 - alpha) * state
        out[t] = state
    return out


def flicker_per_frame(ab_seq: torch.Tensor) -> torch.Tensor:
    """Mean colour change between consecutive frames, ``(T - 1,)`` in Lab units.

    Entry ``t - 1`` is the mean over pixels of ``sqrt(da^2 + db^2)`` between
    frames ``t - 1`` and ``t`` of ``ab`` ``(T, 2, h, w)``.
    """
    if ab_seq.dim() != 4 or ab_seq.shape[1] != 2:
        raise ValueError(f"expected ab (T, 2, h, w), got {tuple(ab_seq.shape)}")
    d = ab_seq[1:].float() - ab_seq[:-1].float()
    return d.pow(2).sum(dim=1).sqrt().mean(dim=(1, 2))


def flicker(ab_seq: torch.Tensor, cuts: torch.Tensor | None = None) -> float:
    """The flicker figure: mean of :func:`flicker_per_frame` over frame pairs that do not straddle a cut.

    ``cuts`` ``(T,)`` bool marks frames that start a shot; the pair ``(t-1, t)``
    is left out where ``cuts[t]``. Lab units; ``nan`` when no pair is left.
    """
    per = flicker_per_frame(ab_seq)
    if cuts is not None:
        cuts = torch.as_tensor(cuts, dtype=torch.bool).reshape(-1).to(per.device)
        if cuts.numel() != ab_seq.shape[0]:
            raise ValueError(f"cuts has {cuts.numel()} entries for {ab_seq.shape[0]} frames")
        per = per[~cuts[1:]]
    return float(per.mean()) if per.numel() else float("nan")


# --- Colorizing a file ----------------------------------------------------------------


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


class _Colorizer:
    """Colorizes batches of one video in order, carrying the smoother, cut detector and metrics across batches."""

    def __init__(self, model: ColorizationNet, size: int, smooth: bool, alpha: float, threshold: float):
        self.model, self.size, self.smooth, self.alpha, self.threshold = model, size, smooth, alpha, threshold
        self.device = next(model.parameters()).device
        self.frames = 0
        self.cuts: list[int] = []
        self.prev: dict[str, torch.Tensor] = {}
        self.flicker_sum = {"source": 0.0, "raw": 0.0, "output": 0.0}
        self.pairs = 0
        self.psnr_sum, self.psnr_n = 0.0, 0

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        x = _as_frames(frames, self.device)
        views = _small_views(self.model, network_frames(x, self.size))
        first = "lightness" not in self.prev
        cuts = detect_cuts(views.lightness, self.threshold, previous=self.prev.get("lightness"))
        out_ab = smooth_ab(views.ab, cuts, self.alpha, initial=self.prev.get("output")) if self.smooth else views.ab
        keep = ~cuts[1:] if first else ~cuts  # the frame pairs (t-1, t) that stay inside a shot
        for name, seq in (("source", views.source_ab), ("raw", views.ab), ("output", out_ab)):
            per = flicker_per_frame(seq if first else torch.cat([self.prev[name], seq]))
            self.flicker_sum[name] += float(per[keep].sum())
        self.pairs += int(keep.sum())
        self.cuts += [self.frames + int(i) for i in torch.nonzero(cuts).flatten()]
        self.prev = {
            "lightness": views.lightness[-1:],
            "source": views.source_ab[-1:],
            "raw": views.ab[-1:],
            "output": out_ab[-1:],
        }
        result = join_ab(x, out_ab)
        for i in range(len(frames)):
            value = psnr(result[i], frames[i])
            if math.isfinite(value):
                self.psnr_sum, self.psnr_n = self.psnr_sum + value, self.psnr_n + 1
        self.frames += len(frames)
        return result

    def flicker(self, name: str) -> float:
        return self.flicker_sum[name] / self.pairs if self.pairs else float("nan")

    def psnr(self) -> float:
        if self.psnr_n:
            return self.psnr_sum / self.psnr_n
        return float("inf") if self.frames else float("nan")


def _temp_path(output: Path) -> Path:
    # Same folder (os.replace stays a rename), hidden, the real suffix so tools recognise it.
    return output.with_name(f".{output.stem}.{secrets.token_hex(4)}.partial{output.suffix}")


#: The comment colorlab writes into every film it makes (so that --overwrite can tell them from a user's).
FILM_MARK = "colorlab"


def is_colorlab_video(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a film that colorlab wrote (its container comment carries colorlab's mark)."""
    import av

    try:
        with av.open(str(path)) as c:
            comment = c.metadata.get("comment") or c.metadata.get("COMMENT") or ""
    except (av.error.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        return False
    return comment.startswith(FILM_MARK)


def _output_format(output: Path, overwrite: bool) -> tuple[str, str, str]:
    """(muxer, video encoder, fallback audio encoder) for ``output``, after checking it may be written."""
    suffix = output.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise ValueError(
            f"{output}: unsupported output type {output.suffix or '(none)'!r}; use one of {', '.join(OUTPUT_FORMATS)}"
        )
    from .files import replace_problem

    problem = replace_problem(
        output,
        overwrite=overwrite,
        ours=is_colorlab_video,
        what="a film colorlab made",
        how="choose another name or pass overwrite=True (--overwrite)",
    )
    if problem:
        raise (FileExistsError if not overwrite else ValueError)(problem)
    if not output.parent.is_dir():
        raise FileNotFoundError(f"{output.parent}: the output folder does not exist; create it first")
    from .files import check_writable

    problem = check_writable(output)
    if problem:
        raise ValueError(problem)
    return OUTPUT_FORMATS[suffix]


def _audio_stream(dst: Any, ain: Any, fallback: str, muxer: str = "matroska") -> tuple[Any, bool, str]:
    """The output audio stream for ``ain``, with its language and title tags: (stream, copy packets?, description)."""
    name = ain.codec_context.name
    tags = {k: v for k, v in (ain.metadata or {}).items() if k in ("language", "title", "handler_name")}
    if name in dst.supported_codecs and name in _COPYABLE_AUDIO.get(muxer, set()):
        out, copy, desc = dst.add_stream_from_template(ain), True, f"copied ({name})"
    else:
        rate = ain.rate or _OPUS_RATES[0]
        if fallback == "libopus" and rate not in _OPUS_RATES:
            rate = _OPUS_RATES[0]
        out = dst.add_stream(fallback, rate=rate)
        channels = len(ain.layout.channels)
        out.layout = {1: "mono", 2: "stereo"}.get(channels, ain.layout.name)
        copy, desc = False, f"re-encoded to {fallback.removeprefix('lib')} (the container cannot hold {name})"
    for key, value in tags.items():
        out.metadata[key] = value
    if tags.get("language") and tags["language"] != "und":  # "und": undetermined, said by no one
        desc += f" [{tags['language']}]"
    return out, copy, desc


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
    av = _av()
    from tqdm.auto import tqdm

    src_path, out_path = Path(input), Path(output)
    from .checks import check_size

    check_size(size)
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1] (1 = no smoothing), got {alpha}")
    if not cut_threshold > 0:
        raise ValueError(f"cut threshold must be positive (L units), got {cut_threshold}")
    same = src_path.resolve() == out_path.resolve() or (
        src_path.exists() and out_path.exists() and os.path.samefile(src_path, out_path)
    )
    if same:
        raise ValueError(f"{out_path}: is the input itself; choose another output name")
    muxer, video_codec, audio_fallback = _output_format(out_path, overwrite)
    info = probe(src_path, max_pixels)
    if model is None:
        from .infer import load_pretrained

        model = load_pretrained()
    was_training = model.training
    model.eval()
    colorizer = _Colorizer(model, size, smooth, alpha, cut_threshold)
    tmp = _temp_path(out_path)
    dst = None
    start = time.perf_counter()
    stop = contextlib.ExitStack()
    stop.enter_context(sigterm_as_interrupt())  # kill: stop as on Ctrl-C, leaving no partial file
    try:
        with _open_input(src_path) as src:
            vin = src.streams.video[0]
            vin.thread_type = "AUTO"
            audio_in = list(src.streams.audio)
            dst = av.open(str(tmp), "w", format=muxer)
            dst.metadata["comment"] = f"{FILM_MARK}: colorized from {src_path.name}"
            vout = dst.add_stream(video_codec, rate=info.fps, options=_ENCODER_OPTIONS.get(video_codec, {}))
            vout.width, vout.height = info.width, info.height
            # 4:2:0 chroma needs even sides; odd sizes keep full chroma instead of losing a pixel row
            vout.pix_fmt = "yuv420p" if info.width % 2 == 0 and info.height % 2 == 0 else "yuv444p"
            vout.codec_context.time_base = vin.time_base
            vout.time_base = vin.time_base
            if vin.codec_context.sample_aspect_ratio:  # anamorphic film (non-square pixels) keeps its shape
                vout.codec_context.sample_aspect_ratio = vin.codec_context.sample_aspect_ratio
            # every audio track, with its tags: (output stream, copied?) by input stream
            audio: dict[Any, tuple[Any, bool]] = {}
            descs = []
            for ain in audio_in:
                aout, copy_audio, desc = _audio_stream(dst, ain, audio_fallback, muxer)
                audio[ain] = (aout, copy_audio)
                descs.append(desc)
            audio_desc = "; ".join(descs) if descs else "none"
            step = max(1, round(1 / (info.fps * vin.time_base)))
            start_s = src.start_time / 1e6 if src.start_time else 0.0
            last_pts: int | None = None
            first_pts: int | None = None
            end_s = 0.0
            batch: list[np.ndarray] = []
            stamps: list[int] = []
            bar = tqdm(
                total=info.frames or (round(info.duration * info.fps) if info.duration else None),
                unit="frame",
                desc=src_path.name,
                disable=not progress,
                dynamic_ncols=True,
            )

            def write(packets: Any) -> None:
                """Mux into the output; a failure there is the output's, not the input's."""
                try:
                    dst.mux(packets)
                except av.error.FFmpegError as exc:
                    raise VideoError(
                        f"{out_path}: writing the output failed (FFmpeg: {_reason(exc)}); "
                        "check the folder is writable and has space, or choose another format"
                    ) from None

            def flush() -> None:
                for rgb, pts in zip(colorizer(np.stack(batch)), stamps):
                    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                    frame.pts, frame.time_base = pts, vin.time_base
                    write(vout.encode(frame))
                bar.update(len(batch))
                batch.clear()
                stamps.clear()

            streams = [vin] + audio_in
            try:
                with bar:
                    for packet in src.demux(streams):
                        if packet.pts is not None and packet.time_base is not None:
                            end_s = max(
                                end_s, float((packet.pts + (packet.duration or 0)) * packet.time_base) - start_s
                            )
                        if packet.stream in audio:
                            aout, copy_audio = audio[packet.stream]
                            if copy_audio and packet.dts is not None:
                                packet.stream = aout
                                write(packet)
                            elif not copy_audio:
                                for aframe in packet.decode():
                                    aframe.pts = None  # the encoder counts samples itself
                                    write(aout.encode(aframe))
                            continue
                        for frame in packet.decode():
                            if (frame.width, frame.height) != (info.width, info.height):
                                raise VideoError(
                                    f"{src_path}: the frame size changes from {info.width}x{info.height} to "
                                    f"{frame.width}x{frame.height} at frame {colorizer.frames + len(batch)}; split the file there"
                                )
                            pts = frame.pts if frame.pts is not None else (0 if last_pts is None else last_pts + step)
                            if last_pts is not None and pts <= last_pts:
                                pts = last_pts + 1  # encoders need strictly increasing timestamps
                            last_pts = pts
                            first_pts = pts if first_pts is None else first_pts
                            batch.append(frame.to_ndarray(format="rgb24"))
                            stamps.append(pts)
                            if len(batch) == batch_size:
                                flush()
                    if batch:
                        flush()
            except av.error.FFmpegError as exc:
                raise VideoError(
                    f"{src_path}: damaged or truncated: decoding failed after {colorizer.frames + len(batch)} frames "
                    f"(FFmpeg: {_reason(exc)})"
                ) from None
            if colorizer.frames == 0:
                raise VideoError(f"{src_path}: no video frames (the video stream is empty)")
            if info.duration is not None and info.duration - end_s > max(TRUNCATION_TOLERANCE_S, 2 / float(info.fps)):
                raise VideoError(
                    f"{src_path}: truncated: the data ends at {end_s:.2f} s of the {info.duration:.2f} s its header states"
                )
            # The frames that decoded, against the video stream's own stated length: a cut file can
            # hold packets (timestamps) of frames that no longer decode.
            stated = float(vin.duration * vin.time_base) if vin.duration and vin.time_base else info.duration
            first = vin.start_time if vin.start_time is not None else first_pts
            if stated and last_pts is not None and first is not None:
                decoded_s = float((last_pts - first) * vin.time_base) + 1 / float(info.fps)
                if stated - decoded_s > max(2 / float(info.fps), min(TRUNCATION_TOLERANCE_S, 0.1 * stated)):
                    raise VideoError(
                        f"{src_path}: truncated: its frames end at {decoded_s:.2f} s of the {stated:.2f} s it states "
                        f"({colorizer.frames} frames decoded); the file is cut short or damaged"
                    )
            write(vout.encode(None))
            for aout, copy_audio in audio.values():
                if not copy_audio:
                    write(aout.encode(None))
            dst.close()
            dst = None
        os.replace(tmp, out_path)
    except BaseException:
        if dst is not None:
            with contextlib.suppress(av.error.FFmpegError, OSError):
                dst.close()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    finally:
        stop.close()
        model.train(was_training)
    return VideoResult(
        input=src_path,
        output=out_path,
        frames=colorizer.frames,
        width=info.width,
        height=info.height,
        fps=float(info.fps),
        audio=audio_desc,
        smoothed=smooth,
        cuts=colorizer.cuts,
        flicker_source=colorizer.flicker("source"),
        flicker_raw=colorizer.flicker("raw"),
        flicker_output=colorizer.flicker("output"),
        psnr=colorizer.psnr(),
        seconds=time.perf_counter() - start,
    )


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
    from .data import sample_images

    out = Path(path)
    muxer, video_codec, audio_codec = _output_format(out, overwrite)
    if seconds <= 0 or fps < 1 or min(size) < 8 or not 0 < cut_at < 1:
        raise ValueError(
            f"demo clip needs seconds > 0, fps >= 1, sides >= 8 and 0 < cut_at < 1; got {seconds}, {fps}, {size}, {cut_at}"
        )
    first_photo, second_photo = sample_images(list(photos)[:2]).values()
    n = max(2, round(seconds * fps))
    n_cut = min(n - 1, max(1, round(n * cut_at)))
    rng = np.random.default_rng(seed)
    w, h = size
    tmp = _temp_path(out)
    dst = av.open(str(tmp), "w", format=muxer)
    try:
        v = dst.add_stream(video_codec, rate=fps, options=_ENCODER_OPTIONS.get(video_codec, {}))
        v.width, v.height = w, h
        v.pix_fmt = "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"
        a = None
        if audio:
            a = dst.add_stream(audio_codec, rate=_DEMO_AUDIO_RATE if audio_codec != "libopus" else _OPUS_RATES[0])
            a.layout = "mono"
        samples_done = 0
        chunk = max(1, (1 << 21) // (w * h))  # frames made at once: a few large tensor operations
        for first in range(0, n, chunk):
            idx = range(first, min(n, first + chunk))
            shots = [
                _ken_burns(
                    first_photo if i < n_cut else second_photo,
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
            rgb = lab_to_rgb(lab).permute(0, 2, 3, 1).mul_(255.0).round_().to(torch.uint8).numpy()
            for i, frame_rgb in zip(idx, rgb):
                dst.mux(v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_rgb), format="rgb24")))
                if a is not None:  # the tone up to the end of this frame, so audio and video interleave
                    rate = a.rate
                    upto = round((i + 1) / fps * rate)
                    t = np.arange(samples_done, upto) / rate
                    tone = np.where(t < n_cut / fps, _DEMO_TONES_HZ[0], _DEMO_TONES_HZ[1])
                    wave = (0.2 * np.sin(2 * np.pi * tone * t) * np.iinfo(np.int16).max).astype(np.int16)[None]
                    if wave.size:
                        frame = av.AudioFrame.from_ndarray(wave, format="s16", layout="mono")
                        frame.sample_rate = rate
                        frame.pts = None
                        dst.mux(a.encode(frame))
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


# --- A figure for the lesson ----------------------------------------------------------


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
