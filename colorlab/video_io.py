"""Video files through PyAV: read a film's header and frames, write a colorized copy of it.

Decoding and encoding use PyAV (``av``; its wheels bring their own FFmpeg). :func:`probe` and
:func:`read_frames` read; :func:`write_colorized` streams a film through a colorizing function
batch by batch. Its output keeps every frame's timestamp (so variable frame rates survive) and
the original audio: copied packet for packet when the output container can hold its codec, else
re-encoded. It is written to a temporary file beside the output and renamed when whole; on any
error or Ctrl-C the temporary file is removed. Every problem with an input is one line: a
:class:`VideoError`. The colour itself is :mod:`colorlab.video_frames`'s job.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

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
#: The comment colorlab writes into every film it makes (so that --overwrite can tell them from a user's).
FILM_MARK = "colorlab"


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


# --- Where and how an output is written -----------------------------------------------


def _temp_path(output: Path) -> Path:
    # Same folder (os.replace stays a rename), hidden, the real suffix so tools recognise it.
    return output.with_name(f".{output.stem}.{secrets.token_hex(4)}.partial{output.suffix}")


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


def _video_stream(dst: Any, vin: Any, info: VideoInfo, codec: str) -> Any:
    """The output video stream: ``vin``'s size, time base and pixel shape, encoded with ``codec``."""
    vout = dst.add_stream(codec, rate=info.fps, options=_ENCODER_OPTIONS.get(codec, {}))
    vout.width, vout.height = info.width, info.height
    # 4:2:0 chroma needs even sides; odd sizes keep full chroma instead of losing a pixel row
    vout.pix_fmt = "yuv420p" if info.width % 2 == 0 and info.height % 2 == 0 else "yuv444p"
    vout.codec_context.time_base = vin.time_base
    vout.time_base = vin.time_base
    if vin.codec_context.sample_aspect_ratio:  # anamorphic film (non-square pixels) keeps its shape
        vout.codec_context.sample_aspect_ratio = vin.codec_context.sample_aspect_ratio
    return vout


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


def _audio_streams(dst: Any, audio_in: list[Any], fallback: str, muxer: str) -> tuple[dict[Any, tuple[Any, bool]], str]:
    """Every audio track of the input, with its tags: ({input stream: (output stream, copied?)}, description)."""
    audio: dict[Any, tuple[Any, bool]] = {}
    descs = []
    for ain in audio_in:
        aout, copy_audio, desc = _audio_stream(dst, ain, fallback, muxer)
        audio[ain] = (aout, copy_audio)
        descs.append(desc)
    return audio, "; ".join(descs) if descs else "none"


# --- Colorizing a file, stream by stream ----------------------------------------------


def write_colorized(
    src_path: Path,
    out_path: Path,
    info: VideoInfo,
    output_format: tuple[str, str, str],
    recolor: Callable[[np.ndarray], np.ndarray],
    *,
    batch_size: int,
    progress: bool,
) -> str:
    """Decode ``src_path``, pass its frames through ``recolor`` ``batch_size`` at a time and encode
    them into ``out_path`` with the audio; returns how the audio was written ("none", "copied (aac)", ...).

    ``info`` is :func:`probe`'s, ``output_format`` :func:`_output_format`'s. The output is written
    to a temporary file beside ``out_path`` and renamed when whole; on any error it is removed.
    """
    av = _av()
    muxer, video_codec, audio_fallback = output_format
    tmp = _temp_path(out_path)
    dst = None
    try:
        with _open_input(src_path) as src:
            vin = src.streams.video[0]
            vin.thread_type = "AUTO"
            audio_in = list(src.streams.audio)
            dst = av.open(str(tmp), "w", format=muxer)
            dst.metadata["comment"] = f"{FILM_MARK}: colorized from {src_path.name}"
            vout = _video_stream(dst, vin, info, video_codec)
            audio, audio_desc = _audio_streams(dst, audio_in, audio_fallback, muxer)
            film = _Transcode(src, dst, vin, vout, audio, info, out_path, recolor, batch_size)
            film.run(progress)
            film.check_complete()
            film.finish()
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
    return audio_desc


