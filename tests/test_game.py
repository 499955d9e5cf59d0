""" "Real or colorized?": the plan, the statistics, the results file and the app, without a browser."""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from colorlab import files, game, game_store
from colorlab.game import COLORIZED, PAIRS, REAL, Round

# --- statistics ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "k, n, low, high",
    [
        (5, 10, 0.2366, 0.7634),  # the textbook example
        (1, 10, 0.0179, 0.4042),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (50, 100, 0.4038, 0.5962),
    ],
)
def test_wilson_interval_matches_published_values(k, n, low, high):
    assert game.wilson_interval(k, n) == pytest.approx((low, high), abs=1e-4)


def test_wilson_interval_holds_the_rate_stays_in_0_1_and_narrows_with_more_answers():
    widths = []
    for n in (5, 20, 80, 320):
        for k in range(n + 1):
            low, high = game.wilson_interval(k, n)
            assert 0.0 <= low <= k / n <= high <= 1.0
        low, high = game.wilson_interval(n // 2, n)
        widths.append(high - low)
    assert widths == sorted(widths, reverse=True)


def test_wilson_interval_without_answers_is_everything_and_rejects_impossible_counts():
    assert game.wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="k=11, n=10"):
        game.wilson_interval(11, 10)


def test_answers_needed_for_ten_percent_is_the_smallest_count_whose_interval_fits():
    n = game.answers_needed(0.10)
    assert n == 93
    half_width = lambda m: (lambda lo, hi: (hi - lo) / 2)(*game.wilson_interval(m // 2, m))  # noqa: E731
    assert half_width(n) <= 0.10 < half_width(n - 2)  # even n: the rate is exactly 1/2, the widest case
    assert game.answers_needed(0.05) > 4 * 90


def test_tally_reports_its_rate_and_interval_in_words():
    t = game.Tally(2, 5)
    assert t.rate == 0.4 and t.interval == game.wilson_interval(2, 5)
    assert str(t) == "2/5 = 40% (95% CI 12%-77%)"
    assert str(game.Tally()) == "no answers"


# --- the plan ----------------------------------------------------------------------------


def test_plan_is_fixed_by_the_seed_whatever_order_the_photos_come_in():
    a = game.plan_rounds(["china", "flower"], ["demo"], seed=3)
    assert a == game.plan_rounds(["flower", "china"], ["demo"], seed=3)
    others = [game.plan_rounds(["china", "flower"], ["demo"], seed=s) for s in range(4, 10)]
    assert any(o != a for o in others)
    names = list(game.default_photo_items())
    assert game.plan_rounds(names, ["demo"], seed=3) == game.plan_rounds(names[::-1], ["demo"], seed=3)


def test_a_plan_without_a_seed_is_a_fresh_game_each_time(monkeypatch):
    names = list(game.default_photo_items())
    plans = [game.plan_rounds(names, ["demo"]) for _ in range(5)]
    assert all(len(p) == game.TARGET_ROUNDS for p in plans)
    assert len({tuple(p) for p in plans}) == 5  # 24 photos: an identical deal is all but impossible
    drawn = []
    monkeypatch.setattr(game, "new_seed", lambda: drawn.append(41) or 41)
    assert game.plan_rounds(names, ["demo"]) == game.plan_rounds(names, ["demo"], seed=41) and drawn == [41]


def test_single_plan_has_equal_halves_and_never_shows_one_photo_both_real_and_colorized():
    for n_photos in (2, 3, 4, 7, 12, 40):
        names = [f"photo{i}" for i in range(n_photos)]
        for seed in range(5):
            plan = game.plan_rounds(names, ["demo"], seed)
            shown = Counter(r.shown for r in plan)
            assert shown[REAL] == shown[COLORIZED] >= 1, (n_photos, seed)
            ways = {}
            for r in plan:
                ways.setdefault(r.photo, set()).add(r.shown)
            assert all(len(w) == 1 for w in ways.values()), f"{n_photos} photos, seed {seed}: a photo shown both ways"
            assert len({(r.photo, r.crop) for r in plan}) == len(plan), "a picture shown twice"
            assert len(plan) <= game.TARGET_ROUNDS
            assert all((r.model is None) == (r.shown == REAL) for r in plan)


def test_few_photos_give_several_crops_each_so_a_game_has_about_ten_rounds():
    plan = game.plan_rounds(["china", "flower"], ["demo"], seed=0)
    assert 8 <= len(plan) <= 12
    assert {r.crop for r in plan} == set(game.CROPS)
    many = game.plan_rounds([f"p{i}" for i in range(30)], ["demo"], seed=0)
    assert {r.crop for r in many} == {game.WHOLE} and len(many) == game.TARGET_ROUNDS


def test_a_single_photo_is_split_into_real_and_colorized_crops():
    for crops in (None, 1, 2, 5):
        plan = game.plan_rounds(["only"], ["demo"], seed=0, crops_per_photo=crops)
        shown = Counter(r.shown for r in plan)
        assert shown[REAL] == shown[COLORIZED] >= 1, crops
        assert len({r.crop for r in plan}) == len(plan)


def test_colorized_pictures_are_shared_evenly_among_models():
    for seed in range(6):
        plan = game.plan_rounds([f"p{i}" for i in range(12)], ["regression", "classification", "third"], seed)
        counts = Counter(r.model for r in plan if r.shown == COLORIZED)
        assert set(counts) == {"regression", "classification", "third"}
        assert max(counts.values()) - min(counts.values()) <= 1


def test_pairs_plan_shows_every_crop_colorized_with_a_seeded_side_for_the_real_one():
    plan = game.plan_rounds(["china", "flower"], ["demo"], seed=1, mode=PAIRS, max_rounds=10)
    assert len(plan) == 10
    assert all(r.mode == PAIRS and r.shown == COLORIZED and r.model == "demo" for r in plan)
    assert {r.left for r in plan} == {REAL, COLORIZED}


def test_plan_rejects_what_cannot_make_a_game():
    with pytest.raises(ValueError, match="no models"):
        game.plan_rounds(["china"], [], 0)
    with pytest.raises(ValueError, match="mode"):
        game.plan_rounds(["china"], ["demo"], 0, mode="triples")
    with pytest.raises(ValueError, match="crops_per_photo"):
        game.plan_rounds(["china", "flower"], ["demo"], 0, crops_per_photo=9)


# --- pictures and photos -------------------------------------------------------------------


def test_crops_are_squares_at_display_size_from_different_parts_of_the_photo():
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (120, 200, 3), dtype=np.uint8)
    crops = {c: game.crop_picture(photo, c, 64) for c in (*game.CROPS, game.WHOLE)}
    assert all(c.shape == (64, 64, 3) and c.dtype == np.uint8 for c in crops.values())
    assert len({c.tobytes() for c in crops.values()}) == len(crops)
    with pytest.raises(ValueError, match="unknown crop"):
        game.crop_picture(photo, "middle", 64)


def test_colorized_picture_keeps_the_lightness_of_the_real_one(tiny_net, photos):
    from colorlab.color import rgb_uint8_to_lab

    r = Round("china", "centre", COLORIZED, "tiny")
    real = game.picture(photos["china"], r, tiny_net, size=64, colorized=False)
    fake = game.picture(photos["china"], r, tiny_net, size=64)
    assert real.shape == fake.shape == (64, 64, 3)
    assert not np.array_equal(real, fake)
    lightness_gap = np.abs(rgb_uint8_to_lab(real)[..., 0] - rgb_uint8_to_lab(fake)[..., 0])
    assert np.median(lightness_gap) < 1.0  # same L; out-of-gamut colours are clipped, a little off


def test_photos_from_a_folder_are_named_by_their_path_inside_it(tmp_path):
    (tmp_path / "trip").mkdir()
    for name in ("a.png", "trip/b.jpg"):
        Image.fromarray(np.full((40, 50, 3), 90, np.uint8)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not a photo")
    assert sorted(game.resolve_photos(tmp_path)) == ["a.png", "trip/b.jpg"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no images found"):
        game.resolve_photos(tmp_path / "empty")


def test_default_photos_are_24_held_out_photos():
    """Without a photo folder the game shows what no model trained on: 22 held-out clothing photos of
    the U-Nets' photo mix, shipped small, and the bundled held-out china and flower."""
    from colorlab.resources import split_path
    from colorlab.splits import read_split

    items = game.default_photo_items()
    assert len(items) == 24 and items["china"] == "sample:china" and items["flower"] == "sample:flower"
    clothing = sorted(n for n in items if n.startswith("clothing-"))
    assert len(clothing) == 22
    rows = read_split(split_path("photo-mix.csv"))
    for name in clothing:  # each one is a held-out photo of the mix (the name keeps its id's first 8 digits)
        (row,) = [r for r in rows if r.name.startswith("clothing/images/" + name.removeprefix("clothing-"))]
        assert row.split == "heldout", name
    assert game.resolve_photos(None) == items  # a game loads a photo only when it shows it
    photos = game.default_photos()
    assert list(photos) == list(items)
    assert all(p.dtype == np.uint8 and p.ndim == 3 and p.shape[2] == 3 for p in photos.values())
    assert max(photos["clothing-00003aeb"].shape[:2]) == 320
    plan = game.plan_rounds(list(items), ["demo"], seed=0)  # the default game: 12 whole photos, 6 of them real
    assert len(plan) == game.TARGET_ROUNDS and {r.crop for r in plan} == {game.WHOLE}
    assert Counter(r.shown for r in plan) == {REAL: 6, COLORIZED: 6} and len({r.photo for r in plan}) == 12


def _blind(strategy: str, position: int, photo: str, names: list[str]) -> str:
    """An answer that never looks at the picture: always real, always colorized, alternating,
    or by the photo's name (a rule learnt by heart from an earlier game)."""
    if strategy == "alternating":
        return REAL if position % 2 == 0 else COLORIZED
    if strategy == "by name":
        return REAL if names.index(photo) % 2 == 0 else COLORIZED
    return strategy


@pytest.mark.parametrize("strategy", [REAL, COLORIZED, "alternating", "by name"])
def test_blind_strategies_score_at_chance_over_many_default_games(strategy):
    """400 default games (the 24 photos, one model, a seed each as "Play again" draws them): a rule
    that never looks at the picture is right about half the time, 0.5 inside the Wilson 95% interval
    of its score. (Two photos and one replayed seed let alternating answers score 8/10.)"""
    names = sorted(game.default_photo_items())
    seeds = np.random.default_rng(2024).integers(2**31, size=400)
    correct = total = 0
    per_game = []
    for seed in seeds:
        plan = game.plan_rounds(names, ["demo"], int(seed))
        right = sum(_blind(strategy, i, r.photo, names) == r.shown for i, r in enumerate(plan))
        correct, total = correct + right, total + len(plan)
        per_game.append(right / len(plan))
    low, high = game.wilson_interval(correct, total)
    assert total == 400 * game.TARGET_ROUNDS
    assert low <= 0.5 <= high, f"{strategy}: {correct}/{total} right, 95% CI {low:.3f}-{high:.3f}"
    assert np.mean(np.array(per_game) >= 0.75) < 0.25, strategy  # no blind rule wins most games


# --- the results file ----------------------------------------------------------------------


def record(i: int = 0, answer: str = REAL, player: str = "ada", **extra) -> dict:
    r = Round(f"photo{i % 3}", "centre", COLORIZED if i % 2 else REAL, "demo" if i % 2 else None)
    return {**game.answer_record(r, answer, seconds=1.5, session="s1", player=player, index=i), **extra}


def test_an_answer_line_has_the_documented_fields_and_reads_back_unchanged(tmp_path):
    path = tmp_path / "class" / "results.jsonl"
    rec = record(1, player="Zoë")
    game.append_answer(path, rec)
    line = path.read_bytes()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert set(game.RECORD_FIELDS) <= set(json.loads(line))
    assert game.read_results(path) == [rec]


def test_appending_never_truncates_an_existing_results_file(tmp_path):
    path = tmp_path / "results.jsonl"
    game.write_results(path, [record(i) for i in range(3)])
    game.append_answer(path, record(3))
    assert [r["round"] for r in game.read_results(path)] == [0, 1, 2, 3]
    with pytest.raises(game.ResultsFileError, match="already exists"):
        game.write_results(path, [record(9)])
    assert len(game.read_results(path)) == 4


def test_a_torn_last_line_is_skipped_with_a_warning_and_the_next_answer_stays_intact(tmp_path):
    path = tmp_path / "results.jsonl"
    game.write_results(path, [record(0), record(1)])
    with open(path, "ab") as f:  # a kernel killed in the middle of a write
        f.write(json.dumps(record(2)).encode()[:25])
    with pytest.warns(UserWarning, match=r"results.jsonl: skipped 1 .*line 3"):
        assert len(game.read_results(path)) == 2
    game.append_answer(path, record(3))
    with pytest.warns(UserWarning, match="line 3"):
        assert [r["round"] for r in game.read_results(path)] == [0, 1, 3]


def test_records_that_are_not_answers_are_refused_on_write(tmp_path):
    with pytest.raises(game.ResultsFileError, match="lacks"):
        game.append_answer(tmp_path / "r.jsonl", {"answer": REAL})
    with pytest.raises(game.ResultsFileError, match="answer='maybe'"):
        game.append_answer(tmp_path / "r.jsonl", record(answer=REAL) | {"answer": "maybe"})
    assert not (tmp_path / "r.jsonl").exists()


LINES_PER_WRITER = 200
WRITERS = 4


def _append_many(path: str, writer: int, start, without_fcntl: bool) -> None:
    """One kernel of a class: waits for the others, then appends its answers as fast as it can."""
    from colorlab import files
    from colorlab import game as g

    if without_fcntl:
        files.fcntl = None  # as on Windows: the lock-file fallback
    start.wait()
    for i in range(LINES_PER_WRITER):
        # every third line is longer than PIPE_BUF (4096 bytes), where plain appends may tear
        player = f"writer{writer}-" + "x" * (5000 if i % 3 == 0 else i)
        g.append_answer(path, record(i, player=player, writer=writer))


@pytest.mark.parametrize("without_fcntl", [False, True], ids=["flock", "lock-file"])
def test_several_processes_appending_at_once_lose_no_line_and_tear_none(tmp_path, without_fcntl):
    path = tmp_path / "class.jsonl"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(WRITERS)
    procs = [ctx.Process(target=_append_many, args=(str(path), w, start, without_fcntl)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * WRITERS
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) - 1 == WRITERS * LINES_PER_WRITER
    parsed = [json.loads(line) for line in lines[:-1]]  # every line is valid JSON on its own
    assert Counter((r["writer"], r["round"]) for r in parsed) == Counter(
        (w, i) for w in range(WRITERS) for i in range(LINES_PER_WRITER)
    )
    assert not path.with_name(".class.jsonl.lock").exists()


def test_a_lock_file_left_behind_gives_a_clear_error_after_the_timeout(tmp_path, monkeypatch):
    path = tmp_path / "class.jsonl"
    path.with_name(".class.jsonl.lock").write_text("")
    monkeypatch.setattr(files, "fcntl", None)
    monkeypatch.setattr(game_store, "LOCK_TIMEOUT_S", 0.05)
    with pytest.raises(game.ResultsFileError, match=r"\.class\.jsonl\.lock: still locked .* delete the lock file"):
        game.append_answer(path, record())


# --- scoring and pooling -----------------------------------------------------------------------


def test_fooled_rate_counts_only_colorized_pictures_answered_real():
    rows = [
        {"shown": COLORIZED, "answer": REAL, "model": "a"},
        {"shown": COLORIZED, "answer": COLORIZED, "model": "a"},
        {"shown": COLORIZED, "answer": REAL, "model": "b"},
        {"shown": REAL, "answer": REAL, "model": None},
        {"shown": REAL, "answer": COLORIZED, "model": None},
    ]
    rows = [dict(r, photo=f"p{i}", player="p", session="s") for i, r in enumerate(rows)]
    s = game.summarize(rows)
    assert (s.fooled.k, s.fooled.n) == (2, 3)
    assert (s.real_called_real.k, s.real_called_real.n) == (1, 2)
    assert s.correct == 2 and s.accuracy == 0.4
    assert {m: (t.k, t.n) for m, t in s.by_model.items()} == {"a": (1, 2), "b": (1, 1)}
    assert "fooled rate (colorized pictures answered 'real'): 2/3 = 67%" in game.format_summary(s)


def test_pooling_a_class_file_reports_each_model_and_players_separately(tmp_path):
    records = game.simulate_class(["china", "flower"], {"regression": 0.2, "classification": 0.6}, players=30, seed=1)
    path = game.write_results(tmp_path / "class.jsonl", records)
    pooled = game.pool_results(path)
    assert pooled == game.summarize(records)
    assert pooled.players == 30 and pooled.answers == len(records)
    reg, cls = pooled.by_model["regression"], pooled.by_model["classification"]
    assert reg.n + cls.n == pooled.fooled.n and abs(reg.n - cls.n) <= 30
    assert reg.rate < cls.rate and reg.interval[1] < cls.interval[0] + 0.2
    assert game.simulate_class(["china", "flower"], {"regression": 0.2}, players=3, seed=1) == game.simulate_class(
        ["china", "flower"], {"regression": 0.2}, players=3, seed=1
    )


def test_pairs_answers_are_pooled_apart_from_single_pictures():
    single = game.simulate_class(["a", "b"], {"demo": 0.3}, players=2)
    pair_round = Round("a", "centre", COLORIZED, "demo", PAIRS, REAL)
    pairs = [game.answer_record(pair_round, REAL, seconds=1, session="x", player="y")]
    s = game.summarize(single + pairs)
    assert s.by_model["demo (pairs)"] == game.Tally(1, 1)
    assert s.by_model["demo"].n == sum(r["shown"] == COLORIZED for r in single)


def test_results_figure_has_the_model_comparison_and_the_pictures_that_fooled_most():
    import matplotlib.pyplot as plt

    records = game.simulate_class(["china", "flower"], {"regression": 0.3, "classification": 0.5}, players=10)
    fig = game.results_figure(records, title="A class")
    try:
        left, right = fig.axes
        assert left.get_title() == "Fooled rate per model" and right.get_title() == "Pictures that fooled most"
        assert left.get_ylabel() and left.get_xlabel() and right.get_xlabel() and right.get_ylabel()
        labels = [t.get_text() for t in left.get_xticklabels()]
        assert labels == ["colorized\nclassification", "colorized\nregression", "real photos\n(called real)"]
        assert "A class" in fig._suptitle.get_text()
    finally:
        plt.close(fig)
    empty = game.results_figure(game.GameSummary())
    plt.close(empty)


# --- the app, by simulated clicks ------------------------------------------------------------------


@pytest.fixture()
def small_photos():
    rng = np.random.default_rng(0)
    return {f"photo{i}": rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for i in range(2)}


def make_app(small_photos, tiny_net, **kwargs):
    from colorlab.game_app import RealOrColorizedApp

    kwargs.setdefault("size", 32)
    kwargs.setdefault("network_size", 32)
    return RealOrColorizedApp(small_photos, {"tiny": tiny_net}, **kwargs)


def test_each_click_records_an_answer_and_moves_to_the_next_round(small_photos, tiny_net, tmp_path):
    results = tmp_path / "class.jsonl"
    app = make_app(small_photos, tiny_net, seed=2, player="ada", results_path=results)
    n = len(app.rounds)
    assert 8 <= n <= 12 and app.position == 0 and not app.finished
    assert "Round 1 of" in app.progress.value and app.image.value
    first = app.current_pictures[0]
    app.real_button.click()
    assert app.position == 1 and "Round 2 of" in app.progress.value
    assert app.records[0]["answer"] == REAL and app.records[0]["shown"] == app.rounds[0].shown
    app.colorized_button.click()
    assert app.records[1]["answer"] == COLORIZED
    assert len(game.read_results(results)) == 2
    assert first.shape == (32, 32, 3)


def test_the_end_shows_the_score_the_fooled_rate_and_a_figure(small_photos, tiny_net, tmp_path):
    results = tmp_path / "class.jsonl"
    app = make_app(small_photos, tiny_net, seed=0, player="ada", results_path=results)
    right_answers = 0
    while not app.finished:  # answer right in odd rounds, "real" otherwise
        truth = app.current.shown
        answer = truth if app.position % 2 else REAL
        right_answers += answer == truth
        app.answer(answer)
    s = app.summary()
    assert s.correct == right_answers and s.answers == len(app.rounds)
    assert f"Your score: {right_answers} of {len(app.rounds)}" in app.summary_html.value
    assert "fooled rate" in app.summary_html.value and "95% CI" in app.summary_html.value
    assert bytes(app.figure.value).startswith(b"\x89PNG")
    assert app.play_box.layout.display == "none" and app.end_box.layout.display is None
    lines = results.read_text().splitlines()
    assert len(lines) == len(app.rounds)
    assert [json.loads(line)["round"] for line in lines] == list(range(len(app.rounds)))
    app.real_button.click()  # a click after the end changes nothing
    assert len(app.records) == len(app.rounds)


def play_through(app, verdict=REAL) -> list:
    """Answer every round; the rounds with the bytes of the picture each one showed."""
    seen = []
    while not app.finished:
        seen.append((app.current, bytes(app.image.value)))
        app.answer(verdict)
    return seen


def test_play_again_deals_a_new_game_as_a_new_session(small_photos, tiny_net, tmp_path):
    results = tmp_path / "class.jsonl"
    app = make_app(small_photos, tiny_net, seed=5, results_path=results)
    assert app.seed == 5 and app.rounds == game.plan_rounds(list(small_photos), ["tiny"], 5)
    seen = play_through(app)
    first_session = app.session
    app.again_button.click()
    assert app.position == 0 and app.records == [] and app.summary_html.value == ""
    assert app.session != first_session and app.play_box.layout.display is None
    assert app.seed != 5 and app.rounds == game.plan_rounds(list(small_photos), ["tiny"], app.seed)
    again = play_through(app, COLORIZED)
    assert [r for r, _ in again] != [r for r, _ in seen]  # a new order, not the game just played
    pooled = game.pool_results(results)
    assert pooled.sessions == 2 and pooled.answers == 2 * len(seen)
    assert {r["seed"] for r in game.read_results(results)} == {5, app.seed}  # each answer names its game
    # The same seed gives the same games, "Play again" included; restart() replays the game on screen.
    twin = make_app(small_photos, tiny_net, seed=5)
    assert play_through(twin) == seen
    twin.play_again()
    assert twin.seed == app.seed and twin.rounds == app.rounds
    twin.answer(REAL)
    twin.restart()
    assert twin.position == 0 and twin.seed == app.seed and twin.rounds == app.rounds


def test_without_a_seed_every_app_and_every_play_again_is_a_fresh_game(small_photos, tiny_net):
    apps = [make_app(small_photos, tiny_net) for _ in range(3)]
    seeds = [a.seed for a in apps]
    for a in apps:
        a.play_again()
        seeds.append(a.seed)
        assert a.rounds == game.plan_rounds(list(small_photos), ["tiny"], a.seed)
    assert len(set(seeds)) == len(seeds)


def test_two_models_share_the_colorized_pictures_and_each_answer_names_its_model(small_photos, tiny_net):
    import torch

    from colorlab.model import build_model

    torch.manual_seed(1)
    other = build_model("none").eval()
    from colorlab.game_app import RealOrColorizedApp

    app = RealOrColorizedApp(
        small_photos, {"regression": tiny_net, "classification": other}, size=32, network_size=32, seed=0
    )
    while not app.finished:
        app.real_button.click()
    models = Counter(r["model"] for r in app.records if r["shown"] == COLORIZED)
    assert set(models) == {"regression", "classification"}
    assert set(app.summary().by_model) == {"regression", "classification"}


def test_pairs_mode_shows_real_and_colorized_side_by_side_and_scores_the_pick(small_photos, tiny_net):
    app = make_app(small_photos, tiny_net, mode=PAIRS, seed=0, max_rounds=4)
    r = app.current
    left, right = app.current_pictures
    real = game.crop_picture(small_photos[r.photo], r.crop, 32)
    assert np.array_equal(left if r.left == REAL else right, real)
    app.left_button.click()  # the left one is real: fooled exactly when the colorized one is on the left
    assert app.records[0]["answer"] == (REAL if r.left == COLORIZED else COLORIZED)
    while not app.finished:
        app.right_button.click()
    assert app.summary().by_model["tiny (pairs)"].n == 4


def test_feedback_says_whether_the_last_answer_was_right(small_photos, tiny_net):
    app = make_app(small_photos, tiny_net, feedback=True)
    truth = app.current
    app.answer(truth.shown)
    assert app.message.value.startswith("right: the last picture was")
    quiet = make_app(small_photos, tiny_net)
    quiet.answer(REAL)
    assert quiet.message.value == ""


def test_an_answer_that_cannot_be_saved_is_reported_and_the_game_goes_on(small_photos, tiny_net, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    app = make_app(small_photos, tiny_net, results_path=blocked / "class.jsonl")
    app.real_button.click()
    assert "answer not saved" in app.message.value and app.position == 1


def test_the_app_takes_its_photos_from_a_folder(tiny_net, tmp_path):
    from colorlab.game_app import RealOrColorizedApp

    for i in range(4):
        Image.fromarray(np.full((40, 60, 3), 60 * i, np.uint8)).save(tmp_path / f"p{i}.png")
    app = RealOrColorizedApp(tmp_path, {"tiny": tiny_net}, size=32, network_size=32)
    assert {r.photo for r in app.rounds} == {f"p{i}.png" for i in range(4)}
    assert len(app.rounds) == game.TARGET_ROUNDS


def test_a_judge_function_plays_the_same_seeded_games_people_get(small_photos, tiny_net):
    judged = []

    def always_real(picture):
        judged.append(picture)
        return REAL

    records = game.play(
        always_real, seeds=[0, 1], photos=small_photos, models={"tiny": tiny_net}, size=32, network_size=32
    )
    plans = [game.plan_rounds(list(small_photos), ["tiny"], s) for s in (0, 1)]
    assert [(r["photo"], r["crop"], r["shown"]) for r in records] == [
        (r.photo, r.crop, r.shown) for plan in plans for r in plan
    ]
    assert all(p.shape == (32, 32, 3) for p in judged)
    s = game.summarize(records)
    assert s.sessions == 2 and s.fooled.rate == 1.0 and s.accuracy == 0.5  # "always real" scores one half
    with pytest.raises(ValueError, match="answer must be one of"):
        game.play(lambda picture: "maybe", photos=small_photos, models={"tiny": tiny_net}, size=32, network_size=32)
    fresh = [
        game.play(always_real, photos=small_photos, models={"tiny": tiny_net}, size=32, network_size=32)
        for _ in range(2)
    ]
    seeds = [{r["seed"] for r in records} for records in fresh]
    assert all(len(s) == 1 for s in seeds) and seeds[0] != seeds[1]  # without seeds: one game, a new seed
    (seed,) = seeds[0]
    assert [r["photo"] for r in fresh[0]] == [r.photo for r in game.plan_rounds(list(small_photos), ["tiny"], seed)]


def test_pool_results_skips_lines_with_odd_values_or_absurd_nesting(tmp_path):
    # issue 27, case 10: '"player": [1]' (TypeError) and one deeply nested line (RecursionError)
    r = Round("chelsea", game.WHOLE, COLORIZED, "demo")
    good = game.answer_record(r, REAL, seconds=1.0, session="s", player="ann")
    path = tmp_path / "results.jsonl"
    lines = [
        json.dumps(good),
        json.dumps({**good, "player": [1]}),
        json.dumps({**good, "session": {"a": 1}}),
        "[" * 100_000 + "]" * 100_000,
        json.dumps({**good, "answer": ["real"]}),
        json.dumps(good),
    ]
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match=r"skipped 4 incomplete or invalid line\(s\) \(line 2, 3, 4, 5\)"):
        summary = game.pool_results(path)
    assert summary.answers == 2 and summary.players == 1
