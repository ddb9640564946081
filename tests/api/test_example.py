"""The notebook example in docs/ and the Python blocks of the README's "In your tools" section run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.api.helpers import HOUR_2015, pulse

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "notebook_example.py"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_notebook_example_plots_the_largest_cluster_of_a_real_file(tmp_path: Path) -> None:
    png = tmp_path / "largest.png"
    done = subprocess.run([sys.executable, str(EXAMPLE), str(HOUR_2015), "-o", str(png)], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "peak: 20 accounts in the window starting 12:45 UTC" in done.stdout
    assert png.read_bytes().startswith(PNG_MAGIC) and png.stat().st_size > 10_000


def _readme_python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## In your tools: Python, Gephi, Prometheus", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def test_readme_python_blocks_run(tmp_path: Path) -> None:
    in_memory, from_store = _readme_python_blocks()
    done = subprocess.run([sys.executable, "-c", in_memory], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "20 accounts at 12:45 UTC, 19 interactions"
    assert pulse("run", "--store", f"sqlite:///{tmp_path / 'pulse.db'}", "--no-progress").returncode == 0
    probe = from_store + "\nprint(len(frame), len(clusters), graph.number_of_nodes(), len(history))\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    windows, clusters, nodes, history = map(int, done.stdout.split())
    assert windows == 20 and clusters > 0 and nodes >= 3 * clusters and history >= 1
