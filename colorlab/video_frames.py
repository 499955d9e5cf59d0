"""Colour for a film's frames, in tensors: predict, find cuts, smooth in time, measure flicker.

No files here (:mod:`colorlab.video_io` reads and writes them). A frame is colorized like a
photo: the network predicts ab on a small copy, the ab is upsampled and joined with the
frame's own full-resolution L. Between frames, an exponential moving average of the small ab
that restarts at every scene cut keeps the colour from jumping ("flicker")::

    s_t = ab_t                                  if frame t starts a shot
    s_t = alpha * ab_t + (1 - alpha) * s_{t-1}  otherwise

Cuts are found in the lightness alone (all a black-and-white film has): the mean absolute
change of a coarse copy of L between consecutive frames. :class:`_Colorizer` does all of this
batch after batch for :func:`colorlab.video.colorize_video`, carrying the state across batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .color import rgb_to_lab, rgb_uint8_to_l
from .infer import DEFAULT_SIZE, join_lightness, network_input_size, predict_ab
from .metrics import psnr
from .model import ColorizationNet

#: Weight of the newest frame's prediction in the moving average (1 = no smoothing).
DEFAULT_ALPHA = 0.3
#: A cut: the coarse lightness changes by more than this many L units (of 100) on average.
DEFAULT_CUT_THRESHOLD = 8.0
#: Frames predicted together.
DEFAULT_BATCH_SIZE = 8
#: Cut detection compares lightness pooled to this many cells per side (motion averages out).
CUT_GRID = 16


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


# --- One film, batch after batch ------------------------------------------------------


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
