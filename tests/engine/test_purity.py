"""The engine is pure: it imports no other pipeline stage and nothing that does I/O or reads a clock."""

from __future__ import annotations

import ast
from pathlib import Path

import networkpulse.engine

ENGINE = Path(networkpulse.engine.__file__).parent
ALLOWED_ROOTS = {"__future__", "collections", "itertools", "dataclasses", "typing", "numpy", "numba", "networkpulse"}
FORBIDDEN_CALLS = {"open", "print", "input"}


def imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


def test_engine_imports_only_pure_modules() -> None:
    files = sorted(ENGINE.glob("*.py"))
    assert len(files) >= 4
    for path in files:
        for name in imports(path):
            root = name.split(".")[0]
            assert root in ALLOWED_ROOTS, f"{path.name} imports {name}"
            if root == "networkpulse":
                assert name.startswith("networkpulse.engine"), f"{path.name} imports another stage: {name}"


def test_engine_calls_no_io_builtins() -> None:
    for path in ENGINE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in FORBIDDEN_CALLS, f"{path.name} calls {node.func.id}()"
