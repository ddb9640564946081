"""networkpulse: streaming graph analysis at the pace of change.

The package tree is the pipeline: ``events`` → ``venturi`` → ``engine`` → ``store`` → ``serve``.

The public Python API (:mod:`networkpulse.notebook`; pandas and networkx come with
``pip install 'networkpulse[notebook]'``)::

    import networkpulse as pulse

    with pulse.connect("sqlite:///pulse.db") as store:      # read-only
        frame = store.windows("2015-01-01T12:00Z", "2015-01-01T13:00Z")   # one row per window
        graph = store.cluster_graph("latest", rank=0)           # networkx.Graph of the largest cluster

    run = pulse.run_files("2015-01-01-12.json.gz", window="10m", slide="1m")   # no store
    run.frame()

Names are imported on first use, so ``import networkpulse`` (and the ``pulse`` command) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from networkpulse.errors import MissingExtraError, PulseError
    from networkpulse.notebook import (
        Run,
        StoreView,
        cluster_graph,
        connect,
        history_frame,
        run_events,
        run_files,
        window_graph,
        windows_frame,
    )

_LAZY = {
    "MissingExtraError": "networkpulse.errors",
    "PulseError": "networkpulse.errors",
    "Run": "networkpulse.notebook",
    "StoreView": "networkpulse.notebook",
    "cluster_graph": "networkpulse.notebook",
    "connect": "networkpulse.notebook",
    "history_frame": "networkpulse.notebook",
    "run_events": "networkpulse.notebook",
    "run_files": "networkpulse.notebook",
    "window_graph": "networkpulse.notebook",
    "windows_frame": "networkpulse.notebook",
}

__all__ = [
    "MissingExtraError",
    "PulseError",
    "Run",
    "StoreView",
    "__version__",
    "cluster_graph",
    "connect",
    "history_frame",
    "run_events",
    "run_files",
    "window_graph",
    "windows_frame",
]


def __getattr__(name: str) -> Any:
    """PEP 562: the public names are imported when first used (the notebook module pulls in the engine)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'networkpulse' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