class _Transcode:
    """One pass over an open input: video frames colorized in batches and encoded with their own
    timestamps, audio packets copied or re-encoded, everything muxed into the open output ``dst``."""

    def __init__(
        self,
        src: Any,
        dst: Any,
        vin: Any,
        vout: Any,
        audio: dict[Any, tuple[Any, bool]],
        info: VideoInfo,
        out_path: Path,
        recolor: Callable[[np.ndarray], np.ndarray],
        batch_size: int,
    ):
        self.src, self.dst, self.vin, self.vout, self.audio, self.info = src, dst, vin, vout, audio, info
        self.src_path, self.out_path = info.path, out_path
        self.recolor, self.batch_size = recolor, batch_size
        self.step = max(1, round(1 / (info.fps * vin.time_base)))  # pts from one frame to the next
        self.start_s = src.start_time / 1e6 if src.start_time else 0.0
        self.first_pts: int | None = None
        self.last_pts: int | None = None
        self.end_s = 0.0  # where the data read so far ends, in seconds from the start
        self.batch: list[np.ndarray] = []
        self.stamps: list[int] = []
        self.done = 0  # frames colorized and encoded

    def write(self, packets: Any) -> None:
        """Mux into the output; a failure there is the output's, not the input's."""
        try:
            self.dst.mux(packets)
        except _av().error.FFmpegError as exc:
            raise VideoError(
                f"{self.out_path}: writing the output failed (FFmpeg: {_reason(exc)}); "
                "check the folder is writable and has space, or choose another format"
            ) from None

    def run(self, progress: bool) -> None:
        """Every packet of the input, in order; a decoding failure is a :class:`VideoError`."""
        from tqdm.auto import tqdm

        info = self.info
        bar = tqdm(
            total=info.frames or (round(info.duration * info.fps) if info.duration else None),
            unit="frame",
            desc=self.src_path.name,
            disable=not progress,
            dynamic_ncols=True,
        )
        try:
            with bar:
                for packet in self.src.demux([self.vin, *self.audio]):
                    self._note_end(packet)
                    if packet.stream in self.audio:
                        self._audio_packet(packet)
                    else:
                        self._video_packet(packet, bar)
                if self.batch:
                    self._flush(bar)
        except _av().error.FFmpegError as exc:
            raise VideoError(
                f"{self.src_path}: damaged or truncated: decoding failed after {self.done + len(self.batch)} frames "
                f"(FFmpeg: {_reason(exc)})"
            ) from None

    def _note_end(self, packet: Any) -> None:
        if packet.pts is not None and packet.time_base is not None:
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base) - self.start_s
            self.end_s = max(self.end_s, end)

    def _audio_packet(self, packet: Any) -> None:
        aout, copy_audio = self.audio[packet.stream]
        if copy_audio and packet.dts is not None:
            packet.stream = aout
            self.write(packet)
        elif not copy_audio:
            for aframe in packet.decode():
                aframe.pts = None  # the encoder counts samples itself
                self.write(aout.encode(aframe))

    def _video_packet(self, packet: Any, bar: Any) -> None:
        info = self.info
        for frame in packet.decode():
            if (frame.width, frame.height) != (info.width, info.height):
                raise VideoError(
                    f"{self.src_path}: the frame size changes from {info.width}x{info.height} to "
                    f"{frame.width}x{frame.height} at frame {self.done + len(self.batch)}; split the file there"
                )
            last = self.last_pts
            pts = frame.pts if frame.pts is not None else (0 if last is None else last + self.step)
            if last is not None and pts <= last:
                pts = last + 1  # encoders need strictly increasing timestamps
            self.last_pts = pts
            self.first_pts = pts if self.first_pts is None else self.first_pts
            self.batch.append(frame.to_ndarray(format="rgb24"))
            self.stamps.append(pts)
            if len(self.batch) == self.batch_size:
                self._flush(bar)

    def _flush(self, bar: Any) -> None:
        """Colorize and encode the frames waiting in the batch."""
        av = _av()
        colored = self.recolor(np.stack(self.batch))
        self.done += len(self.batch)
        for rgb, pts in zip(colored, self.stamps):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = pts, self.vin.time_base
            self.write(self.vout.encode(frame))
        bar.update(len(self.batch))
        self.batch.clear()
        self.stamps.clear()

    def check_complete(self) -> None:
        """Refuse a film with no frames, or one whose data or frames end before the length it states."""
        info, vin, fps = self.info, self.vin, float(self.info.fps)
        if self.done == 0:
            raise VideoError(f"{self.src_path}: no video frames (the video stream is empty)")
        if info.duration is not None and info.duration - self.end_s > max(TRUNCATION_TOLERANCE_S, 2 / fps):
            raise VideoError(
                f"{self.src_path}: truncated: the data ends at {self.end_s:.2f} s "
                f"of the {info.duration:.2f} s its header states"
            )
        # The frames that decoded, against the video stream's own stated length: a cut file can
        # hold packets (timestamps) of frames that no longer decode.
        stated = float(vin.duration * vin.time_base) if vin.duration and vin.time_base else info.duration
        first = vin.start_time if vin.start_time is not None else self.first_pts
        if stated and self.last_pts is not None and first is not None:
            decoded_s = float((self.last_pts - first) * vin.time_base) + 1 / fps
            if stated - decoded_s > max(2 / fps, min(TRUNCATION_TOLERANCE_S, 0.1 * stated)):
                raise VideoError(
                    f"{self.src_path}: truncated: its frames end at {decoded_s:.2f} s of the {stated:.2f} s it states "
                    f"({self.done} frames decoded); the file is cut short or damaged"
                )

    def finish(self) -> None:
        """Drain the encoders into the output."""
        self.write(self.vout.encode(None))
        for aout, copy_audio in self.audio.values():
            if not copy_audio:
                self.write(aout.encode(None))
