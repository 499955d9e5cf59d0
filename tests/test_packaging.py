"""The project's metadata agrees with itself: packages, extras, Binder, version, licence, citation."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import colorlab

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
DIST_NAME = PROJECT["name"]


def _requirements(lines: list[str]) -> dict[str, Requirement]:
    reqs = [Requirement(line) for line in lines]
    return {canonicalize_name(r.name): r for r in reqs if canonicalize_name(r.name) != canonicalize_name(DIST_NAME)}


def test_the_distribution_name_is_not_the_unrelated_colorlab_on_pypi():
    assert canonicalize_name(DIST_NAME) != "colorlab"
    assert PROJECT["scripts"] == {"colorlab": "colorlab.cli:main"}


#: The top-level folders whose files travel inside the package (package-dir in pyproject.toml).
MAPPED = {"colorlab._data": "data", "colorlab._lessons": "notebooks"}


def _shipped_folders(package: str, folder: str) -> set[str]:
    """``package`` and the dotted names of its subfolders that hold a file its package-data ships."""
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"][package]
    root = ROOT / folder
    files = [p.relative_to(root) for p in root.rglob("*") if p.is_file()]
    shipped = [f for f in files if any(f.match(pattern) for pattern in patterns)]
    return {package} | {".".join((package, *f.parent.parts)) for f in shipped if f.parent.parts}


def test_every_colorlab_subpackage_is_packaged():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "colorlab").rglob("__init__.py")}
    missing = sorted(on_disk - listed)
    assert not missing, f"pyproject.toml: add {missing} to [tool.setuptools] packages, or the wheel leaves them out"
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == MAPPED
    data_folders = set().union(*(_shipped_folders(p, f) for p, f in MAPPED.items()))
    assert listed - on_disk == data_folders


def test_every_folder_of_shipped_files_is_a_listed_package():
    # setuptools treats each folder as a package: one holding shipped files but not listed in
    # `packages` makes the build warn "absent from the `packages` configuration" (issue 26).
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    for package, folder in MAPPED.items():
        missing = sorted(_shipped_folders(package, folder) - listed)
        assert not missing, f"pyproject.toml: add {missing} to [tool.setuptools] packages ({folder}/ ships files there)"


def test_the_shipped_data_patterns_cover_every_file_in_data():
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["colorlab._data"]
    files = [p.relative_to(ROOT / "data") for p in (ROOT / "data").rglob("*") if p.is_file()]
    uncovered = [f.as_posix() for f in files if not any(f.match(pattern) for pattern in patterns)]
    assert not uncovered, f"data/ files no install would carry: {uncovered}; add a pattern to package-data"


def test_binder_installs_the_core_and_lessons_dependencies_with_the_same_ranges():
    wanted = _requirements(PROJECT["dependencies"] + PROJECT["optional-dependencies"]["lessons"])
    lines = (ROOT / "binder" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    binder = _requirements([line for line in lines if line.strip() and not line.lstrip().startswith(("#", "-"))])
    assert {n: str(r.specifier) for n, r in binder.items()} == {n: str(r.specifier) for n, r in wanted.items()}
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines


def test_extras_separate_the_library_the_lessons_and_development():
    core = _requirements(PROJECT["dependencies"])
    extras = PROJECT["optional-dependencies"]
    lessons = _requirements(extras["lessons"])
    assert not {"ipywidgets", "jupyterlab", "pytest", "playwright"} & set(core)
    assert {"jupyterlab", "ipywidgets", "ipykernel"} <= set(lessons)
    assert f"{DIST_NAME}[lessons]" in extras["dev"]
    assert {"pytest", "nbval", "papermill", "playwright", "setuptools"} <= set(_requirements(extras["dev"]))


def test_the_library_and_command_line_import_without_notebook_packages():
    code = (
        "import sys\n"
        "for name in ('ipywidgets', 'IPython', 'jupyterlab', 'ipykernel'):\n"
        "    sys.modules[name] = None\n"
        "import colorlab.cli, colorlab.infer, colorlab.train, colorlab.metrics, colorlab.cache, colorlab.viz\n"
        "colorlab.cli.build_parser()\n"
        "try:\n"
        "    import colorlab.widgets\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert f"pip install '{DIST_NAME}[lessons]'" in out


def test_the_version_is_written_once_and_the_changelog_has_it():
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "colorlab.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", colorlab.__version__)
    first = re.search(r"^## \[(.+?)\]", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M)
    assert first and first.group(1) == colorlab.__version__
    assert "version" not in yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def test_the_licence_is_mit_in_spdx_form_with_its_text_shipped():
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text
    assert not [c for c in PROJECT["classifiers"] if c.startswith("License ::")]  # superseded by the SPDX string


def test_python_classifiers_name_the_version_the_tests_run_on():
    versions = {
        c.rsplit(" :: ", 1)[1]
        for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    binder = (ROOT / "binder" / "runtime.txt").read_text(encoding="utf-8").strip().removeprefix("python-")
    assert here in versions, f"tests run on Python {here}, which the classifiers do not list ({sorted(versions)})"
    assert binder in versions
    assert minimum_listed(versions) == PROJECT["requires-python"].removeprefix(">="), (
        "the oldest Python the classifiers name is the one requires-python allows"
    )
    minimum = PROJECT["requires-python"].removeprefix(">=")
    assert all(tuple(map(int, v.split("."))) >= tuple(map(int, minimum.split("."))) for v in versions)


def minimum_listed(versions: set[str]) -> str:
    return min(versions, key=lambda v: tuple(map(int, v.split("."))))


def test_the_citation_file_cites_colorlab_the_paper_and_the_seed_article():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert cff["title"].startswith("colorlab") and cff["license"] == PROJECT["license"]
    refs = {r["title"]: r for r in cff["references"]}
    paper = refs["Deep Koalarization: Image Colorization using CNNs and Inception-ResNet-v2"]
    assert paper["doi"] == "10.48550/arXiv.1712.03400" and paper["year"] == 2017
    assert [a["family-names"] for a in paper["authors"]] == ["Baldassarre", "González Morín", "Rodés-Guirao"]
    seed = refs["Automatic Image Colorization using Deep Learning"]
    assert [a["family-names"] for a in seed["authors"]] == ["Pandey", "Sahay", "Jayavarthini"]


@pytest.mark.parametrize(
    "badge",
    [
        "mybinder.org/v2/gh/colorlab/colorlab",
        "colab.research.google.com/github/colorlab/colorlab/blob/main/notebooks/01_lab_color_space.ipynb",
    ],
)
def test_the_readme_links_binder_and_colab(badge):
    assert badge in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_says_how_to_install_for_the_lessons_and_with_cpu_only_torch():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "colorlab lessons ~/colorlab-lessons" in readme
    assert f'pip install "{DIST_NAME}[lessons]"' in readme
    assert "--index-url https://download.pytorch.org/whl/cpu" in readme
    assert 'pip install -e ".[dev]"' in readme  # the two commands that install and test everything
