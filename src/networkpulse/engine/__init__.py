"""The pure engine: interning, spanning forests, panes and event-time windows. No I/O, no clock."""

from networkpulse.engine.interning import Interner
from networkpulse.engine.types import Cluster, Window, WindowConfig
from networkpulse.engine.windows import WindowEngine

__all__ = ["Cluster", "Interner", "Window", "WindowConfig", "WindowEngine"]
