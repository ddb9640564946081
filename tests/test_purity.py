"""The pure stages — the engine, the analytics stage and the split components stage — import no other stage
(beyond the ones named below), nothing that does I/O, and read no clock."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import networkpulse.analytics
import networkpulse.components
import networkpulse.engine

ALLOWED_ROOTS = {"__future__", "collections", "itertools", "dataclasses", "typing", "numpy", "numba", "networkpulse"}
FORBIDDEN_CALLS = {"open", "print", "input"}
CLOCKS = {"time", "perf_counter", "monotonic", "now"}
# package → (its minimum module count, extra import roots, the networkpulse modules it may import)
PURE = {
    networkpulse.engine: (4, set(), ("networkpulse.engine",)),
    networkpulse.analytics: (5, {"math"}, ("networkpulse.analytics", "networkpulse.engine")),
    networkpulse.components: (3, set(), ("networkpulse.components", "networkpulse.engine",
                                         "networkpulse.venturi.types")),
}


def imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(node.module or "")
    return names


@pytest.mark.parametrize("package", PURE, ids=lambda p: p.__name__.split(".")[-1])
def test_imports_only_pure_modules(package: object) -> None:
    least, extra, stages = PURE[package]
    files = sorted(Path(package.__file__).parent.glob("*.py"))
    assert len(files) >= least
    for path in files:
        for name in imports(path):
            root = name.split(".")[0]
            assert root in ALLOWED_ROOTS | extra, f"{path.name} imports {name}"
            if root == "networkpulse":
                assert name.startswith(stages), f"{path.name} imports another stage: {name}"


@pytest.mark.parametrize("package", PURE, ids=lambda p: p.__name__.split(".")[-1])
def test_calls_no_io_builtins_and_reads_no_clock(package: object) -> None:
    for path in Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in FORBIDDEN_CALLS, f"{path.name} calls {node.func.id}()"
            if isinstance(node, ast.Attribute):
                assert node.attr not in CLOCKS, f"{path.name} reads a clock"
