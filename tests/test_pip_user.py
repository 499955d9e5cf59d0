"""What a pip user gets without a clone (issue 26): the lessons by command, bundled splits by name,
evaluate saying which photos trained the demo models, and a PyPI page without relative links.

The installed-wheel side of each (the lessons inside the wheel, a real resolved install running
lesson 1 from the folder `colorlab lessons` made) is in tests/test_wheel.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from colorlab import resources
from colorlab.cli import main
from colorlab.lessons import RECORD, copy_lessons

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: Hosts a PyPI page may link to: places known to exist. The project's own repository is not one
#: until someone has verified it (README.pypi.md says so).
KNOWN_HOSTS = {"arxiv.org", "doi.org", "pypi.org", "download.pytorch.org"}


# --- colorlab lessons ------------------------------------------------------------------


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_lessons_copies_every_notebook_its_readme_and_figures(tmp_path, capsys):
    dest = tmp_path / "my lessons"
    assert main(["lessons", str(dest)]) == 0
    out = capsys.readouterr().out
    copied = _listing(dest)
    shipped = {p.as_posix() for p in resources.lesson_files()}
    assert set(copied) == shipped | {RECORD}
    lessons = {p.name for p in (ROOT / "notebooks").glob("0*.ipynb")}
    assert len(lessons) >= 9 and lessons == {n for n in copied if n.endswith(".ipynb")}
    assert "README.md" in copied and "figures/before_after.png" in copied
    assert copied["01_lab_color_space.ipynb"] == (ROOT / "notebooks" / "01_lab_color_space.ipynb").read_bytes()
    assert f"jupyter lab {dest}" in out and f"{len(shipped)} copied" in out


def test_lessons_again_leaves_identical_copies_and_refuses_to_replace_a_changed_one(tmp_path, capsys):
    dest = tmp_path / "lessons"
    copy_lessons(dest)
    assert main(["lessons", str(dest)]) == 0
    assert "already up to date" in capsys.readouterr().out
    mine = dest / "01_lab_color_space.ipynb"
    mine.write_text('{"my": "answers"}')
    before = _listing(dest)
    assert main(["lessons", str(dest)]) == 2
    err = capsys.readouterr().err
    assert str(mine) in err and "--overwrite" in err
    assert _listing(dest) == before  # nothing written, not even the other files
    assert main(["lessons", str(dest), "--overwrite"]) == 0  # a lesson colorlab copied there: replaced on request
    assert mine.read_bytes() == (resources.lessons_dir() / mine.name).read_bytes()


def test_lessons_never_replaces_a_file_it_did_not_put_there(tmp_path, capsys):
    dest = tmp_path / "lessons"
    dest.mkdir()
    (dest / "README.md").write_text("my own notes\n")
    for flags in ([], ["--overwrite"]):
        assert main(["lessons", str(dest), *flags]) == 2
        assert "README.md" in capsys.readouterr().err
        assert (dest / "README.md").read_text() == "my own notes\n"
        assert not (dest / "01_lab_color_space.ipynb").exists()


def test_lessons_brings_an_unchanged_copy_of_an_older_version_up_to_date(tmp_path):
    dest = tmp_path / "lessons"
    copy_lessons(dest)
    old = dest / "02_architecture.ipynb"
    old.write_text('{"an": "older lesson"}')
    record = json.loads((dest / RECORD).read_text())
    record["files"][old.name] = __import__("hashlib").sha256(old.read_bytes()).hexdigest()
    (dest / RECORD).write_text(json.dumps(record))  # as an older colorlab would have recorded it
    done = copy_lessons(dest)
    assert done.updated == [old.name] and not done.copied
    assert old.read_bytes() == (resources.lessons_dir() / old.name).read_bytes()


def test_lessons_into_a_file_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    assert main(["lessons", str(tmp_path / "f")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_the_shipped_lesson_patterns_are_pyprojects():
    setuptools = PYPROJECT["tool"]["setuptools"]
    assert setuptools["package-dir"]["colorlab._lessons"] == "notebooks"
    assert tuple(setuptools["package-data"]["colorlab._lessons"]) == resources.LESSON_PATTERNS
    assert resources.lessons_dir().resolve() == (ROOT / "notebooks").resolve()  # a checkout


# --- bundled splits by name; evaluate marks the demo models' training photos -----------


@pytest.mark.parametrize("name", ["imagenet-sample", "imagenet-sample.csv", "photo-mix"])
def test_a_bundled_split_is_found_by_name(name):
    path = resources.find_split(name)
    assert path.is_file() and path.parent == resources.data_dir() / "splits"


def test_a_split_path_still_works_and_an_unknown_name_lists_the_bundled_ones(tmp_path, capsys):
    mine = tmp_path / "mine.csv"
    mine.write_text("split,name,sha256\nheldout,sample:china,\n")
    assert resources.find_split(mine) == mine
    assert main(["evaluate", "--data", str(tmp_path), "--split", "imagenet-sampel"]) == 2
    err = capsys.readouterr().err
    assert "imagenet-sample" in err and "photo-mix" in err


def test_evaluate_split_by_name_reads_the_bundled_split(tmp_path, capsys):
    # An empty folder is not the ImageNet sample: the bundled split was found and read, and says so.
    assert main(["evaluate", "--data", str(tmp_path), "--split", "imagenet-sample"]) == 2
    assert "photo(s) of the split are missing" in capsys.readouterr().err


@pytest.mark.parametrize("cmd", ["evaluate", "train", "prepare"])
def test_split_help_names_the_bundled_splits(cmd, capsys):
    with pytest.raises(SystemExit):
        main([cmd, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "imagenet-sample" in out and "photo-mix" in out


def test_demo_training_photos_by_name_and_by_checksum(tmp_path, monkeypatch):
    from colorlab.cli_train import demo_training_photos
    from colorlab.splits import sha256_of

    seen, unseen = tmp_path / "seen.png", tmp_path / "unseen.png"
    seen.write_bytes(b"a photo a demo model trained on")
    unseen.write_bytes(b"a photo of yours")
    splits = tmp_path / "splits"
    splits.mkdir()
    for name in resources.BUNDLED_SPLITS:
        (splits / f"{name}.csv").write_text(
            f"split,name,sha256\ntrain,x/any-name.jpg,{sha256_of(seen)}\ntrain,sample:raccoon,\nheldout,sample:china,\n"
        )
    monkeypatch.setattr(resources, "split_path", lambda name: splits / name)
    items = {"raccoon": "sample:raccoon", "china": "sample:china", "a": seen, "b": unseen, "gone": tmp_path / "no"}
    assert demo_training_photos(items) == ["raccoon", "a"]


def test_the_real_splits_say_ten_of_the_twelve_bundled_photos_trained_the_demo_models():
    from colorlab.cli_train import demo_training_photos
    from colorlab.samples import SAMPLE_PHOTOS, SAMPLE_PREFIX

    items = {p.name: SAMPLE_PREFIX + p.name for p in SAMPLE_PHOTOS}
    assert len(items) == 12
    assert set(items) - set(demo_training_photos(items)) == {"china", "flower"}


def test_evaluate_on_sample_photos_marks_the_training_ones_and_counts_the_held_out(tiny_checkpoint, capsys):
    args = ["evaluate", "--data", "sample", "--only", "coffee,china", "--checkpoint", str(tiny_checkpoint)]
    assert main([*args, "--size", "32"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].split()[:2] == ["coffee", "*"] and out.splitlines()[2].split()[1] != "*"
    assert "held out: 1 of 2 photos; the other 1 (marked *) trained a shipped demo model" in out
    assert main([*args, "--size", "32", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["demo_trained"] == ["coffee"]


def _result(names: list[str], trained: list[str] | None) -> dict:
    row = dict(model_psnr=22.0, gray_psnr=20.0, model_ssim=0.9, gray_ssim=0.8, model_colorfulness=20.0)
    per = {n: {**row, "true_colorfulness": 40.0} for n in names}
    mean = {**row, "gray_colorfulness": 0.0, "true_colorfulness": 40.0}
    result = {"per_image": per, "mean": mean, "n": len(names), "size": 64, "failed": {}, "skipped": []}
    if trained is not None:
        result["demo_trained"] = trained
    return result


def test_the_evaluate_table_marks_training_photos_and_says_how_many_were_held_out():
    from colorlab.metrics import format_table

    text = format_table(_result(["raccoon", "china", "flower"], ["raccoon"]), worst=3)
    lines = text.splitlines()
    assert lines[1].split()[:2] == ["raccoon", "*"] and lines[2].split()[0] == "china" and "*" not in lines[2]
    assert "held out: 2 of 3 photos; the other 1 (marked *) trained a shipped demo model" in text
    assert "held out: all 2 photos" in format_table(_result(["a", "b"], []))
    assert "held out" not in format_table(_result(["a", "b"], None))  # the library's own evaluate(): unchanged


# --- the PyPI page ---------------------------------------------------------------------

_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)")  # [text](target), ![alt](target)
_REF = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)  # [label]: target
_HTML = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)""", re.I)


