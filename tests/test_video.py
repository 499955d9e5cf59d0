"""colorlab.video: film colorized frame by frame without flicker, bad input refused cleanly.

The pure functions (cut detection, smoothing, flicker) are checked on synthetic
tensors; the file path on tiny clips the tests write themselves with PyAV.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from colorlab import video
from colorlab.color import rgb_uint8_to_l
from colorlab.infer import network_input_size

SMALL = 32  # the network's short side in these tests: fast with the tiny model


# --- helpers -------------------------------------------------------------------------


def write_clip(
    path: Path,
    n: int = 12,
    size: tuple[int, int] = (64, 48),
    fps: int = 12,
    pts_ms: list[int] | None = None,
    audio: str | None = None,
    faststart: bool = False,
) -> Path:
    """A tiny H.264 clip of a moving colour gradient; ``pts_ms`` gives each frame's time (variable rate)."""
    w, h = size
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else None) as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        if pts_ms is not None:
            v.codec_context.time_base = v.time_base = Fraction(1, 1000)
        a = None
        if audio:
            a = c.add_stream(audio, rate=16000)
            a.layout = "mono"
        y, x = np.mgrid[0:h, 0:w]
        for i in range(n):
            rgb = np.stack([(x * 4 + i * 3) % 256, y * 5 % 256, 255 - (x * 2 % 256)], -1).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
            c.mux(v.encode(frame))
        c.mux(v.encode(None))
        if a is not None:
            samples = (np.sin(np.arange(16000 * n // fps) * 0.1) * 8000).astype(np.int16)[None]
            for k in range(0, samples.shape[1], 1024):
                af = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(samples[:, k : k + 1024]), format="s16", layout="mono"
                )
                af.sample_rate = 16000
                c.mux(a.encode(af))
            c.mux(a.encode(None))
    return path


def decoded(path: Path) -> tuple[np.ndarray, list[float]]:
    with av.open(str(path)) as c:
        frames = [(f.to_ndarray(format="rgb24"), float(f.time)) for f in c.decode(video=0)]
    return np.stack([f for f, _ in frames]), [t for _, t in frames]


def only_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def jittery_shots(n1: int = 10, n2: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A reddish shot, then a bluish one, each predicted with frame-to-frame jitter; and the cuts."""
    g = torch.Generator().manual_seed(seed)
    red = torch.tensor([40.0, 20.0]).view(1, 2, 1, 1).expand(n1, 2, 6, 8)
    blue = torch.tensor([5.0, -40.0]).view(1, 2, 1, 1).expand(n2, 2, 6, 8)
    ab = torch.cat([red, blue]) + 4.0 * torch.randn(n1 + n2, 2, 6, 8, generator=g)
    cuts = torch.zeros(n1 + n2, dtype=torch.bool)
    cuts[n1] = True
    return ab, cuts


# --- pure functions ------------------------------------------------------------------


def test_smoothing_reduces_flicker_on_a_jittery_sequence():
    ab, cuts = jittery_shots()
    raw, smoothed = video.flicker(ab, cuts), video.flicker(video.smooth_ab(ab, cuts, 0.3), cuts)
    assert smoothed < 0.5 * raw


def test_smoothing_does_not_blend_colours_across_a_cut():
    ab, cuts = jittery_shots()
    out = video.smooth_ab(ab, cuts, 0.3)
    assert torch.equal(out[10], ab[10])  # the frame after the cut is its own raw prediction
    # and the frames after it mix only the new shot: b stays far from the red shot's +20
    assert out[10:, 1].max() < -20


def test_smoothing_follows_the_moving_average_equation():
    ab, cuts = jittery_shots(3, 2)
    out = video.smooth_ab(ab, cuts, 0.25)
    assert torch.equal(out[0], ab[0])
    assert torch.allclose(out[1], 0.25 * ab[1] + 0.75 * ab[0])
    assert torch.allclose(out[2], 0.25 * ab[2] + 0.75 * out[1])
    assert torch.equal(out[3], ab[3])
    assert torch.allclose(out[4], 0.25 * ab[4] + 0.75 * ab[3])


def test_alpha_one_is_no_smoothing():
    ab, cuts = jittery_shots()
    assert torch.equal(video.smooth_ab(ab, cuts, 1.0), ab)


def test_smoothing_in_batches_equals_smoothing_the_whole_sequence():
    ab, cuts = jittery_shots()
    whole = video.smooth_ab(ab, cuts, 0.3)
    first = video.smooth_ab(ab[:7], cuts[:7], 0.3)
    second = video.smooth_ab(ab[7:], cuts[7:], 0.3, initial=first[-1:])
    assert torch.allclose(torch.cat([first, second]), whole)


@pytest.mark.parametrize("alpha", [0.0, -0.1, 1.5])
def test_smoothing_refuses_alpha_outside_zero_to_one(alpha):
    ab, cuts = jittery_shots()
    with pytest.raises(ValueError, match="alpha"):
        video.smooth_ab(ab, cuts, alpha)


def panning_lightness(n: int = 12, cut_at: int = 7) -> torch.Tensor:
    """L of a slow pan (1 px per frame) over one texture, then a hard cut to another."""
    g = torch.Generator().manual_seed(1)
    texture = torch.nn.functional.avg_pool2d(torch.rand(1, 1, 60, 100, generator=g) * 30, 5, 1, 2)
    scene1 = texture + torch.linspace(20, 70, 100).view(1, 1, 1, 100)  # dark left, bright right
    scene2 = texture.flip(-1) + torch.linspace(75, 15, 60).view(1, 1, 60, 1)  # bright sky over dark ground
    frames = [scene1[..., :, t : t + 80] if t < cut_at else scene2[..., :, t : t + 80] for t in range(n)]
    return torch.cat(frames) + torch.randn(n, 1, 60, 80, generator=g)  # and grain


def test_cut_detection_finds_a_hard_cut_but_not_a_slow_pan_with_grain():
    cuts = video.detect_cuts(panning_lightness(), video.DEFAULT_CUT_THRESHOLD)
    assert torch.nonzero(cuts).flatten().tolist() == [7]


def test_cut_detection_continues_across_batches_with_the_previous_frame():
    L = panning_lightness()
    whole = video.cut_scores(L)
    later = video.cut_scores(L[7:], previous=L[6:7])
    assert torch.allclose(later, whole[7:])
    assert video.detect_cuts(L[7:], previous=L[6:7])[0]
    assert not video.detect_cuts(L[7:])[0]  # without the frame before, the first frame is no cut


def test_flicker_is_the_mean_colour_change_between_frames():
    ab = torch.zeros(3, 2, 4, 4)
    ab[1, 0], ab[1, 1] = 3.0, 4.0  # (0,0) -> (3,4) -> (0,0): a change of 5 Lab units, twice
    assert video.flicker_per_frame(ab).tolist() == [5.0, 5.0]
    assert video.flicker(ab) == 5.0


def test_flicker_leaves_out_the_pair_across_a_cut():
    ab = torch.cat([torch.full((4, 2, 3, 3), 30.0), torch.full((4, 2, 3, 3), -30.0)])
    cuts = torch.zeros(8, dtype=torch.bool)
    cuts[4] = True
    assert video.flicker(ab) > 10
    assert video.flicker(ab, cuts) == 0.0


def test_network_frames_follow_the_network_input_size_rule():
    frames = np.zeros((2, 90, 160, 3), np.uint8)
    small = video.network_frames(frames, 64)
    assert tuple(small.shape) == (2, *network_input_size(90, 160, 64), 3) and small.dtype == torch.uint8


def test_join_keeps_each_frames_own_lightness_at_full_size():
    rng = np.random.default_rng(0)
    frames = rng.integers(40, 200, (2, 37, 51, 3), dtype=np.uint8)
    ab = torch.full((2, 2, 8, 8), 6.0)
    out = video.join_ab(frames, ab)
    assert out.shape == frames.shape and out.dtype == np.uint8
    L_in = rgb_uint8_to_l(torch.from_numpy(frames).permute(0, 3, 1, 2))
    L_out = rgb_uint8_to_l(torch.from_numpy(out).permute(0, 3, 1, 2))
    assert (L_in - L_out).abs().max() < 1.0  # uint8 rounding only


# --- files ---------------------------------------------------------------------------


@pytest.fixture()
def clip(tmp_path) -> Path:
    return write_clip(tmp_path / "clip.mp4", audio="aac")


def test_colorize_video_keeps_size_frame_count_timing_audio_and_lightness(clip, tmp_path, tiny_net):
    out = tmp_path / "color.mp4"
    result = video.colorize_video(clip, out, tiny_net, batch_size=5, size=SMALL, progress=False)
    src, src_t = decoded(clip)
    dst, dst_t = decoded(out)
    assert dst.shape == src.shape and result.frames == 12 and result.fps == 12
    assert dst_t == pytest.approx(src_t, abs=1e-3)
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.name == "aac"
    assert result.audio == "copied (aac)"
    L = lambda x: rgb_uint8_to_l(torch.from_numpy(x).permute(0, 3, 1, 2))  # noqa: E731
    assert float((L(src) - L(dst)).abs().mean()) < 2.0  # the film's lightness, up to H.264 losses
    assert only_files(tmp_path) == ["clip.mp4", "color.mp4"]


def test_colorize_video_reports_flicker_cuts_and_psnr(tmp_path, tiny_net):
    clip = video.demo_clip(tmp_path / "demo.mp4", seconds=1.0, fps=12, size=(64, 48))
    smooth = video.colorize_video(clip, tmp_path / "s.mp4", tiny_net, size=SMALL, progress=False)
    raw = video.colorize_video(clip, tmp_path / "r.mp4", tiny_net, size=SMALL, progress=False, smooth=False)
    assert smooth.cuts == raw.cuts == [6]
    assert smooth.flicker_raw == pytest.approx(raw.flicker_raw)
    assert raw.flicker_output == pytest.approx(raw.flicker_raw)
    assert smooth.flicker_output < smooth.flicker_raw
    assert smooth.flicker_source > 0 and np.isfinite(smooth.psnr) and smooth.psnr > 10
    assert "flicker" in str(smooth) and "PSNR" in str(smooth)


def test_batch_size_does_not_change_the_result(tmp_path, tiny_net):
    clip = video.demo_clip(tmp_path / "demo.mp4", seconds=1.0, fps=12, size=(64, 48), audio=False)
    a = video.colorize_video(clip, tmp_path / "a.mp4", tiny_net, size=SMALL, progress=False, batch_size=1)
    b = video.colorize_video(clip, tmp_path / "b.mp4", tiny_net, size=SMALL, progress=False, batch_size=5)
    assert a.cuts == b.cuts
    for key in ("flicker_source", "flicker_raw", "flicker_output", "psnr"):
        assert getattr(a, key) == pytest.approx(getattr(b, key), abs=1e-3), key


def test_variable_frame_rate_keeps_every_frames_timestamp(tmp_path, tiny_net):
    pts = [0, 40, 80, 200, 240, 400, 420, 440, 600, 700, 800, 900]
    clip = write_clip(tmp_path / "vfr.mkv", pts_ms=pts)
    out = tmp_path / "vfr_color.mp4"
    video.colorize_video(clip, out, tiny_net, size=SMALL, progress=False)
    assert decoded(out)[1] == pytest.approx([p / 1000 for p in pts], abs=1e-3)


def test_audio_the_container_cannot_hold_is_reencoded(tmp_path, tiny_net):
    clip = write_clip(tmp_path / "clip.mp4", audio="aac")
    out = tmp_path / "color.webm"  # WebM holds only Opus and Vorbis
    result = video.colorize_video(clip, out, tiny_net, size=SMALL, progress=False)
    assert result.audio.startswith("re-encoded to opus")
    with av.open(str(out)) as c:
        assert c.streams.audio[0].codec_context.name == "opus"
        assert c.duration / 1e6 == pytest.approx(1.0, abs=0.15)


def test_odd_frame_sizes_are_kept(tmp_path, tiny_net):
    clip = write_clip(tmp_path / "odd.mkv", size=(64, 48))
    with av.open(str(clip)) as c:  # re-encode at 63x47 (H.264 4:4:4 allows odd sizes)
        frames = [f.to_ndarray(format="rgb24")[:47, :63] for f in c.decode(video=0)]
    odd = tmp_path / "odd47.mkv"
    with av.open(str(odd), "w") as c:
        v = c.add_stream("libx264", rate=12)
        v.width, v.height, v.pix_fmt = 63, 47, "yuv444p"
        for f in frames:
            c.mux(v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
        c.mux(v.encode(None))
    out = tmp_path / "odd_color.mp4"
    video.colorize_video(odd, out, tiny_net, size=SMALL, progress=False)
    assert decoded(out)[0].shape == (12, 47, 63, 3)


def test_anamorphic_pixels_keep_their_aspect_ratio(tmp_path, tiny_net):
    clip = tmp_path / "anamorphic.mkv"
    with av.open(str(clip), "w") as c:
        v = c.add_stream("libx264", rate=12)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.codec_context.sample_aspect_ratio = Fraction(4, 3)
        for _ in range(3):
            c.mux(v.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 90, np.uint8), format="rgb24")))
        c.mux(v.encode(None))
    out = tmp_path / "out.mp4"
    video.colorize_video(clip, out, tiny_net, size=SMALL, progress=False)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.sample_aspect_ratio == Fraction(4, 3)


def test_a_frame_is_colorized_as_colorize_colorizes_the_photo(tmp_path, tiny_net, photos):
    from colorlab.infer import colorize

    still = photos["chelsea"][:96, :128]
    frame = video.join_ab(still[None], video.predict_frames(tiny_net, still[None], size=SMALL).ab)[0]
    photo = colorize(still, tiny_net, size=SMALL)
    gray = video.join_ab(still[None], torch.zeros(1, 2, 8, 8))[0]
    assert np.abs(frame.astype(int) - gray.astype(int)).mean() > 3.0  # the model does colour it
    # the same network size, network and join; only the downscaling filter differs (torch vs PIL)
    assert np.abs(frame.astype(int) - photo.astype(int)).mean() < 1.0


def test_demo_clip_has_a_cut_audio_and_the_requested_shape(tmp_path):
    path = video.demo_clip(tmp_path / "demo.mp4", seconds=2.0, fps=12, size=(80, 60), cut_at=0.25)
    info = video.probe(path)
    assert (info.width, info.height, info.frames, info.audio) == (80, 60, 24, "aac")
    frames, fps = video.read_frames(path)
    L = rgb_uint8_to_l(torch.from_numpy(frames).permute(0, 3, 1, 2))
    assert torch.nonzero(video.detect_cuts(L)).flatten().tolist() == [6] and fps == 12
    with pytest.raises(FileExistsError):
        video.demo_clip(path)
    # lesson 8 run twice in one folder: its own earlier clip is colorlab's, so --overwrite replaces it
    assert video.is_colorlab_video(path)
    assert video.demo_clip(path, seconds=1.0, fps=12, size=(80, 60), overwrite=True) == path
    assert video.probe(path).frames == 12


# --- bad input -----------------------------------------------------------------------


def _truncated_mkv(tmp_path: Path) -> Path:
    clip = write_clip(tmp_path / "whole.mkv", n=24, audio="pcm_s16le")
    data = clip.read_bytes()
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(data[: len(data) // 2])
    clip.unlink()
    return bad


def _truncated_mp4(tmp_path: Path) -> Path:
    clip = write_clip(tmp_path / "whole.mp4", n=24)  # the index (moov) is written last: it is lost
    bad = tmp_path / "bad.mp4"
    data = clip.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    clip.unlink()
    return bad


def _truncated_mp4_after_index(tmp_path: Path) -> Path:
    clip = write_clip(tmp_path / "whole.mp4", n=24, faststart=True)  # the index first, then the frames
    data = clip.read_bytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(data[: len(data) * 2 // 3])
    clip.unlink()
    return bad


def _zero_frames(tmp_path: Path) -> Path:
    bad = tmp_path / "bad.mp4"
    with av.open(str(bad), "w") as c:
        v = c.add_stream("libx264", rate=12)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        c.start_encoding()
    return bad


def _huge(tmp_path: Path) -> Path:
    bad = tmp_path / "bad.avi"  # a header stating 16K frames (15360x8640), no frames written
    with av.open(str(bad), "w") as c:
        v = c.add_stream("rawvideo", rate=12)
        v.width, v.height, v.pix_fmt = 15360, 8640, "rgb24"
        c.start_encoding()
    return bad


def _text(tmp_path: Path) -> Path:
    bad = tmp_path / "bad.mp4"
    bad.write_text("these are the minutes of the meeting, not a film\n" * 20)
    return bad


def _png(tmp_path: Path) -> Path:
    from PIL import Image

    bad = tmp_path / "bad.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(bad)
    return bad


BAD = {
    "text file": (_text, "not a video"),
    "still image": (_png, "still image"),
    "truncated before the index": (_truncated_mp4, "truncated"),
    "truncated after the index": (_truncated_mp4_after_index, "truncated"),
    "truncated in the middle": (_truncated_mkv, "truncated"),
    "zero frames": (_zero_frames, "no video frames (the file holds no video stream, no streams at all)"),
    "huge resolution": (_huge, "exceed the limit of 33.2 MP"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_gives_a_one_line_error_and_leaves_nothing_behind(case, tmp_path, tiny_net):
    make, reason = BAD[case]
    bad = make(tmp_path)
    before = only_files(tmp_path)
    out = tmp_path / "out.mp4"
    with pytest.raises(video.VideoError) as exc:
        video.colorize_video(bad, out, tiny_net, size=SMALL, progress=False)
    message = str(exc.value)
    assert "\n" not in message and message.startswith(str(bad)) and reason in message
    assert only_files(tmp_path) == before  # no output, no partial file


def test_frames_above_the_pixel_limit_are_refused_before_decoding(clip, tmp_path, tiny_net, monkeypatch):
    monkeypatch.setattr(video, "_Colorizer", None)  # would fail if any frame were processed
    with pytest.raises(video.VideoError, match=r"64x48 frames .* exceed the limit of 0.0 MP \(1000 pixels"):
        video.colorize_video(clip, tmp_path / "out.mp4", tiny_net, max_pixels=1000, progress=False)


def test_an_existing_output_is_kept_unless_overwrite_and_a_users_file_always(clip, tmp_path, tiny_net):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="overwrite"):
        video.colorize_video(clip, out, tiny_net, size=SMALL, progress=False)
    # issue 27: --overwrite replaces only colorlab's own earlier films, never a file of the user's
    with pytest.raises(ValueError, match="not a film colorlab made"):
        video.colorize_video(clip, out, tiny_net, size=SMALL, progress=False, overwrite=True)
    assert out.read_bytes() == b"precious"
    ours = tmp_path / "ours.mp4"
    video.colorize_video(clip, ours, tiny_net, size=SMALL, progress=False)
    assert video.is_colorlab_video(ours) and not video.is_colorlab_video(clip)
    video.colorize_video(clip, ours, tiny_net, size=SMALL, progress=False, overwrite=True)
    assert video.probe(ours).frames == 12


def test_the_input_is_never_the_output(clip, tiny_net):
    with pytest.raises(ValueError, match="input itself"):
        video.colorize_video(clip, clip, tiny_net, progress=False, overwrite=True)


def test_an_interrupt_leaves_no_partial_file(clip, tmp_path, tiny_net, monkeypatch):
    calls = []
    forward = tiny_net.forward

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return forward(*args, **kwargs)

    monkeypatch.setattr(tiny_net, "forward", interrupted)
    with pytest.raises(KeyboardInterrupt):
        video.colorize_video(clip, tmp_path / "out.mp4", tiny_net, size=SMALL, batch_size=4, progress=False)
    assert only_files(tmp_path) == ["clip.mp4"]


# --- the command ---------------------------------------------------------------------


def test_colorize_video_command_writes_the_film_and_prints_the_figures(clip, tmp_path, tiny_checkpoint, capsys):
    from colorlab.cli import main

    out = tmp_path / "film.mkv"
    args = [
        "colorize-video",
        str(clip),
        "-o",
        str(out),
        "--checkpoint",
        str(tiny_checkpoint),
        "--size",
        str(SMALL),
        "--no-progress",
        "--device",
        "cpu",
    ]
    assert main(args) == 0
    assert len(decoded(out)[0]) == 12
    assert "flicker" in capsys.readouterr().out
    assert main(args) == 2  # exists
    assert "--overwrite" in capsys.readouterr().err


def test_colorize_video_command_exit_codes(clip, tmp_path, tiny_checkpoint, capsys, monkeypatch):
    from colorlab.cli import main

    common = ["--checkpoint", str(tiny_checkpoint), "--no-progress", "--device", "cpu"]
    bad = _text(tmp_path)
    assert main(["colorize-video", str(bad), "-o", str(tmp_path / "o.mp4"), *common]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0]
    assert main(["colorize-video", str(clip), "-o", str(tmp_path / "o.mp4"), "--alpha", "0", *common]) == 2
    assert main(["colorize-video", str(clip), "-o", str(tmp_path / "o.gif"), *common]) == 2
    monkeypatch.setattr(video, "colorize_video", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    assert main(["colorize-video", str(clip), "-o", str(tmp_path / "o.mp4"), *common]) == 130
    assert only_files(tmp_path) == ["bad.mp4", "clip.mp4", "tiny.pt"]


def test_colorize_video_command_defaults_are_the_librarys():
    from colorlab.cli import build_parser

    args = build_parser().parse_args(["colorize-video", "in.mp4"])
    assert args.alpha == video.DEFAULT_ALPHA and args.cut_threshold == video.DEFAULT_CUT_THRESHOLD
    assert args.batch_size == video.DEFAULT_BATCH_SIZE and args.smooth


def test_the_pixel_limit_names_a_way_out_that_exists_and_the_cli_flag_works(clip, tmp_path, tiny_checkpoint, capsys):
    # issue 27, case 14: "raise max_pixels" named no CLI flag
    from colorlab.cli import main

    out = tmp_path / "o.mp4"
    assert (
        main(
            [
                "colorize-video",
                str(clip),
                "-o",
                str(out),
                "--checkpoint",
                str(tiny_checkpoint),
                "--max-pixels",
                "1000",
                "--no-progress",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "--max-pixels N" in err and not out.exists()
    assert (
        main(
            [
                "colorize-video",
                str(clip),
                "-o",
                str(out),
                "--checkpoint",
                str(tiny_checkpoint),
                "--max-pixels",
                "4000",
                "--size",
                "32",
                "--no-progress",
            ]
        )
        == 0
    )
    assert out.is_file()


def test_sigterm_during_an_overwrite_keeps_the_old_output_and_leaves_no_partial_file(
    tmp_path, tiny_checkpoint, tiny_net
):
    # issue 27, case 11: `kill -TERM` left `.keep.<hex>.partial.mp4` behind for good
    import signal
    import subprocess
    import sys
    import time

    clip = write_clip(tmp_path / "long.mp4", n=600, size=(256, 192), fps=24)
    out = tmp_path / "keep.mp4"
    video.colorize_video(write_clip(tmp_path / "short.mp4", n=6), out, tiny_net, size=SMALL, progress=False)
    (tmp_path / "short.mp4").unlink()
    earlier = out.read_bytes()  # an earlier film of colorlab's: --overwrite may replace it, if it finishes
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "colorlab",
            "colorize-video",
            str(clip),
            "-o",
            str(out),
            "--overwrite",
            "--checkpoint",
            str(tiny_checkpoint),
            "--size",
            "192",
            "--batch-size",
            "2",
            "--no-progress",
            "--threads",
            "1",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".keep.*.partial.mp4")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be interrupted: make the clip longer"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err
    assert out.read_bytes() == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp4", "long.mp4", "tiny.pt"]  # no partial file


def _clip_with_audio_tracks(path: Path, codec: str, languages: list[str], n: int = 12, fps: int = 12) -> Path:
    rate = 48000 if codec == "libopus" else 16000
    with av.open(str(path), "w") as c:
        v = c.add_stream("libvpx-vp9" if path.suffix == ".webm" else "libx264", rate=fps)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        tracks = []
        for lang in languages:
            a = c.add_stream(codec, rate=rate)
            a.layout = "mono"
            a.metadata["language"] = lang
            tracks.append(a)
        y, x = np.mgrid[0:48, 0:64]
        for i in range(n):
            rgb = np.stack([(x * 4 + i * 3) % 256, y * 5 % 256, 255 - (x * 2 % 256)], -1).astype(np.uint8)
            c.mux(v.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        c.mux(v.encode(None))
        for k, a in enumerate(tracks):
            samples = (np.sin(np.arange(rate * n // fps) * 0.05 * (k + 1)) * 8000).astype(np.int16)[None]
            frame_size = a.codec_context.frame_size or 1024
            for s in range(0, samples.shape[1] - frame_size + 1, frame_size):
                af = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(samples[:, s : s + frame_size]), format="s16", layout="mono"
                )
                af.sample_rate = rate
                c.mux(a.encode(af))
            c.mux(a.encode(None))
    return path


def test_opus_audio_into_a_mov_is_re_encoded_not_blamed_on_the_input(tmp_path, tiny_net):
    # issue 27, case 6: "clip.webm: damaged or truncated ... (FFmpeg: Invalid argument)"
    clip = _clip_with_audio_tracks(tmp_path / "clip.webm", "libopus", ["eng"])
    result = video.colorize_video(clip, tmp_path / "out.mov", tiny_net, size=SMALL, progress=False)
    assert "re-encoded to aac" in result.audio
    with av.open(str(tmp_path / "out.mov")) as c:
        assert [s.codec_context.name for s in c.streams.audio] == ["aac"]


def test_every_audio_track_is_kept_with_its_language(tmp_path, tiny_net):
    # issue 27, case 8: one of two tracks kept, language tag lost, summary "audio copied"
    clip = _clip_with_audio_tracks(tmp_path / "two.mkv", "aac", ["eng", "fra"])
    result = video.colorize_video(clip, tmp_path / "out.mkv", tiny_net, size=SMALL, progress=False)
    assert "[eng]" in result.audio and "[fra]" in result.audio
    with av.open(str(tmp_path / "out.mkv")) as c:
        assert [s.metadata.get("language") for s in c.streams.audio] == ["eng", "fra"]


def test_a_cut_file_whose_packets_outlive_its_frames_is_called_truncated(tmp_path, tiny_net):
    # issue 27, case 7: an mkv cut short gave rc 0, no warning, 13 of 24 frames
    clip = write_clip(tmp_path / "c.mkv", n=24, fps=24)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.8)])
    with pytest.raises(video.VideoError, match="truncated"):
        video.colorize_video(cut, tmp_path / "out.mkv", tiny_net, size=SMALL, progress=False)
    assert not (tmp_path / "out.mkv").exists()
