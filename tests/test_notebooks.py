"""The lessons run top to bottom and produce what they promise.

* papermill runs every notebook with small parameters (output to a temp folder,
  working directory ``notebooks/``), so a broken lesson fails with the cell that broke;
* nbval re-executes the committed notebooks and compares their saved outputs
  (images, progress bars and model-dependent numbers excepted; see
  ``tests/nbval_sanitize.cfg`` and the ``# NBVAL_IGNORE_OUTPUT`` cells).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from notebook_support import LESSONS, NOTEBOOKS, ROOT, SANITIZE, demo_checkpoint, outputs_text  # noqa: F401

pytestmark = pytest.mark.slow

EXPECTED = [
    "01_lab_color_space.ipynb",
    "02_architecture.ipynb",
    "03_training.ipynb",
    "04_results.ipynb",
    "05_live_colorization.ipynb",
    "06_colour_as_classification.ipynb",
    "07_real_or_colorized.ipynb",
    "08_colorizing_film.ipynb",
    "09_you_are_the_artist.ipynb",
]


def scratch_notebooks(out_dir: Path) -> Path:
    """A copy of notebooks/ under ``out_dir``, so that what a lesson writes (``figures/``, ``runs/``)
    lands in the test's folder and never in the repository."""
    import shutil

    work = out_dir / "notebooks"
    if not work.exists():
        shutil.copytree(NOTEBOOKS, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "runs"))
    return work


def run_notebook(name: str, out_dir: Path, **parameters) -> nbformat.NotebookNode:
    """Execute a lesson with papermill in a scratch copy of notebooks/. A lesson writes only inside
    its own folder (issue 26): apart from the executed notebook and paths passed as parameters,
    nothing new may appear beside that folder."""
    import papermill

    output = out_dir / name
    work = scratch_notebooks(out_dir)
    before = set(out_dir.iterdir())
    papermill.execute_notebook(
        str(NOTEBOOKS / name),
        str(output),
        parameters=parameters,
        cwd=str(work),
        kernel_name="python3",
        progress_bar=False,
        execution_timeout=600,
    )
    given = {Path(str(v)) for v in parameters.values() if isinstance(v, (str, os.PathLike))}
    stray = [p for p in set(out_dir.iterdir()) - before - {output} if p not in given]
    assert not stray, f"{name} wrote outside its folder: {sorted(map(str, stray))}"
    return nbformat.read(output, as_version=4)


def test_no_lesson_names_a_path_above_its_folder():
    """Lessons open and run from anywhere (a pip user's ``colorlab lessons DEST``): no ``../``."""
    for name in EXPECTED:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        for i, cell in enumerate(nb.cells):
            assert "../" not in cell.source and "..\\" not in cell.source, (
                f"{name} cell {i} names a path above its folder"
            )


def test_the_lessons_are_there_in_order():
    assert LESSONS == EXPECTED


def test_committed_notebooks_are_executed_with_outputs_and_no_errors():
    for name in EXPECTED:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.get("execution_count") for c in code), f"{name}: has cells that were never run"
        errors = [o for c in code for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{name}: committed with an error output: {errors[0].get('ename')}"
        assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs), f"{name}: no figure"
        assert "Exercises" in nb.cells[-1].source, f"{name}: should end with exercises"


def test_every_lesson_states_goals_time_and_prerequisites_and_ends_with_summary_terms_and_questions():
    import re

    for name in EXPECTED:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        for part in ("Goals", "Time", "Prerequisites", "Summary", "Key terms", "Questions", "Exercises"):
            assert re.search(rf"^#+ .*{part}|\*\*{part}", text, re.M | re.I), f"{name}: no '{part}' section"


def test_committed_outputs_hold_no_machine_specific_paths():
    for name in EXPECTED:
        text = outputs_text(nbformat.read(NOTEBOOKS / name, as_version=4))
        for marker in ("/work/", "/tmp/", "/root/", "/home/"):
            assert marker not in text, f"{name}: output mentions {marker}"


