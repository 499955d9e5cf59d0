"""colorlab works however it is installed, not only from a clone.

The sdist is built from a copy of the project, the wheel from that sdist (as ``pip install``
from PyPI or git does), and ``pip install 'colorlab-koala[lessons]'`` installs the wheel into a
fresh virtual environment outside the tree, resolving every requirement and extra as for a pip
user. Nothing needs downloading: the environment sees this one's installed packages (torch,
JupyterLab...), all but colorlab itself, through a ``.pth`` file, so pip finds each requirement
already satisfied (a broken extra or bound fails here). ``venv --system-site-packages`` would not
do: when the tests run in a virtual environment (CI's ``.venv``), the "system" is the base
interpreter's, which has none of them. From another folder, with no ``PYTHONPATH``, that
environment then colorizes a photo with the demo model, loads the bundled photos, copies the
lessons with ``colorlab lessons`` and runs lesson 1 there, writing nothing outside that folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_pip_user import PYPROJECT, link_problems

import colorlab
from colorlab.resources import LESSON_PATTERNS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
#: What a distribution is built from: the files git tracks at the top (the rest stays out of it).
SOURCES = (
    "pyproject.toml",
    "MANIFEST.in",
    "README.md",
    "README.pypi.md",
    "LICENSE",
    "CHANGELOG.md",
    "CITATION.cff",
    "colorlab",
    "data",
    "notebooks",
    "binder",
    "benchmarks",
    "tests",
)
#: Left out of the copy: what a clean clone does not have.
UNTRACKED = shutil.ignore_patterns("__pycache__", "*.pyc", "artifacts", ".ipynb_checkpoints", "*.local.json")
SHIPPED = sorted(
    p.relative_to(ROOT / "data").as_posix()
    for pattern in PYPROJECT["tool"]["setuptools"]["package-data"]["colorlab._data"]
    for p in (ROOT / "data").glob(pattern)
    if p.is_file()
)
LESSONS = sorted(
    p.relative_to(ROOT / "notebooks").as_posix()
    for pattern in LESSON_PATTERNS
    for p in (ROOT / "notebooks").glob(pattern)
    if p.is_file()
)


def _run(
    cmd: list, cwd: Path, env: dict[str, str] | None = None, timeout: int = 300, **kwargs
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, **kwargs
    )
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def dists(tmp_path_factory) -> dict[str, Path]:
    """``{"sdist": ..., "wheel": ...}``: the sdist of a copy of the project, the wheel built from that sdist."""
    work = tmp_path_factory.mktemp("build")
    src = work / "project"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=UNTRACKED)
        else:
            shutil.copy2(ROOT / name, src / name)
    out = work / "dist"
    build_sdist = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    built = _run([sys.executable, "-c", build_sdist, out], cwd=src)
    sdist = out / built.stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as tar:
        tar.extractall(work / "unpacked", filter="data")
    (unpacked,) = (work / "unpacked").iterdir()
    wheel_build = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-v", "-w", out]
        + [unpacked],
        cwd=work,
    )
    (wheel,) = out.glob("*.whl")
    log = "\n".join(p.stdout + p.stderr for p in (built, wheel_build))
    return {"sdist": sdist, "wheel": wheel, "log": log}


def _fresh_env_vars(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment minus anything that would point Python at the source tree."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "COLORLAB_PRETRAINED", "VIRTUAL_ENV")
    }
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1")
    env.update(extra or {})
    return env


def _installed_here_but_colorlab(folder: Path) -> Path:
    """``folder``, holding a link to each package installed in this environment except colorlab
    (its editable install and metadata), for a fresh environment to find them installed."""
    folder.mkdir()
    for site in dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]):
        for entry in Path(site).iterdir():
            name = entry.name.lower()
            if name.startswith(("colorlab", "__editable__", "_colorlab")) or (folder / entry.name).exists():
                continue
            (folder / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return folder


@pytest.fixture(scope="module")
def fresh(dists, tmp_path_factory) -> dict[str, Path]:
    """A new virtual environment into which pip installed the wheel with ``[lessons]``, resolving
    every requirement (all found installed, nothing downloaded), and an empty folder elsewhere."""
    base = tmp_path_factory.mktemp("fresh")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=base)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    env = _fresh_env_vars()
    purelib = Path(
        _run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=base, env=env
        ).stdout.strip()
    )
    # A plain path in a .pth file adds the folder without running the .pth files inside it.
    reuse = _installed_here_but_colorlab(base / "installed-here")
    (purelib / "zz_reuse_test_runner_packages.pth").write_text(f"{reuse}\n")
    wanted = f"colorlab-koala[lessons] @ {dists['wheel'].as_uri()}"
    pip = _run([python, "-m", "pip", "install", "--no-input", "--timeout", "30", wanted], cwd=base, env=env)
    assert "Downloading" not in pip.stdout, pip.stdout  # every requirement was found installed
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    return {"venv": venv, "python": python, "bin": bin_dir, "purelib": purelib, "cwd": elsewhere, "pip": pip}


def test_the_wheel_carries_the_models_photos_readme_and_licence_but_no_tests(dists):
    names = zipfile.ZipFile(dists["wheel"]).namelist()
    for shipped in SHIPPED:
        assert f"colorlab/_data/{shipped}" in names, f"{shipped} is not in the wheel"
    assert any(n.startswith("colorlab/_data/photos/") and n.endswith(".jpg") for n in names)
    assert "colorlab/_data/colorlab-lite0-demo.pt" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "colorlab/resources.py" in names and "colorlab/exercises/__init__.py" in names
    assert all(n.split("/")[0] in ("colorlab",) or ".dist-info" in n.split("/")[0] for n in names), sorted(names)
    assert not [
        n for n in names if n.startswith(("tests/", "notebooks/", "data/", "benchmarks/")) or "__pycache__" in n
    ]
    metadata = next(
        zipfile.ZipFile(dists["wheel"]).read(n).decode() for n in names if n.endswith(".dist-info/METADATA")
    )
    assert "Name: colorlab-koala" in metadata and "License-Expression: MIT" in metadata
    assert f"Version: {colorlab.__version__}" in metadata
    assert "Provides-Extra: lessons" in metadata and "Provides-Extra: dev" in metadata


def test_the_wheel_carries_the_lessons_for_colorlab_lessons(dists):
    names = zipfile.ZipFile(dists["wheel"]).namelist()
    missing = [lesson for lesson in LESSONS if f"colorlab/_lessons/{lesson}" not in names]
    on_disk = sorted(p.name for p in (ROOT / "notebooks").glob("0*.ipynb"))
    assert not missing and [n for n in LESSONS if n.endswith(".ipynb")] == on_disk and len(on_disk) >= 9, missing
    assert "colorlab/lessons.py" in names


def test_the_pypi_description_in_the_wheel_has_no_relative_links_or_images(dists):
    wheel = zipfile.ZipFile(dists["wheel"])
    metadata = next(wheel.read(n).decode() for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    headers, _, description = metadata.partition("\n\n")
    assert "Description-Content-Type: text/markdown" in headers
    assert "colorlab lessons ~/colorlab-lessons" in description
    assert link_problems(description) == []


def test_the_build_does_not_warn_about_unlisted_packages(dists):
    log = dists["log"]
    assert "running build_py" in log  # the log is the build's
    warning = "absent from the `packages` configuration"  # setuptools, for a folder of data not listed
    assert warning not in log, [line for line in log.splitlines() if warning in line][:5]


def test_the_sdist_carries_the_data_folder_and_the_licence(dists):
    with tarfile.open(dists["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for shipped in SHIPPED:
        assert f"data/{shipped}" in names, f"{shipped} is not in the sdist"
    assert {"LICENSE", "README.md", "pyproject.toml", "colorlab/__init__.py"} <= names


def test_the_sdist_carries_what_its_tests_read(dists):
    with tarfile.open(dists["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    tops = {n.split("/")[0] for n in names}
    read = set()
    for test in (ROOT / "tests").glob("*.py"):
        read |= set(re.findall(r'ROOT / "([\w.-]+)"', test.read_text(encoding="utf-8")))
    assert {"notebooks", "binder", "CITATION.cff", "CHANGELOG.md", "tests", "benchmarks"} <= read
    assert read <= tops, f"the tests read {sorted(read - tops)}, which the sdist lacks (MANIFEST.in)"
    for lesson in LESSONS:
        assert f"notebooks/{lesson}" in names
    assert {"binder/requirements.txt", "binder/runtime.txt", "tests/conftest.py", "tests/notebook_support.py"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/artifacts/" in n]


def test_the_installed_wheel_is_imported_not_the_source_tree(fresh):
    code = (
        "import colorlab, colorlab.infer as i; print(colorlab.__file__); print(i.pretrained_path()); "
        "print(colorlab.__version__)"
    )
    out = _run([fresh["python"], "-c", code], cwd=fresh["cwd"], env=_fresh_env_vars()).stdout.split()
    module, model, version = (Path(out[0]).resolve(), Path(out[1]).resolve(), out[2])
    assert module.is_relative_to(fresh["purelib"].resolve()), module
    assert model.is_relative_to(fresh["purelib"].resolve()) and model.is_file(), model
    assert version == colorlab.__version__


def test_the_command_says_its_version_from_any_folder(fresh):
    out = _run([fresh["bin"] / "colorlab", "--version"], cwd=fresh["cwd"], env=_fresh_env_vars()).stdout
    assert out.strip() == f"colorlab {colorlab.__version__}"


def test_colorize_with_the_demo_model_works_from_another_folder(fresh):
    y, x = np.mgrid[0:45, 0:70]
    gray = (x * 3 + y).astype(np.uint8)
    Image.fromarray(gray).save(fresh["cwd"] / "photo.png")
    _run(
        [fresh["bin"] / "colorlab", "colorize", "photo.png", "-o", "out/", "--device", "cpu"],
        cwd=fresh["cwd"],
        env=_fresh_env_vars(),
    )
    result = Image.open(fresh["cwd"] / "out" / "photo.png")
    assert result.size == (70, 45) and result.mode == "RGB"


def test_the_bundled_photos_load_from_the_installed_wheel(fresh):
    code = "import colorlab; print(' '.join(sorted(colorlab.sample_images())))"
    names = _run([fresh["python"], "-c", code], cwd=fresh["cwd"], env=_fresh_env_vars()).stdout.split()
    from colorlab.samples import SAMPLE_PHOTOS

    assert {"raccoon", "abbey"} <= set(names)
    assert len(names) == len(SAMPLE_PHOTOS)


def _listing(folder: Path, leave_out: Path | None = None) -> dict[str, tuple[int, int]]:
    """``{path: (size, mtime_ns)}`` of everything below ``folder``, except below ``leave_out``."""
    found = {}
    for p in sorted(folder.rglob("*")):
        if leave_out is None or not p.is_relative_to(leave_out):
            st = p.lstat()
            found[p.relative_to(folder).as_posix()] = (st.st_size if p.is_file() else 0, st.st_mtime_ns)
    return found


def test_a_pip_user_copies_the_lessons_and_runs_lesson_1_there_writing_nothing_outside(fresh, tmp_path):
    """README's pip path: `colorlab lessons ~/colorlab-lessons`, then lesson 1 from that folder."""
    import nbformat

    home, work, tools = tmp_path / "home", tmp_path / "work", tmp_path / "jupyter-state"
    for folder in (home, work, tools):
        folder.mkdir()
    dest = home / "colorlab-lessons"
    kernels = tools / "path" / "kernels" / "colorlab-wheel"
    kernels.mkdir(parents=True)
    spec = {"argv": [str(fresh["python"]), "-m", "ipykernel_launcher", "-f", "{connection_file}"]}
    (kernels / "kernel.json").write_text(json.dumps({**spec, "display_name": "colorlab wheel", "language": "python"}))
    # Jupyter's and matplotlib's own state goes to `tools`, so that HOME shows only what the lesson writes.
    state = {f"{v}": str(tools / v.lower()) for v in ("IPYTHONDIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR")}
    state |= {"JUPYTER_CONFIG_DIR": str(tools / "config"), "MPLCONFIGDIR": str(tools / "mpl")}
    state |= {"XDG_CACHE_HOME": str(tools / "cache"), "JUPYTER_PATH": str(tools / "path")}
    env = _fresh_env_vars({"HOME": str(home), "MPLBACKEND": "Agg", **state})

    out = _run([fresh["bin"] / "colorlab", "lessons", "~/colorlab-lessons"], cwd=work, env=env).stdout
    assert f"jupyter lab {dest}" in out
    assert sorted(_listing(dest)) == sorted([*LESSONS, "figures", ".colorlab-lessons.json"])
    assert _listing(home, leave_out=dest) == {} and _listing(work) == {}  # the copy wrote only DEST
    before = (_listing(home, leave_out=dest), _listing(work))

    lesson = dest / "01_lab_color_space.ipynb"
    nb = nbformat.read(lesson, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import colorlab\nprint('colorlab imported from', colorlab.__file__)"))
    nbformat.write(nb, lesson)
    execute = (
        "import sys, nbformat, nbclient; nb = nbformat.read(sys.argv[1], as_version=4); "
        "nbclient.NotebookClient(nb, kernel_name='colorlab-wheel', timeout=300, "
        "resources={'metadata': {'path': sys.argv[2]}}).execute(); "
        "nbformat.write(nb, sys.argv[1])"
    )
    _run([fresh["python"], "-c", execute, lesson, dest], cwd=work, env=env, timeout=400)

    assert (_listing(home, leave_out=dest), _listing(work)) == before, "lesson 1 wrote outside its folder"
    ran = nbformat.read(lesson, as_version=4)
    text = "\n".join(
        o.get("text", "") for c in ran.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"
    )
    assert "largest round-trip error (0-255 units): 0" in text
    assert f"colorlab {colorlab.__version__}" in text  # the lesson's first cell found colorlab
    imported_from = Path(text.split("colorlab imported from")[-1].strip().splitlines()[0]).resolve()
    assert imported_from.is_relative_to(fresh["purelib"].resolve()), imported_from
