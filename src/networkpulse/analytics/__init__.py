"""The analytics stage (pure: no I/O, no clock, like the engine): clusters with a life.

After the engine, before the store: stable cluster ids and lineage (:mod:`.lineage`), brokers from the real
pairs inside each cluster (:mod:`.brokers`), momentum and bridging suggestions (:mod:`.momentum`), connection
recommendations (:mod:`.recommend`). :func:`annotate` runs the per-window part over engine windows.
"""

from networkpulse.analytics.lineage import EVENTS, Clusters, Match, match
from networkpulse.analytics.momentum import TRENDS
from networkpulse.analytics.stage import AnalyticsConfig, AnalyticsState, WindowAnalytics, annotate

__all__ = [
    "EVENTS",
    "TRENDS",
    "AnalyticsConfig",
    "AnalyticsState",
    "Clusters",
    "Match",
    "WindowAnalytics",
    "annotate",
    "match",
]