def test_lesson_1_lab_round_trip_is_lossless(tmp_path, demo_checkpoint):
    import re

    nb = run_notebook("01_lab_color_space.ipynb", tmp_path, photo_name="chelsea", picker_L=50.0)
    text = outputs_text(nb)
    assert "largest round-trip error (0-255 units): 0" in text
    assert "agrees with skimage.color.rgb2lab to 1e-3 Lab units: True" in text
    # the lesson's own numpy conversion matches the library and scikit-image, and passes its check
    assert "my numpy agrees with colorlab.color to 1e-3 Lab units: True" in text
    assert "my numpy agrees with skimage.color.rgb2lab to 1e-3 Lab units: True" in text
    assert "right: matches colorlab.color.rgb_to_lab" in text
    assert "chelsea: (300, 451, 3) uint8 -> Lab (300, 451, 3)" in text  # the photo parameter is used
    # Lab's distance ranks colour pairs most like CIEDE2000
    scores = {
        m[0].strip(): float(m[1])
        for m in re.findall(r"^(.+?)\s+rank correlation with CIEDE2000: ([\d.]+)$", text, re.M)
    }
    assert set(scores) == {"sRGB", "YCbCr", "HSV", "Lab (ΔE76)"} and max(scores, key=scores.get) == "Lab (ΔE76)"
    # the gray baseline: the retina is the farthest from its gray and the most colourful, not "close to gray"
    assert "gray-baseline PSNR" in text
    table = {
        m[0]: (float(m[1]), float(m[2])) for m in re.findall(r"^(\w+)\s+([\d.]+)\s+([\d.]+)\s+[\d.]+$", text, re.M)
    }
    assert min(table, key=lambda n: table[n][0]) == "retina" and max(table, key=lambda n: table[n][1]) == "retina"
    assert max(table, key=lambda n: table[n][0]) == "hubble_deep_field"
    # every exercise check answers the placeholder with "not yet", none raises
    assert text.count("not yet: ") == 5 and "Traceback" not in text


def test_lesson_2_counts_stages_and_recognises_the_gray_cat(tmp_path, demo_checkpoint):
    import re

    nb = run_notebook("02_architecture.ipynb", tmp_path)
    text = outputs_text(nb)
    assert "chelsea (grayscale)  top-5: Egyptian cat" in text
    assert "coffee (grayscale)   top-5: espresso" in text
    assert "(1, 256, 28, 28)" in text and "GFLOPs" in text
    assert "ab output  (1, 2, 224, 224)" in text
    # the parameter table computed from the model: the fusion holds 4.9%, the encoder most
    shares = {
        m[0]: float(m[1])
        for m in re.findall(r"^(encoder|extractor|fusion|decoder)\s+[\d,]+\s+[\d,]+\s+([\d.]+)%", text, re.M)
    }
    assert shares["fusion"] == 4.9 and shares["encoder"] > 85 and shares["extractor"] == 0.0
    # the receptive field by formula and by backpropagation, FLOPs by formula and by counter
    assert re.search(r"conv 3x3 -> 256\s+3\s+1\s+8\s+75$", text, re.M)
    assert "the centre cell depends on 75 x 75 input pixels" in text
    by_hand, counted = re.search(r"([\d.]+) GFLOPs by equation \(3\), ([\d.]+) GFLOPs counted", text).groups()
    assert by_hand == counted
    # the reasons, checked: frozen extractor, fusion = local part + per-photo bias, sRGB inside tanh's range
    assert "extractor weights frozen: True | extractor in training mode after model.train(): False" in text
    assert "equation (5) gives the same as model.fusion: True" in text
    scaled = [float(v) for pair in re.findall(r"scaled by 128: ([+-][\d.]+) to ([+-][\d.]+)", text) for v in pair]
    assert len(scaled) == 4 and all(-1 < v < 1 for v in scaled)
    assert text.count("not yet: ") == 4 and "Traceback" not in text


