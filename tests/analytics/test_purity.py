"""The analytics stage is pure like the engine: it imports no I/O, no clock, no later stage."""

from __future__ import annotations

import ast
from pathlib import Path

import networkpulse.analytics
from tests.engine.test_purity import ALLOWED_ROOTS, FORBIDDEN_CALLS, imports

ANALYTICS = Path(networkpulse.analytics.__file__).parent
ALLOWED = ALLOWED_ROOTS | {"math"}


def test_analytics_imports_only_pure_modules() -> None:
    files = sorted(ANALYTICS.glob("*.py"))
    assert len(files) >= 5
    for path in files:
        for name in imports(path):
            root = name.split(".")[0]
            assert root in ALLOWED, f"{path.name} imports {name}"
            if root == "networkpulse":
                assert name.startswith(("networkpulse.analytics", "networkpulse.engine")), (
                    f"{path.name} imports another stage: {name}"
                )


def test_analytics_calls_no_io_builtins() -> None:
    for path in ANALYTICS.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in FORBIDDEN_CALLS, f"{path.name} calls {node.func.id}()"
            if isinstance(node, ast.Attribute):
                assert node.attr not in {"time", "perf_counter", "monotonic", "now"}, f"{path.name} reads a clock"
