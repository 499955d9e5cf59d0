"""colorlab works however it is installed, not only from a clone.

The sdist is built from a copy of the project, the wheel from that sdist (as ``pip install``
from PyPI or git does), and the wheel is installed into a fresh virtual environment outside
the tree, offline: the environment reuses this one's installed dependencies through a
``.pth`` file, and ``pip install --no-index --no-deps`` installs only colorlab. From another
folder, with no ``PYTHONPATH``, that environment then colorizes a photo with the demo model,
loads the bundled photos and runs lesson 1 with its own Python as the kernel.
"""

from __future__ import annotations

import json
import os
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

import colorlab

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
#: What a distribution is built from (the rest of the repository stays out of it).
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "colorlab", "data")
SHIPPED = sorted(
    p.relative_to(ROOT / "data").as_posix()
    for pattern in ("README.md", "*.pt", "photos/*", "splits/*")
    for p in (ROOT / "data").glob(pattern)
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
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    out = work / "dist"
    build_sdist = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    sdist = out / _run([sys.executable, "-c", build_sdist, out], cwd=src).stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as tar:
        tar.extractall(work / "unpacked", filter="data")
    (unpacked,) = (work / "unpacked").iterdir()
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            out,
            unpacked,
        ],
        cwd=work,
    )
    (wheel,) = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


def _fresh_env_vars(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment minus anything that would point Python at the source tree."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "COLORLAB_PRETRAINED", "VIRTUAL_ENV")
    }
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONNOUSERSITE="1")
    env.update(extra or {})
    return env


@pytest.fixture(scope="module")
def fresh(dists, tmp_path_factory) -> dict[str, Path]:
    """A new virtual environment with only the wheel installed in it, and an empty folder elsewhere."""
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
    # No network: reuse the dependencies installed here (torch, pip, ipykernel...). A plain path in a
    # .pth file adds the folder without running the .pth files inside it, so an editable install of
    # colorlab in this environment stays invisible there.
    reuse = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (purelib / "zz_reuse_test_runner_packages.pth").write_text("\n".join(reuse) + "\n")
    _run(
        [python, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "-q", dists["wheel"]],
        cwd=base,
        env=env,
    )
    elsewhere = base / "elsewhere"
    elsewhere.mkdir()
    return {"venv": venv, "python": python, "bin": bin_dir, "purelib": purelib, "cwd": elsewhere}


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


def test_the_sdist_carries_the_data_folder_and_the_licence(dists):
    with tarfile.open(dists["sdist"]) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    for shipped in SHIPPED:
        assert f"data/{shipped}" in names, f"{shipped} is not in the sdist"
    assert {"LICENSE", "README.md", "pyproject.toml", "colorlab/__init__.py"} <= names


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


def test_lesson_1_runs_with_the_installed_wheel_as_its_kernel(fresh, tmp_path):
    import nbformat

    nb = nbformat.read(ROOT / "notebooks" / "01_lab_color_space.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import colorlab\nprint('colorlab imported from', colorlab.__file__)"))
    lesson = fresh["cwd"] / "lesson1.ipynb"
    nbformat.write(nb, lesson)
    kernels = tmp_path / "jupyter" / "kernels" / "colorlab-wheel"
    kernels.mkdir(parents=True)
    spec = {
        "argv": [str(fresh["python"]), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "colorlab wheel",
        "language": "python",
    }
    (kernels / "kernel.json").write_text(json.dumps(spec))
    execute = (
        "import sys, nbformat, nbclient; nb = nbformat.read(sys.argv[1], as_version=4); "
        "nbclient.NotebookClient(nb, kernel_name='colorlab-wheel', timeout=300, "
        "resources={'metadata': {'path': '.'}}).execute(); "
        "nbformat.write(nb, sys.argv[1])"
    )
    env = _fresh_env_vars({"JUPYTER_PATH": str(tmp_path / "jupyter"), "MPLBACKEND": "Agg"})
    _run([fresh["python"], "-c", execute, lesson], cwd=fresh["cwd"], env=env, timeout=400)
    ran = nbformat.read(lesson, as_version=4)
    text = "\n".join(
        o.get("text", "") for c in ran.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "stream"
    )
    assert "largest round-trip error (0-255 units): 0" in text
    assert f"colorlab {colorlab.__version__}" in text  # the lesson's first cell found colorlab
    imported_from = Path(text.split("colorlab imported from")[-1].strip().splitlines()[0]).resolve()
    assert imported_from.is_relative_to(fresh["purelib"].resolve()), imported_from