def test_lessons_1_and_2_give_every_exercise_a_hint_and_a_solution_and_half_a_check():
    import re

    for name in ("01_lab_color_space.ipynb", "02_architecture.ipynb"):
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        heading = re.compile(r"^## Exercises", re.M)
        start = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and heading.search(c.source))
        exercises: list[dict[str, str]] = []
        for i, cell in enumerate(nb.cells[start:]):
            if cell.cell_type == "markdown":
                source = cell.source[heading.search(cell.source).start() :] if i == 0 else cell.source
                for part in re.split(r"^(?=### Exercise)", source, flags=re.M):
                    if part.startswith("### Exercise"):
                        exercises.append({"text": part, "check": ""})
            elif exercises:
                exercises[-1]["check"] += cell.source
        assert len(exercises) >= 4, f"{name}: {len(exercises)} exercises"
        for ex in exercises:
            title = ex["text"].splitlines()[0]
            assert "<summary>Hint</summary>" in ex["text"] and "<summary>Solution</summary>" in ex["text"], (
                f"{name}: {title}"
            )
        checked = [ex for ex in exercises if re.search(r"lesson[12]\.check_\w+\(my_\w+\)", ex["check"])]
        assert 2 * len(checked) >= len(exercises), (
            f"{name}: only {len(checked)} of {len(exercises)} exercises have a check"
        )


def test_lesson_1_shows_a_static_picture_after_the_colour_picker():
    nb = nbformat.read(NOTEBOOKS / "01_lab_color_space.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    widget = next(i for i, c in enumerate(code) if "ab_picker(L=" in c.source)
    assert any("image/png" in o.get("data", {}) for o in code[widget + 1].outputs)


def test_lesson_3_overfits_one_photo_then_trains_by_hand_as_fit_does_and_saves_a_loadable_checkpoint(
    tmp_path, demo_checkpoint
):
    import re

    from colorlab.infer import load_model

    checkpoint = tmp_path / "lesson3.pt"
    nb = run_notebook(
        "03_training.ipynb",
        tmp_path,
        overfit_size=32,
        overfit_steps=20,
        epochs=1,
        repeats=1,
        batch_size=5,
        image_size=32,
        output_path=str(checkpoint),
    )
    text = outputs_text(nb)
    # overfitting one photo beats the gray answer within the steps it was given
    before, after = map(float, re.search(r"RMS ab error: before ([\d.]+), after ([\d.]+) Lab units", text).groups())
    assert after < before
    # the hand-written loop and colorlab.train.fit are the same loop: the same losses
    assert "colorlab.train.fit reproduces the hand-written loop's losses (to 1e-6): True" in text
    assert "validation: 2 held-out photos" in text
    # the trainer wrote the checkpoint, refuses to replace it unasked, and it loads
    assert "refused:" in text and "already exists" in text and "overwrite=True" in text
    assert checkpoint.is_file()
    assert "checkpoint exists: True" in text
    assert "epochs: 1 | steps: 2" in text
    model = load_model(checkpoint, "cpu")
    assert model.config.backbone == "efficientnet_lite0"


def test_lesson_4_leads_with_held_out_photos_labels_the_seen_ones_and_writes_the_metrics_and_figure(
    tmp_path, demo_checkpoint
):
    metrics = tmp_path / "metrics.json"
    figure = scratch_notebooks(tmp_path) / "figures" / "before_after.png"
    figure.unlink()
    nb = run_notebook(
        "04_results.ipynb",
        tmp_path,
        checkpoint=str(demo_checkpoint),
        eval_size=64,
        network_size=64,
        metrics_path=str(metrics),
        race_steps=2,
    )
    result = json.loads(metrics.read_text())
    from colorlab.samples import SAMPLE_PHOTOS
    from colorlab.splits import heldout_images

    held = set(heldout_images())
    assert held == {"china", "flower"}
    # held-out and seen-in-training photos are scored apart, and together they are all the bundled photos
    assert set(result["heldout"]["per_image"]) == held
    assert set(result["seen_in_training"]["per_image"]) == {p.name for p in SAMPLE_PHOTOS} - held
    for part in ("heldout", "seen_in_training"):
        assert result[part]["size"] == 64
        for key in ("model_psnr", "gray_psnr", "model_ssim", "gray_ssim", "model_colorfulness", "true_colorfulness"):
            assert key in result[part]["mean"]
    text = outputs_text(nb)
    assert "PSNR (dB)" in text and "the gray baseline" in text
    assert "mean PSNR gain over gray, held out" in text and "mean PSNR gain over gray, seen in training" in text
    # the toy: MSE paints the mean, L1 the median, bins the mode (deterministic numbers)
    assert "MSE                  a   +4.4  b  +45.1" in text
    # the worst cases say which of them were held out
    assert "worst three:" in text and "held out among them:" in text
    # section 7: the race between the two architectures on the same batches, and the shipped pair
    assert "paper net  trains" in text and "U-Net      trains" in text
    assert text.count("held out: PSNR gain over gray") == 2
    markdown = "\n".join(
        str(o.get("data", {}).get("text/markdown", "")) for c in nb.cells for o in c.get("outputs", [])
    )
    assert "After 2 steps on ten photos the U-Net gains" in markdown
    # the held-out figure (the README's picture) is written beside the lesson it ran as, here a scratch copy
    assert figure.is_file()


@pytest.fixture()
def bins_checkpoint(tmp_path):
    """A small untrained classification-head checkpoint (no ImageNet extractor): a second model for the lessons."""
    import torch

    from colorlab.checkpoint import save_checkpoint
    from colorlab.model import build_model

    torch.manual_seed(0)
    return save_checkpoint(tmp_path / "tiny_bins.pt", build_model("none", pretrained=False, head="classification"))


def test_lesson_5_builds_the_app_compares_the_models_and_reports_bad_files(tmp_path, demo_checkpoint, bins_checkpoint):
    nb = run_notebook("05_live_colorization.ipynb", tmp_path, checkpoints={"tiny bins": str(bins_checkpoint)})
    text = outputs_text(nb)
    # a second model given as a parameter joins the demo model(s) in the comparison
    assert "models compared: U-Net (default)" in text and text.split("models compared:")[1].split("\n")[0].endswith(
        "tiny bins"
    )
    assert "chelsea  Egyptian cat" in text and "coffee   espresso" in text  # the extractor's top guesses
    assert "chelsea (300, 451) -> the network sees (224, 336)" in text
    assert "a 200x1500 photo -> the network sees (136, 1024)" in text
    assert "input (300, 451, 3) -> result (300, 451, 3)" in text
    assert "saturation 1.8" in text
    assert "notes.txt: not an image" in text and "result: None | download link: ''" in text
    # the app at the top is never changed by the cells below it: Run All leaves it working
    app_cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.rstrip().endswith("\napp"))
    later = nb.cells[nb.cells.index(app_cell) + 1 :]
    assert not any("app." in c.source.replace("app.figure()", "") for c in later if c.cell_type == "code")

    # a static picture wherever a widget is the output: the app's own picture comes right after it
    def has_figure(cell):
        return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))

    assert has_figure(next(c for c in later if c.cell_type == "code"))
    assert sum(map(has_figure, nb.cells)) >= 4
    assert "Traceback" not in text


