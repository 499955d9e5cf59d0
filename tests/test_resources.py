"""colorlab.resources finds the shipped files, in a checkout here (tests/test_wheel.py: in an install)."""

from __future__ import annotations

from pathlib import Path

from colorlab import resources
from colorlab.checkpoint import PRETRAINED_NAME, pretrained_path
from colorlab.samples import PHOTOS_DIR

ROOT = Path(__file__).resolve().parents[1]


def test_the_data_folder_holds_its_readme_and_the_demo_model():
    assert (resources.data_dir() / "README.md").is_file()
    assert resources.model_path(PRETRAINED_NAME).is_file()


def test_model_photo_and_split_paths_live_in_the_data_folder():
    root = resources.data_dir()
    assert resources.model_path("x.pt") == root / "x.pt"
    assert resources.photo_path("raccoon.jpg") == root / "photos" / "raccoon.jpg"
    assert resources.split_path("val.csv") == root / "splits" / "val.csv"
    assert resources.photo_path("raccoon.jpg").is_file() and PHOTOS_DIR == root / "photos"


def test_a_checkout_uses_the_top_level_data_folder():
    assert resources.data_dir().resolve() == (ROOT / "data").resolve()


def test_the_demo_model_comes_from_the_library_unless_colorlab_pretrained_says_otherwise(monkeypatch, tmp_path):
    monkeypatch.delenv("COLORLAB_PRETRAINED", raising=False)
    assert pretrained_path() == resources.model_path(PRETRAINED_NAME)
    monkeypatch.setenv("COLORLAB_PRETRAINED", str(tmp_path / "mine.pt"))
    assert pretrained_path() == tmp_path / "mine.pt"
