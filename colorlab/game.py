""" "Real or colorized?": the paper's user study as a game, without the widgets.

The paper claims its colours "can easily fool the viewer" and judges that with
a user study: people see photos, some real and some colorized from gray, and
say which is which. This module holds everything such a study needs apart from
the buttons (those are :class:`colorlab.game_app.RealOrColorizedApp`):

* the **plan** of a game from a seed (:func:`plan_rounds`): which picture comes
  when, shown real or colorized, and by which model;
* the **pictures** (:func:`picture`): square crops of the photos, the colorized
  ones made by :func:`colorlab.infer.colorize` from the crop's own lightness;
* the **results file** (:func:`append_answer`, :func:`read_results`): JSON Lines,
  one answer per line, appended safely by many kernels at once (it lives in
  :mod:`colorlab.game_store`);
* the **statistics** (:func:`wilson_interval`, :func:`summarize`,
  :func:`pool_results`): score, the *fooled rate* (the fraction of colorized
  pictures answered "real") with a Wilson 95% interval, per model and per picture
  (the intervals live in :mod:`colorlab.game_stats`);
* the **figure** (:func:`results_figure`); an automatic judge playing the same
  games (:func:`play`) and a simulated class (:func:`simulate_class`), to try
  it all without anyone clicking.

The photos: 24 that no demo model trained on (:func:`default_photos`; 22
held-out clothing photos and ``china`` and ``flower``), so a game of
:data:`TARGET_ROUNDS` rounds shows 12 of them whole, 6 real and 6 colorized,
drawn afresh for each game. With fewer photos a game shows several square
crops of each (the centre and the four corners, :data:`CROPS`). A fair
single-picture game shows every crop of one photo the same way (all real or
all colorized), so that nobody sees the same scene both real and colorized.

A seed fixes a game; without one every plan, game and "Play again" draws a new
seed (:func:`new_seed`), so no order can be learnt by heart. The seed goes into
every answer of the results file, so any game can be replayed exactly.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

# The results file and the statistics live in their own modules; every name stays importable from here.
from .game_stats import CONFIDENCE as CONFIDENCE
from .game_stats import Tally, answers_needed, widest_half_width, wilson_interval, z_value
from .game_store import (
    ANSWERS,
    COLORIZED,
    REAL,
    ResultsFileError,
    answer_record,
    append_answer,
    read_results,
    write_results,
)
from .game_store import LOCK_TIMEOUT_S as LOCK_TIMEOUT_S
from .game_store import RECORD_FIELDS as RECORD_FIELDS

__all__ = [
    "REAL",
    "COLORIZED",
    "ANSWERS",
    "SINGLE",
    "PAIRS",
    "CROPS",
    "WHOLE",
    "DISPLAY_SIZE",
    "TARGET_ROUNDS",
    "Round",
    "Tally",
    "GameSummary",
    "ResultsFileError",
    "default_photos",
    "default_photo_items",
    "resolve_photos",
    "new_seed",
    "load_photo",
    "plan_rounds",
    "crop_picture",
    "picture",
    "z_value",
    "wilson_interval",
    "widest_half_width",
    "answers_needed",
    "answer_record",
    "append_answer",
    "write_results",
    "read_results",
    "summarize",
    "pool_results",
    "format_summary",
    "results_figure",
    "play",
    "simulate_class",
]

#: Game modes: one picture at a time ("real or colorized?") or a real/colorized pair of the
#: same crop side by side ("which one is real?", the protocol of Zhang, Isola & Efros 2016).
SINGLE = "single"
PAIRS = "pairs"
#: The crops a game takes from each photo, in the order they are used.
CROPS = ("centre", "top-left", "top-right", "bottom-left", "bottom-right")
#: The one crop of a game that uses a single crop per photo: the largest centred square.
WHOLE = "whole"
#: Side of a crop in :data:`CROPS`, as a fraction of the photo's short side.
CROP_FRACTION = 0.6
#: Side (px) of the square pictures a game shows.
DISPLAY_SIZE = 256
#: About how many rounds a game has when the number of crops per photo is left to the plan.
TARGET_ROUNDS = 12

PhotoSource = str | os.PathLike | np.ndarray | Image.Image


# --- Photos and the plan ------------------------------------------------------------


def default_photo_items() -> dict[str, PhotoSource]:
    """The game's own photos by name, not loaded (paths, and ``"sample:NAME"`` for the bundled ones):
    :func:`colorlab.splits.game_photo_items`, 24 photos no demo model trained on."""
    from .splits import game_photo_items

    return dict(game_photo_items())


def default_photos() -> dict[str, np.ndarray]:
    """The game's own photos (never trained on), loaded: ``{name: (H, W, 3) uint8}``
    (:func:`colorlab.splits.game_images`)."""
    from .splits import game_images

    return game_images()


def new_seed() -> int:
    """A fresh seed for a game (from the operating system's entropy): what a plan without a seed uses."""
    return int(np.random.SeedSequence().generate_state(1)[0] >> 1)


def load_photo(photo: PhotoSource) -> np.ndarray:
    """A photo of a game as ``(H, W, 3)`` uint8: an image, a path, or ``"sample:NAME"`` for a bundled photo."""
    from .samples import load_item

    return load_item(photo)


def resolve_photos(photos: Mapping[str, PhotoSource] | str | os.PathLike[str] | None) -> dict[str, PhotoSource]:
    """The photos of a game by name: a mapping as given, a folder's images (recursive) by their
    path relative to it, or :func:`default_photo_items` for ``None``. Files are loaded only when shown
    (:func:`load_photo`)."""
    if photos is None:
        return default_photo_items()
    if isinstance(photos, Mapping):
        found = dict(photos)
    else:
        from .images import find_images

        root = Path(photos)
        found = {(p.relative_to(root).as_posix() if root.is_dir() else p.name): p for p in find_images(root)}
        if not found:
            raise FileNotFoundError(f"{root}: no images found (looked for .jpg, .png, ...); pass another folder")
    if not found:
        raise ValueError("no photos given: pass a mapping name -> image, a folder, or None for the held-out photos")
    return found


@dataclass(frozen=True)
class Round:
    """One round of a game: a crop of a photo, shown real or colorized by ``model``.

    In :data:`PAIRS` mode every round shows the crop twice, real and colorized
    side by side; ``shown`` is then :data:`COLORIZED` and ``left`` says which
    version is on the left.
    """

    photo: str
    crop: str
    shown: str
    model: str | None
    mode: str = SINGLE
    left: str | None = None

    @property
    def picture_name(self) -> str:
        """How the picture is named in results and figures, e.g. ``"china (top-left)"``."""
        return self.photo if self.crop == WHOLE else f"{self.photo} ({self.crop})"


def _crops_for(n_photos: int, crops_per_photo: int | None, target: int) -> tuple[str, ...]:
    if crops_per_photo is None:
        crops_per_photo = min(len(CROPS), max(1, math.ceil(target / max(1, n_photos))))
    if not 1 <= crops_per_photo <= len(CROPS):
        raise ValueError(f"crops_per_photo must be 1..{len(CROPS)}, got {crops_per_photo}")
    return (WHOLE,) if crops_per_photo == 1 else CROPS[:crops_per_photo]


def plan_rounds(
    photos: Sequence[str],
    models: Sequence[str],
    seed: int | None = None,
    *,
    mode: str = SINGLE,
    crops_per_photo: int | None = None,
    max_rounds: int = TARGET_ROUNDS,
) -> list[Round]:
    """The rounds of one game, fixed by ``seed`` (the same photos, models and seed: the same game);
    ``seed=None`` draws a new one (:func:`new_seed`), so each such plan is a fresh order.

    :data:`SINGLE` mode: an even number of photos is drawn; half of them are
    shown real and half colorized, every crop of a photo the same way, so no
    viewer sees one scene both real and colorized. The colorized crops are
    dealt to ``models`` in turn (counts differ by at most one). With a single
    photo its crops are split instead (less fair: the same scene both ways).
    :data:`PAIRS` mode: every crop is shown real and colorized side by side.

    ``crops_per_photo=None`` takes enough crops (up to 5) for about
    ``max_rounds`` rounds; ``max_rounds`` caps the game's length.
    """
    if mode not in (SINGLE, PAIRS):
        raise ValueError(f"mode must be {SINGLE!r} or {PAIRS!r}, got {mode!r}")
    if not models:
        raise ValueError("no models given: pass at least one label, e.g. ['demo']")
    if not photos:
        raise ValueError("no photos given")
    if max_rounds < 2:
        raise ValueError(f"max_rounds must be at least 2 (one real, one colorized), got {max_rounds}")
    rng = np.random.default_rng(new_seed() if seed is None else seed)
    names = [str(n) for n in sorted(photos, key=str)]
    names = [names[i] for i in rng.permutation(len(names))]
    usable = len(names) if (mode == PAIRS or len(names) == 1) else len(names) - len(names) % 2
    crops = _crops_for(usable, crops_per_photo, max_rounds)
    crops = crops[: max(1, max_rounds // (1 if mode == PAIRS else 2))]  # max_rounds caps even a given count
    k = len(crops)

    if mode == PAIRS:
        items = [(p, c) for p in names for c in crops][:max_rounds]
        order = rng.permutation(len(items))
        dealt = _deal(models, len(items), rng)
        sides = rng.integers(0, 2, len(items))
        return [
            Round(items[i][0], items[i][1], COLORIZED, dealt[j], PAIRS, REAL if sides[j] else COLORIZED)
            for j, i in enumerate(order)
        ]

    if len(names) == 1:
        crops = crops if k > 1 else CROPS[:2]  # one photo needs two crops: one real, one colorized
        items = [(names[0], c) for c in crops][: len(crops) // 2 * 2]
        half = len(items) // 2
        shown = [COLORIZED] * half + [REAL] * (len(items) - half)
        shown = [shown[i] for i in rng.permutation(len(shown))]
    else:
        pairs_of_photos = max(1, min(usable // 2, max_rounds // (2 * k)))
        chosen = names[: 2 * pairs_of_photos]
        colorized, real = chosen[:pairs_of_photos], chosen[pairs_of_photos:]
        items = [(p, c) for p in colorized for c in crops] + [(p, c) for p in real for c in crops]
        shown = [COLORIZED] * (len(colorized) * k) + [REAL] * (len(real) * k)
    dealt = iter(_deal(models, shown.count(COLORIZED), rng))
    rounds = [Round(p, c, s, next(dealt) if s == COLORIZED else None) for (p, c), s in zip(items, shown)]
    return [rounds[i] for i in rng.permutation(len(rounds))]


def _deal(models: Sequence[str], n: int, rng: np.random.Generator) -> list[str]:
    """``n`` model labels, each model as often as the others (+-1), in a seeded order."""
    start = int(rng.integers(len(models)))  # which model gets the extra picture when n is odd
    labels = [models[(i + start) % len(models)] for i in range(n)]
    return [labels[i] for i in rng.permutation(n)]


# --- Pictures -----------------------------------------------------------------------


def crop_picture(rgb: np.ndarray, crop: str, size: int = DISPLAY_SIZE) -> np.ndarray:
    """A square crop of ``rgb`` ``(H, W, 3)`` uint8, resized to ``(size, size, 3)`` uint8.

    ``crop`` is :data:`WHOLE` (the largest centred square) or one of
    :data:`CROPS` (a square of :data:`CROP_FRACTION` of the short side at the
    centre or a corner).
    """
    from .crops import center_crop_resize

    if crop == WHOLE:
        return center_crop_resize(rgb, size)
    if crop not in CROPS:
        raise ValueError(f"unknown crop {crop!r}; use {WHOLE!r} or one of {CROPS}")
    h, w = rgb.shape[:2]
    side = max(1, round(CROP_FRACTION * min(h, w)))
    top = {"centre": (h - side) // 2}.get(crop, 0 if crop.startswith("top") else h - side)
    left = {"centre": (w - side) // 2}.get(crop, 0 if crop.endswith("left") else w - side)
    box = (left, top, left + side, top + side)
    return np.asarray(Image.fromarray(rgb).resize((size, size), Image.BICUBIC, box=box, reducing_gap=3.0))


def picture(
    photo: PhotoSource,
    game_round: Round,
    model: Any = None,
    *,
    size: int = DISPLAY_SIZE,
    colorized: bool | None = None,
    network_size: int | None = None,
) -> np.ndarray:
    """The ``(size, size, 3)`` uint8 picture a round shows: the real crop, or the crop
    colorized by ``model`` from its own lightness (so both versions have the same L).

    ``colorized`` overrides ``game_round.shown`` (pairs need both versions);
    ``network_size`` is the side the network sees (default
    :data:`colorlab.infer.DEFAULT_SIZE`; smaller is faster and blurrier).
    """
    from .infer import DEFAULT_SIZE, colorize

    real = crop_picture(load_photo(photo), game_round.crop, size)
    want_colorized = game_round.shown == COLORIZED if colorized is None else colorized
    if not want_colorized:
        return real
    if model is None:
        raise ValueError(f"round {game_round.picture_name}: a colorized picture needs a model")
    return colorize(real, model, size=network_size or DEFAULT_SIZE)


# --- Summaries ----------------------------------------------------------------------


@dataclass
class GameSummary:
    """Everything a game or a class's results file says, counted.

    ``fooled``: colorized pictures answered "real" (the fooled rate);
    ``real_called_real``: real pictures answered "real" (what a perfect
    colorizer's fooled rate would be); ``by_model`` and ``by_picture``: the
    fooled rate per model label and per picture (single-picture answers only;
    pairs are counted under ``"<model> (pairs)"``).
    """

    answers: int = 0
    correct: int = 0
    players: int = 0
    sessions: int = 0
    fooled: Tally = field(default_factory=Tally)
    real_called_real: Tally = field(default_factory=Tally)
    by_model: dict[str, Tally] = field(default_factory=dict)
    by_picture: dict[str, Tally] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        """Fraction of answers that were right (``nan`` without answers)."""
        return self.correct / self.answers if self.answers else float("nan")

    def fooled_most(self, top: int = 5) -> list[tuple[str, Tally]]:
        """The ``top`` pictures with the highest fooled rate (more answers first on ties)."""
        ranked = sorted(self.by_picture.items(), key=lambda kv: (-kv[1].rate, -kv[1].n, kv[0]))
        return ranked[:top]


def _picture_name(record: Mapping[str, Any]) -> str:
    crop = record.get("crop") or WHOLE
    return Round(str(record["photo"]), crop, str(record["shown"]), record.get("model")).picture_name


def summarize(records: Iterable[Mapping[str, Any]]) -> GameSummary:
    """Count answers (dicts as in a results file) into a :class:`GameSummary`."""
    s = GameSummary()
    players, sessions = set(), set()
    for r in records:
        s.answers += 1
        s.correct += r["answer"] == r["shown"]
        players.add(r.get("player"))
        sessions.add(r.get("session"))
        fooled = r["answer"] == REAL
        if r["shown"] == REAL:
            s.real_called_real = s.real_called_real.add(fooled)
            continue
        s.fooled = s.fooled.add(fooled)
        model = str(r.get("model"))
        if r.get("mode", SINGLE) == PAIRS:
            model = f"{model} ({PAIRS})"
        else:
            name = _picture_name(r)
            s.by_picture[name] = s.by_picture.get(name, Tally()).add(fooled)
        s.by_model[model] = s.by_model.get(model, Tally()).add(fooled)
    s.players, s.sessions = len(players), len(sessions)
    return s


def pool_results(source: str | os.PathLike[str] | Iterable[Mapping[str, Any]]) -> GameSummary:
    """A class's results file (or records) pooled: :func:`read_results` then :func:`summarize`."""
    if isinstance(source, (str, os.PathLike)):
        return summarize(read_results(source))
    return summarize(source)


def format_summary(summary: GameSummary, *, top: int = 3) -> str:
    """A few lines for a person: score, fooled rate with its interval, per model, fooled most."""
    s = summary
    if not s.answers:
        return "no answers yet"
    lines = [
        f"answers: {s.answers} from {s.players} player(s) in {s.sessions} game(s)",
        f"score: {s.correct}/{s.answers} right ({s.accuracy:.0%})",
        f"fooled rate (colorized pictures answered 'real'): {s.fooled}",
        f"real pictures answered 'real': {s.real_called_real}",
    ]
    if len(s.by_model) > 1:
        lines += [f"  model {label}: fooled {t}" for label, t in sorted(s.by_model.items())]
    most = [f"{name} {t.k}/{t.n}" for name, t in s.fooled_most(top) if t.k]
    if most:
        lines.append("fooled most: " + ", ".join(most))
    return "\n".join(lines)


def results_figure(
    source: GameSummary | str | os.PathLike[str] | Iterable[Mapping[str, Any]],
    title: str = "Real or colorized? How often colorized pictures fooled the viewers",
    *,
    top: int = 8,
):
    """Two panels: the fooled rate per model with Wilson 95% error bars beside the rate at which
    real pictures were called real (and the 50% of guessing), and the ``top`` pictures that
    fooled most, with theirs. ``source``: a summary, a results file or records.
    Returns a matplotlib ``Figure`` (made with pyplot, so a notebook shows it)."""
    import matplotlib.pyplot as plt

    s = source if isinstance(source, GameSummary) else pool_results(source)
    bars = [(f"colorized\n{label}", t, "tab:orange") for label, t in sorted(s.by_model.items())]
    bars.append(("real photos\n(called real)", s.real_called_real, "tab:blue"))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1, 1.3]})
    for x, (_label, t, colour) in enumerate(bars):
        if not t.n:
            continue
        low, high = t.interval
        left.bar(x, t.rate, color=colour, alpha=0.8)
        left.errorbar(x, t.rate, yerr=[[t.rate - low], [high - t.rate]], color="black", capsize=6)
        left.text(x, min(high + 0.03, 1.02), f"{t.k}/{t.n}", ha="center", va="bottom", fontsize=9)
    left.axhline(0.5, color="gray", linestyle="--", linewidth=1, label="guessing (50%)")
    left.set_xticks(range(len(bars)), [b[0] for b in bars])
    left.set_ylim(0, 1.12)
    left.set_ylabel("answered 'real' (fraction, 95% Wilson CI)")
    left.set_xlabel("pictures shown")
    left.set_title("Fooled rate per model")
    left.legend(loc="upper right", fontsize=8)

    most = s.fooled_most(top)
    if most:
        most = most[::-1]  # barh draws bottom-up: the one that fooled most goes on top
        rates = [t.rate for _, t in most]
        errors = np.array([[t.rate - t.interval[0], t.interval[1] - t.rate] for _, t in most]).T
        right.barh(range(len(most)), rates, xerr=errors, color="tab:orange", alpha=0.8, capsize=3)
        right.set_yticks(range(len(most)), [f"{name} ({t.k}/{t.n})" for name, t in most])
    else:
        right.text(0.5, 0.5, "no colorized pictures answered yet", ha="center", va="center", transform=right.transAxes)
    right.set_xlim(0, 1)
    right.set_xlabel("fooled rate (colorized picture answered 'real', 95% CI)")
    right.set_ylabel("picture")
    right.set_title("Pictures that fooled most")
    fig.suptitle(f"{title}\n{s.answers} answers, {s.players} player(s), score {s.correct}/{s.answers}")
    fig.tight_layout()
    return fig


# --- Playing from code -----------------------------------------------------------------


def play(
    judge: Callable[[np.ndarray], str],
    seeds: Iterable[int] | None = None,
    photos: Mapping[str, PhotoSource] | str | os.PathLike[str] | None = None,
    models: Mapping[str, Any] | None = None,
    *,
    player: str = "bot",
    size: int = DISPLAY_SIZE,
    network_size: int | None = None,
    max_rounds: int = TARGET_ROUNDS,
) -> list[dict[str, Any]]:
    """Let a function play one game per seed (``None``: one game with a new seed, :func:`new_seed`);
    returns its answers as results-file records (each names its game's seed).

    ``judge`` gets each picture, ``(size, size, 3)`` uint8, and returns
    :data:`REAL` or :data:`COLORIZED`: an automatic judge (e.g. a colourfulness
    threshold) plays exactly the games people play. ``photos`` and ``models``
    as for :class:`colorlab.game_app.RealOrColorizedApp`; pictures are made
    once and reused across seeds.
    """
    if models is None:
        from .infer import load_pretrained

        models = {"demo": load_pretrained()}
    if seeds is None:
        seeds = [new_seed()]
    sources = resolve_photos(photos)
    loaded: dict[str, np.ndarray] = {}
    pictures: dict[tuple[str, str, str | None], np.ndarray] = {}
    records = []
    for seed in seeds:
        for i, r in enumerate(plan_rounds(list(sources), list(models), seed, max_rounds=max_rounds)):
            key = (r.photo, r.crop, r.model)
            if key not in pictures:
                if r.photo not in loaded:
                    loaded[r.photo] = load_photo(sources[r.photo])
                model = models[r.model] if r.model is not None else None
                pictures[key] = picture(loaded[r.photo], r, model, size=size, network_size=network_size)
            started = time.monotonic()
            verdict = judge(pictures[key])
            records.append(
                answer_record(
                    r,
                    verdict,
                    seconds=time.monotonic() - started,
                    session=f"{player}-{seed}",
                    player=player,
                    seed=seed,
                    index=i,
                )
            )
    return records


# --- A simulated class ----------------------------------------------------------------


def simulate_class(
    photos: Sequence[str],
    fool_rates: Mapping[str, float],
    *,
    players: int = 20,
    real_called_real: float = 0.75,
    spread: float = 1.0,
    seed: int = 0,
    crops_per_photo: int | None = None,
    max_rounds: int = TARGET_ROUNDS,
) -> list[dict[str, Any]]:
    """Answers of ``players`` imaginary players, each with their own seeded game (seed + player number).

    A colorized picture by model ``m`` is answered "real" with probability
    ``fool_rates[m]``, shifted per picture on the logit scale by a normal draw
    of standard deviation ``spread`` (some pictures are harder to spot than
    others); a real picture is answered "real" with probability
    ``real_called_real``. Deterministic for a seed (times included), so a
    notebook that simulates a class shows the same figure every run.
    """
    for label, p in fool_rates.items():
        if not 0 < p < 1:
            raise ValueError(f"fool rate of {label!r} must be in (0, 1), got {p}")
    rng = np.random.default_rng(seed)
    logit = {m: math.log(p / (1 - p)) for m, p in fool_rates.items()}
    difficulty: dict[tuple[str, str, str], float] = {}
    start = _dt.datetime(2024, 1, 8, 9, 0, tzinfo=_dt.timezone.utc)
    records = []
    for i in range(players):
        plan = plan_rounds(photos, list(fool_rates), seed + i, crops_per_photo=crops_per_photo, max_rounds=max_rounds)
        clock = start + _dt.timedelta(minutes=i)
        for j, r in enumerate(plan):
            if r.shown == REAL:
                p = real_called_real
            else:
                key = (r.photo, r.crop, str(r.model))
                if key not in difficulty:
                    difficulty[key] = float(rng.normal(0.0, spread))
                p = 1 / (1 + math.exp(-(logit[str(r.model)] + difficulty[key])))
            answer = REAL if rng.random() < p else COLORIZED
            seconds = float(rng.lognormal(1.0, 0.4))
            clock += _dt.timedelta(seconds=seconds)
            records.append(
                answer_record(
                    r,
                    answer,
                    seconds=seconds,
                    session=f"sim-{i:03d}",
                    player=f"player {i + 1}",
                    seed=seed + i,
                    index=j,
                    when=clock,
                )
            )
    return records