def test_lesson_6_builds_trains_and_compares_the_classification_head(tmp_path, demo_checkpoint):
    import re

    from colorlab.checkpoint import load_model

    checkpoint = tmp_path / "06_head.pt"
    nb = run_notebook(
        "06_colour_as_classification.ipynb",
        tmp_path,
        image_size=32,
        repeats=1,
        epochs=1,
        batch_size=5,
        output_path=str(checkpoint),
    )
    text = outputs_text(nb)
    # the toy: MSE learns the dull mean; the bins decode to it at T = 1 and to the red mode as T -> 0
    assert "learned (a, b) = (15.9, 44.2); chroma 47, while red has 72 and green 71" in text
    assert re.search(r"T = 1 +\(a, b\) = \( 15\.9, +44\.1\) +chroma +47", text)
    assert re.search(r"T = 0\.05 +\(a, b\) = \( 60\.0, +40\.0\) +chroma +72", text)
    assert "Q = 261" in text and "sum of the weights: 1.0" in text
    assert "a 32x32 gray input -> logits (1, 261, 16, 16) -> ab (1, 2, 32, 32)" in text
    # the head trained here was saved, and loads as a classification model
    assert checkpoint.is_file() and load_model(checkpoint, "cpu").config.head == "classification"
    assert "epoch 1: rebalanced cross-entropy" in text
    # both heads and the baseline are scored on the held-out photos
    rows = dict(
        re.findall(r"^(gray baseline|regression \(demo\)|classification \([^)]*\)|truth)\s+([\d. ]+)$", text, re.M)
    )
    assert {"gray baseline", "regression (demo)", "truth"} <= set(rows) and any(
        r.startswith("classification") for r in rows
    )
    # the painters: the dull mean has the lowest squared error, the painter as colourful as the truth the highest
    errors = [int(e) for e in re.findall(r"^(?:the mean|always red|red or green).*\s(\d+)$", text, re.M)]
    assert len(errors) == 3 and errors[0] < errors[1] < errors[2]
    assert "Traceback" not in text


