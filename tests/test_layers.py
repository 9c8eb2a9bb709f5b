"""The layer test: imports point down the layers of docs/architecture.md, no import cycles
between treino modules, and the engine stands alone (no pydantic, pandas or yaml)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "treino"

# lowest first; a module may import from a lower floor, or from its own folder
FLOORS = [
    {"treino.errors", "treino.registry", "treino.tasks", "treino.files"},
    {"treino.config", "treino.batches"},
    {"treino.engine", "treino.data", "treino.models"},
    {"treino.report"},
    {"treino.run"},
    {"treino.experiments", "treino.serve", "treino.sklearn"},
    {"treino", "treino.cli", "treino.__main__"},
]
# imports across one floor that the architecture allows: the ground floor raises treino's own
# errors, models read the data's description, and the face is one floor
SIDEWAYS = {
    *((unit, "treino.errors") for unit in FLOORS[0]),
    ("treino.models", "treino.data.info"),
    ("treino.__main__", "treino.cli"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _unit(module: str) -> str:
    """The layer unit a module belongs to: its top folder (treino.engine) or root module."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _floor(module: str) -> int:
    unit = _unit(module)
    for i, floor in enumerate(FLOORS):
        if unit in floor:
            return i
    raise AssertionError(f"{module}: not on any floor of the layer test; add its folder to FLOORS")


def _imports(module: str) -> set[str]:
    """treino modules imported anywhere in `module` (top level, functions, TYPE_CHECKING)."""
    path = MODULES[module]
    is_package = path.name == "__init__.py"
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        targets |= {n for n in names if n.split(".")[0] == "treino" and n != module}
    return {t if t in MODULES else t.rsplit(".", 1)[0] for t in targets}


GRAPH = {m: _imports(m) for m in MODULES}


def test_every_module_is_on_a_floor():
    for module in MODULES:
        _floor(module)


def test_imports_point_down_the_layers():
    wrong = []
    for module, targets in GRAPH.items():
        for target in targets:
            if _unit(target) == _unit(module) or (_unit(target) == "treino" and target == "treino"):
                continue
            up, down = _floor(module), _floor(target)
            sideways = (_unit(module), target) in SIDEWAYS
            if down > up or (down == up and not sideways):
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the layer order:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles_between_modules():
    cycles, done, path = [], set(), []

    def visit(module: str) -> None:
        if module in path:
            cycles.append(" -> ".join([*path[path.index(module) :], module]))
            return
        if module in done:
            return
        path.append(module)
        for target in sorted(GRAPH.get(module, ())):
            # a package's __init__ re-exporting its own modules is not a cycle through them
            if not (MODULES[module].name == "__init__.py" and target.startswith(module + ".")):
                visit(target)
        path.pop()
        done.add(module)

    for module in sorted(GRAPH):
        visit(module)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_package_root_holds_only_the_face_and_the_ground_floor():
    root = {p.stem for p in PACKAGE.glob("*.py")}
    assert root == {"__init__", "__main__", "cli", "errors", "registry", "tasks", "files"}


def test_no_module_is_over_400_lines():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 400
    }
    assert not long, long


def _loaded_by(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


@pytest.mark.parametrize("module", ["treino.engine", "treino.batches"])
def test_the_engine_stands_alone(module):
    loaded = _loaded_by(f"import {module}")
    assert not {"pydantic", "pandas", "yaml", "treino.config", "treino.data"} & loaded


def test_loading_a_model_for_prediction_skips_training_and_experiments():
    loaded = _loaded_by("import treino.serve.predict")
    assert not {"optuna", "treino.run.train", "treino.experiments", "treino.report"} & loaded
