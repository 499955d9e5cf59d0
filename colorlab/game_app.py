""" "Real or colorized?" as an ipywidgets app: the game logic of :mod:`colorlab.game` behind two buttons.

Everything a click does is a method, so the app is driven and tested from
Python without a browser:

>>> app = RealOrColorizedApp(seed=3, player="ada", results_path="runs/class.jsonl")
>>> app.real_button.click()        # or app.answer("real")
>>> app.finished, app.summary()    # after the last round: score, fooled rate, figure
"""

from __future__ import annotations

import html
import io
import os
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np

from . import game
from .game import COLORIZED, PAIRS, REAL, SINGLE, GameSummary, Round
from .ui import ERROR_COLOUR, coloured, png_bytes

__all__ = ["RealOrColorizedApp"]


def _load_models(models: Mapping[str, Any] | None) -> dict[str, Any]:
    from .infer import load_model, load_pretrained

    if models is None:
        return {"demo": load_pretrained()}
    if not models:
        raise ValueError("models is empty: pass {label: model or checkpoint path}, or None for the demo model")
    return {str(k): (load_model(v) if isinstance(v, (str, os.PathLike)) else v) for k, v in models.items()}


class RealOrColorizedApp(widgets.VBox):
    """Show pictures one at a time (or real/colorized pairs); the viewer answers; the end shows the score.

    ``photos``: ``{name: image or path}``, a folder of images, or ``None`` for
    the game's 24 held-out photos (:func:`colorlab.game.default_photos`). ``models``:
    ``{label: model or checkpoint path}`` (``None``: ``{"demo": load_pretrained()}``);
    with several models the colorized pictures are shared among them.
    ``seed`` fixes the game (:func:`colorlab.game.plan_rounds`); give each
    player of a class their own seed. ``None`` (the default) draws a new seed,
    so every app is a fresh order. "Play again" (:meth:`play_again`) deals a new
    game: with a given seed, the same sequence of games every time; without
    one, new seeds. :attr:`seed` is the seed of the game on screen, and every
    answer records it. ``results_path``: a JSON Lines file each
    answer is appended to (safe for a whole class writing at once); ``None``
    keeps the answers in :attr:`records` only. ``feedback=True`` says after each
    answer whether it was right (a study does not: it teaches the viewer).
    ``size``: side of the pictures shown (px); ``network_size``: side the network
    sees (default :data:`colorlab.infer.DEFAULT_SIZE`).

    State for code and tests: :attr:`rounds`, :attr:`position` (index of the
    round on screen), :attr:`records` (this game's answers), :attr:`finished`,
    :attr:`current_pictures` (the uint8 pictures on screen).
    """

    def __init__(
        self,
        photos: Mapping[str, Any] | str | os.PathLike[str] | None = None,
        models: Mapping[str, Any] | None = None,
        *,
        seed: int | None = None,
        player: str = "anonymous",
        results_path: str | os.PathLike[str] | None = None,
        mode: str = SINGLE,
        crops_per_photo: int | None = None,
        max_rounds: int = game.TARGET_ROUNDS,
        size: int = game.DISPLAY_SIZE,
        network_size: int | None = None,
        feedback: bool = False,
    ) -> None:
        self.photos = game.resolve_photos(photos)
        self.models = _load_models(models)
        self.player, self.mode, self.feedback = player, mode, feedback
        self.size, self.network_size = size, network_size
        self.results_path = Path(results_path) if results_path is not None else None
        self._plan_options: dict[str, Any] = {
            "mode": mode,
            "crops_per_photo": crops_per_photo,
            "max_rounds": max_rounds,
        }
        # The seeds of the games after the first: from the given seed (the same games each time), else fresh.
        self._next_seeds = np.random.default_rng(seed)
        self._plan(game.new_seed() if seed is None else seed)
        self._cache: dict[tuple[str, str, str | None], np.ndarray] = {}
        self._loaded: dict[str, np.ndarray] = {}
        self._build_widgets()
        self._connect_buttons()
        super().__init__(self._build_layout())
        self.restart()

    # --- building -----------------------------------------------------------------

    def _build_widgets(self) -> None:
        """The title, the pictures, every button and the end-of-game panel (arranged by :meth:`_build_layout`)."""
        question = (
            "Which of the two pictures is the real photo?"
            if self.mode == PAIRS
            else "Is this picture a real colour photo, or was it colorized from gray by a model?"
        )
        self.title = widgets.HTML("<h3>Real or colorized?</h3>" + question)
        self.progress = widgets.HTML()
        self.message = widgets.HTML()
        picture_layout = widgets.Layout(width=f"{self.size}px", height=f"{self.size}px")
        self.image = widgets.Image(format="png", layout=picture_layout)
        self.image_right = widgets.Image(format="png", layout=picture_layout)
        self.real_button = widgets.Button(description="Real", button_style="info", icon="camera")
        self.colorized_button = widgets.Button(description="Colorized", button_style="warning", icon="paint-brush")
        self.left_button = widgets.Button(description="Left is real", button_style="info")
        self.right_button = widgets.Button(description="Right is real", button_style="info")
        self.again_button = widgets.Button(description="Play again", button_style="success", icon="refresh")
        self.summary_html = widgets.HTML()
        self.figure = widgets.Image(format="png", layout=widgets.Layout(max_width="100%", height="auto"))

    def _connect_buttons(self) -> None:
        self.real_button.on_click(lambda _: self.answer(REAL))
        self.colorized_button.on_click(lambda _: self.answer(COLORIZED))
        self.left_button.on_click(lambda _: self.pick("left"))
        self.right_button.on_click(lambda _: self.pick("right"))
        self.again_button.on_click(lambda _: self.play_again())

    def _build_layout(self) -> list[widgets.Widget]:
        """The app top to bottom: title, progress, the round (pictures over buttons), message, end panel."""
        pairs = self.mode == PAIRS
        pictures = [self.image, self.image_right] if pairs else [self.image]
        buttons = [self.left_button, self.right_button] if pairs else [self.real_button, self.colorized_button]
        self.play_box = widgets.VBox([widgets.HBox(pictures), widgets.HBox(buttons)])
        self.end_box = widgets.VBox([self.summary_html, self.figure, self.again_button])
        return [self.title, self.progress, self.play_box, self.message, self.end_box]

    # --- state --------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """Whether every round has been answered."""
        return self.position >= len(self.rounds)

    @property
    def current(self) -> Round | None:
        """The round on screen (``None`` once the game is over)."""
        return None if self.finished else self.rounds[self.position]

    def summary(self) -> GameSummary:
        """This game's answers counted (:func:`colorlab.game.summarize`)."""
        return game.summarize(self.records)

    # --- actions ------------------------------------------------------------------

    def _plan(self, seed: int) -> None:
        """Deal the game of ``seed`` (:func:`colorlab.game.plan_rounds`) without showing it."""
        self.seed = int(seed)
        self.rounds: list[Round] = game.plan_rounds(
            list(self.photos), list(self.models), self.seed, **self._plan_options
        )

    def play_again(self) -> None:
        """A new game ("Play again"): a new seed, so other pictures in another order; a new session id."""
        self._plan(int(self._next_seeds.integers(2**31)))
        self.restart()

    def restart(self) -> None:
        """Start this game again from the first round: the same seed, so the same order; a new session id."""
        self.session = uuid.uuid4().hex[:12]
        self.position = 0
        self.records: list[dict[str, Any]] = []
        self.current_pictures: list[np.ndarray] = []
        self.summary_html.value, self.figure.value, self.message.value = "", b"", ""
        self.end_box.layout.display = "none"
        self.play_box.layout.display = None
        self._show()

    def answer(self, verdict: str) -> None:
        """Answer the round on screen: :data:`~colorlab.game.REAL` or :data:`~colorlab.game.COLORIZED`
        (in pairs mode: the verdict on the colorized picture, see :meth:`pick`)."""
        if self.finished:
            return
        r = self.rounds[self.position]
        record = game.answer_record(
            r,
            verdict,
            seconds=time.monotonic() - self._shown_at,
            session=self.session,
            player=self.player,
            seed=self.seed,
            index=self.position,
        )
        self.records.append(record)
        note = ""
        if self.results_path is not None:
            try:
                game.append_answer(self.results_path, record)
            except (OSError, game.ResultsFileError) as exc:
                note = coloured(f"answer not saved: {exc}", ERROR_COLOUR)
        if self.feedback:
            right = verdict == r.shown
            truth = "real" if r.shown == REAL else f"colorized by {r.model}"
            note = f"{'right' if right else 'wrong'}: the last picture was {html.escape(truth)}. " + note
        self.message.value = note
        self.position += 1
        self._show()

    def pick(self, side: str) -> None:
        """Pairs mode: the viewer says the picture on ``side`` ("left" or "right") is the real one."""
        if self.finished:
            return
        r = self.rounds[self.position]
        if side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        picked = r.left if side == "left" else (REAL if r.left == COLORIZED else COLORIZED)
        # picking the colorized picture as the real one is being fooled
        self.answer(REAL if picked == COLORIZED else COLORIZED)

    # --- drawing ------------------------------------------------------------------

    def _picture(self, r: Round, colorized: bool) -> np.ndarray:
        key = (r.photo, r.crop, r.model if colorized else None)
        if key not in self._cache:
            if r.photo not in self._loaded:
                self._loaded[r.photo] = game.load_photo(self.photos[r.photo])
            model = self.models[r.model] if colorized else None
            self._cache[key] = game.picture(
                self._loaded[r.photo], r, model, size=self.size, colorized=colorized, network_size=self.network_size
            )
        return self._cache[key]

    def _show(self) -> None:
        n = len(self.rounds)
        if self.finished:
            self._show_end()
            return
        r = self.rounds[self.position]
        self.progress.value = f"<b>Round {self.position + 1} of {n}</b> &middot; player {html.escape(self.player)}"
        if r.mode == PAIRS:
            first = r.left == COLORIZED
            self.current_pictures = [self._picture(r, first), self._picture(r, not first)]
            self.image.value, self.image_right.value = (png_bytes(p) for p in self.current_pictures)
        else:
            self.current_pictures = [self._picture(r, r.shown == COLORIZED)]
            self.image.value = png_bytes(self.current_pictures[0])
        self._shown_at = time.monotonic()

    def _show_end(self) -> None:
        import matplotlib.pyplot as plt

        s = self.summary()
        self.progress.value = f"<b>Done: {len(self.rounds)} rounds</b> &middot; player {html.escape(self.player)}"
        lines = html.escape(game.format_summary(s)).replace("\n", "<br>")
        saved = (
            f"<br>answers appended to <code>{html.escape(self.results_path.name)}</code>" if self.results_path else ""
        )
        self.summary_html.value = f"<h4>Your score: {s.correct} of {s.answers}</h4><p>{lines}{saved}</p>"
        fig = game.results_figure(s, title=f"Your game (seed {self.seed})")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=80)
        plt.close(fig)  # shown through the Image widget, not a second time by the notebook
        self.figure.value = buffer.getvalue()
        self.current_pictures = []
        self.play_box.layout.display = "none"
        self.end_box.layout.display = None