def link_problems(markdown: str) -> list[str]:
    """The links and images of a Markdown text that a PyPI page would break or that point at a place
    not known to exist: relative targets, and absolute ones on hosts outside :data:`KNOWN_HOSTS`."""
    problems = []
    for target in _LINK.findall(markdown) + _REF.findall(markdown) + _HTML.findall(markdown):
        match = re.match(r"https://([^/]+)", target)
        if not match:
            problems.append(f"relative link or image: {target}")
        elif match.group(1) not in KNOWN_HOSTS:
            problems.append(f"link to a place not known to exist: {target}")
    return problems


def test_the_link_checker_catches_relative_links_images_and_unknown_places():
    planted = (
        "![a](notebooks/figures/before_after.png) [b](LICENSE) <img src='x.png'>\n[c]: data/README.md\n"
        "[d](https://mybinder.org/v2/gh/colorlab/colorlab) [e](https://arxiv.org/abs/1712.03400)"
    )
    assert len(link_problems(planted)) == 5
    assert link_problems((ROOT / "README.md").read_text(encoding="utf-8"))  # why README.md is not the page


def test_the_pypi_description_has_no_relative_links_and_says_how_to_get_the_lessons():
    readme = PYPROJECT["project"]["readme"]
    assert readme["content-type"] == "text/markdown"
    text = (ROOT / readme["file"]).read_text(encoding="utf-8")
    assert link_problems(text) == []
    assert "colorlab lessons ~/colorlab-lessons" in text and 'pip install "colorlab-koala[lessons]"' in text
    assert "not yet been verified" in text  # the repository, named without a link


def test_the_readme_pip_path_copies_the_lessons_and_both_pages_state_one_install_size():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pypi = (ROOT / "README.pypi.md").read_text(encoding="utf-8")
    assert "colorlab lessons ~/colorlab-lessons" in readme
    assert "open a notebook from `notebooks/`" not in readme
    sizes = [re.findall(r"lessons\s+install\s+is\s+(?:then\s+)?about\s+([\d.]+ GB)", text) for text in (readme, pypi)]
    assert sizes[0] and sizes[0] == sizes[1], sizes
