"""The house keeps its shape: import layering, no circles, small units, and the linter.

The rules are read from the code's own imports (the syntax tree, no importing), so they cannot
drift from it. docs/architecture.md explains each rule; the first test shows that the checker
does catch a forbidden import, on a made-up package.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "colorlab"

#: The paper's model in three files: Lab, the network, training.
CORE = {"color", "model", "train"}
#: What the core may lean on: small modules that themselves import nothing outside this set.
CORE_SUPPORT = {"backbones", "checks", "colorbins", "hints"}
#: Inference (colorize a photo) and what it pulls in must not reach any of these.
TRAINING = {"train", "engine", "cache", "data", "crops", "splits", "samples"}
INFERENCE = {"infer"}
#: The figures; only the apps and the lessons' checks may import them.
FIGURES = "viz"
FIGURE_USERS = {"widgets", "exercises", "viz"}
CORE_MAX_LINES = 650  # non-blank lines of color + model + train
MODULE_MAX_LINES = 600
FUNCTION_MAX_LINES = 100


def import_graph(package_dir: Path, name: str) -> dict[str, set[str]]:
    """``{module: {modules it imports}}`` within the package (dotted names without the package prefix),
    counting imports inside functions too and leaving out ``if TYPE_CHECKING:`` blocks."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir).with_suffix("").parts)
        is_init = parts[-1] == "__init__"
        if is_init:
            parts = parts[:-1]
        modules[".".join(parts)] = (path, is_init)
    graph: dict[str, set[str]] = {}
    for module, (path, is_init) in modules.items():
        here = module.split(".") if module else []
        package = here if is_init else here[:-1]
        deps: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name == name or a.name.startswith(name + ".")]
                targets = [t[len(name) + 1 :] for t in targets]
            elif node.level == 0:
                if node.module != name and not (node.module or "").startswith(name + "."):
                    continue
                base = (node.module or "")[len(name) + 1 :]
                targets = [f"{base}.{a.name}".strip(".") for a in node.names] + ([base] if node.module != name else [])
            else:
                up = package[: len(package) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
                # ``from . import x`` names a sibling (or a name of the package); ``from .x import y``, module x
                targets = [f"{base}.{a.name}".strip(".") for a in node.names] + ([base] if node.module else [])
            for target in targets:
                while target and target not in modules:  # a name imported from a module -> the module
                    target = target.rpartition(".")[0]
                if target and target != module:
                    deps.add(target)
        graph[module] = deps
    return graph


def _imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []  # imports only a type checker reads are not arrows
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node


def top(module: str) -> str:
    return module.split(".")[0]


def closure(graph: dict[str, set[str]], start: set[str]) -> set[str]:
    seen, todo = set(), [m for m in graph if top(m) in start]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(graph.get(m, ()))
    return seen


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def layering_problems(graph: dict[str, set[str]]) -> list[str]:
    """Every broken layering rule, one line each (empty: the house keeps its shape)."""
    problems = []
    for module, deps in sorted(graph.items()):
        if top(module) in CORE | CORE_SUPPORT:
            bad = sorted(d for d in deps if top(d) not in CORE | CORE_SUPPORT)
            if bad:
                problems.append(f"{module} (core) imports machinery: {', '.join(bad)}")
        if FIGURES in {top(d) for d in deps} and top(module) not in FIGURE_USERS:
            problems.append(f"{module} imports the figures ({FIGURES}); only {sorted(FIGURE_USERS)} may")
    pulled = closure(graph, INFERENCE)
    leaked = sorted(m for m in pulled if top(m) in TRAINING)
    if leaked:
        problems.append(f"inference pulls in training code: {', '.join(leaked)}")
    problems += [f"import circle: {' <-> '.join(group)}" for group in cycles(graph)]
    return problems


# --- the checker itself catches what it should ------------------------------------------------


def _fake_package(tmp_path: Path, files: dict[str, str]) -> Path:
    pkg = tmp_path / "colorlab"
    for name, text in {"__init__.py": "", **files}.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    return pkg


def test_the_checker_catches_a_forbidden_import_a_circle_and_a_figure_import(tmp_path):
    clean = {
        "color.py": "import torch\n",
        "model.py": "from .color import x\n",
        "train.py": "from . import color, model\n",
        "engine/__init__.py": "from .trainer import Trainer\n",
        "engine/trainer.py": "from ..train import train_step\nfrom ..files import atomic_write\n",
        "files.py": "",
        "infer.py": "from .model import Net\n",
        "viz.py": "from .model import Net\n",
        "widgets.py": "from .viz import figure\n",
    }
    assert layering_problems(import_graph(_fake_package(tmp_path / "a", clean), "colorlab")) == []

    forbidden = dict(clean, **{"model.py": "from .color import x\n\ndef f():\n    from .engine import Trainer\n"})
    problems = layering_problems(import_graph(_fake_package(tmp_path / "b", forbidden), "colorlab"))
    assert any("model (core) imports machinery: engine" in p for p in problems), problems
    assert any("inference pulls in training code" in p for p in problems), problems  # infer -> model -> engine
    assert any("import circle" in p and "engine.trainer" in p for p in problems), problems  # engine -> train -> model

    figures = dict(clean, **{"files.py": "import colorlab.viz\n"})
    problems = layering_problems(import_graph(_fake_package(tmp_path / "c", figures), "colorlab"))
    assert problems == ["files imports the figures (viz); only ['exercises', 'viz', 'widgets'] may"]

    typing_only = dict(
        clean, **{"files.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .viz import a\n"}
    )
    assert layering_problems(import_graph(_fake_package(tmp_path / "d", typing_only), "colorlab")) == []


# --- the real house -------------------------------------------------------------------------


def test_colorlab_keeps_its_layers_and_has_no_import_circles():
    graph = import_graph(PACKAGE, "colorlab")
    assert {"color", "model", "train", "infer", "engine.trainer", "viz.lab"} <= set(graph)  # the graph was read
    assert "model" in graph["train"] or "color" in graph["train"]
    assert layering_problems(graph) == []


def test_the_core_stays_small_and_every_unit_fits_on_a_screen():
    core = sum(sum(1 for line in (PACKAGE / f"{m}.py").read_text().splitlines() if line.strip()) for m in sorted(CORE))
    assert core <= CORE_MAX_LINES, f"color + model + train hold {core} non-blank lines (at most {CORE_MAX_LINES})"
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT).as_posix()
        if len(text.splitlines()) > MODULE_MAX_LINES:
            too_long.append(f"{name}: {len(text.splitlines())} lines (module, at most {MODULE_MAX_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > FUNCTION_MAX_LINES:
                    too_long.append(f"{name}: {node.name} is {length} lines (at most {FUNCTION_MAX_LINES})")
    assert too_long == []


def test_ruff_passes_on_the_library_the_tests_and_the_benchmarks():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is not installed: it is part of the dev extras (pip install -e '.[dev]')")
    result = subprocess.run(
        [ruff, "check", "--no-cache", "colorlab", "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