def test_lesson_7_plays_the_game_by_bot_and_pools_a_simulated_class_per_model(tmp_path, demo_checkpoint):
    from colorlab import game

    answers = tmp_path / "answers.jsonl"
    klass = tmp_path / "class.jsonl"
    nb = run_notebook(
        "07_real_or_colorized.ipynb",
        tmp_path,
        results_path=str(answers),
        class_players=6,
        class_results_path=str(klass),
    )
    text = outputs_text(nb)
    # the bot played six seeded games of 12 rounds through the same plan people get
    assert text.count("colorized photo: [") == 6 and "answers: 72 from 1 player(s) in 6 game(s)" in text
    assert "Wilson 95%: 11.8% - 76.9%" in text  # 2 of 5
    # the simulated class was written, pooled, and compared per model
    pooled = game.pool_results(klass)
    assert pooled.players == 6 and set(pooled.by_model) == {"regression", "classification"}
    assert "model classification: fooled" in text and "model regression: fooled" in text
    # nobody clicked: the lesson wrote no answers of its own, and says so
    assert not answers.exists() and "no answers yet" in text


def test_lesson_8_smooths_the_film_without_blending_across_the_cut(tmp_path, demo_checkpoint):
    import re

    from colorlab import video

    runs = tmp_path / "lesson8_runs"
    nb = run_notebook(
        "08_colorizing_film.ipynb",
        tmp_path,
        clip_seconds=1.5,
        clip_fps=12,
        clip_width=160,
        clip_height=120,
        runs_dir=str(runs),
    )
    text = outputs_text(nb)
    assert "cuts at frames: [9]" in text
    assert "the frame after the cut is its own raw prediction: True" in text
    table = {
        m[0]: (float(m[1]), float(m[2])) for m in re.findall(r"^(raw|smoothed)\s+([\d.]+)\s+([\d.]+)$", text, re.M)
    }
    assert table["smoothed"][0] < table["raw"][0]  # less flicker
    assert table["smoothed"][1] > table["raw"][1] - 1.0  # at (almost) no cost in PSNR
    assert "frames: 18 | cuts: [9] | audio: copied (aac)" in text
    assert video.probe(runs / "lesson8_demo_color.mp4").frames == 18
    assert "anything written under the output name? False" in text
    assert "Traceback" not in text


def test_committed_notebooks_reproduce_their_outputs_under_nbval(demo_checkpoint, tmp_path):
    """`pytest --nbval` over a copy of notebooks/, in a subprocess so it is part of the one test command."""
    work = scratch_notebooks(tmp_path)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--nbval",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        str(SANITIZE),
        "--nbval-cell-timeout=600",
        "-p",
        "no:cacheprovider",
        "-q",
        "-o",
        "addopts=",
        str(work),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, f"nbval failed:\n{proc.stdout[-8000:]}\n{proc.stderr[-2000:]}"


def test_lesson_9_measures_the_hint_curve_and_a_single_hint_fixes_the_trousers(tmp_path, demo_checkpoint):
    """Papermill run with two photos and two hint counts: the table has all three ways, colorize leads."""
    import re

    nb = run_notebook("09_you_are_the_artist.ipynb", tmp_path, n_photos=2, counts=[0, 5], seed=1)
    text = outputs_text(nb)
    rows = {int(m[0]): m[1:] for m in re.findall(r"^\s+(\d+)\s+([+-][\d.]+)\s+([+-][\d.]+)\s+(\S+)$", text, re.M)}
    assert set(rows) == {0, 5}, text[-2000:]
    assert rows[0][0] == rows[0][1] and rows[0][2] == "-"  # no hints: nothing to spread
    assert float(rows[5][0]) > float(rows[5][1])  # the spread beats the network alone
    assert "Traceback" not in text
