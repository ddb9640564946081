"""Response models of the HTTP API, field for field the shapes of ``docs/api.md``.

They exist so ``/openapi.json`` describes every response exactly (the UI and schemathesis are written against
it); the store already returns JSON-ready dicts, so the models only validate and document.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

#: Largest id SQLite (and PostgreSQL bigint) can hold; larger path/query ids are rejected with 422, not 500.
MAX_ID = 2**63 - 1


class WindowSummary(BaseModel):
    """One closed event-time window ``[start, end)`` and its graph counts."""

    id: int = Field(description="Window id, increasing in commit order.")
    start: str = Field(description="Window start, ISO 8601 UTC.", examples=["2015-01-01T12:00:00Z"])
    end: str = Field(description="Window end (exclusive), ISO 8601 UTC.", examples=["2015-01-01T12:10:00Z"])
    start_ms: int = Field(description="Window start, epoch milliseconds.")
    end_ms: int = Field(description="Window end (exclusive), epoch milliseconds.")
    events: int = Field(description="Raw events with a time in the window (kept or filtered).")
    interactions: int = Field(description="Interaction records in the window.")
    vertices: int = Field(description="Accounts with at least one interaction.")
    edges: int = Field(description="Distinct undirected account pairs.")
    components: int = Field(description="Connected components, all sizes.")
    largest: int = Field(description="Size of the largest component.")
    late_events: int = Field(description="Events dropped as late so far (cumulative).")
    clusters: int = Field(description="Stored clusters: components of size >= min_size.")
    provisional: bool = Field(
        description="Emitted at the end of a run before the watermark passed it: its panes may still grow. "
        "The next run on the store removes it and stores the final window under a new id."
    )


Event = Literal["born", "grew", "shrank", "steady", "merged", "split"]
Trend = Literal["growing", "steady", "receding"]


class ClusterInWindow(BaseModel):
    """One stored cluster: its members and a spanning tree of real interactions (indices into ``members``), with
    its stable identity (docs/analytics.md; null for windows stored without analytics)."""

    rank: int = Field(description="Position in its window, 0 = largest.")
    size: int
    members: list[str]
    edges: list[tuple[int, int]] = Field(description="Pairs of indices into members; size - 1 of them.")
    cluster_id: int | None = Field(description="Stable id across windows (the identity rule of docs/analytics.md).")
    event: Event | None = Field(description="Lineage event of this cluster in this window.")
    parents: list[int] = Field(description="Ids of the previous window's clusters it shares accounts with.")
    trend: Trend | None = Field(description="Momentum: slope of its activity over its last windows.")


class WindowDetail(WindowSummary):
    """A window with its largest clusters."""

    cluster_list: list[ClusterInWindow] = Field(description="Largest first, at most max_clusters.")


class ClusterDetail(ClusterInWindow):
    """A cluster with the summary of its window."""

    window: WindowSummary


class WindowPage(BaseModel):
    """A page of windows, newest first; pass ``next_before`` as ``before`` to get the next (older) page."""

    windows: list[WindowSummary]
    next_before: int | None


class HistoryEntry(BaseModel):
    """One window in which a login was in a stored cluster."""

    window_id: int
    start: str
    end: str
    start_ms: int
    end_ms: int
    rank: int
    size: int
    neighbors: list[str] = Field(description="Logins joined to this one by a stored edge of the cluster.")
    members: list[str]


class LoginHistory(BaseModel):
    """Every stored cluster a login was in, newest window first (empty if never seen)."""

    login: str
    history: list[HistoryEntry]


class Stats(BaseModel):
    """Pipeline counters, as last written by the pipeline (zeros before the first write)."""

    events: int
    interactions: int
    kept_events: int
    filtered_events: int
    filtered_share: float
    dropped: dict[str, int] = Field(description="Filtered events by reason, e.g. self, no_counterpart.")
    late_events: int
    skipped_lines: int
    windows: int
    events_per_s: float
    updated: str | None = Field(description="When the stats were written, ISO 8601 UTC; null before.")
    updated_ms: int | None


class Health(BaseModel):
    """Liveness, and the newest window id (null while the store is empty or not created yet)."""

    status: Literal["ok"]
    latest_window_id: int | None


class ErrorDetail(BaseModel):
    """Every 4xx answer: a sentence saying what was wrong."""

    detail: str


# Live-feed frames (WebSocket, not part of OpenAPI's HTTP paths; listed here so the shapes live in one place).


class HelloFrame(BaseModel):
    """First frame on every live connection."""

    type: Literal["hello"]
    latest_id: int | None


class WindowFrame(BaseModel):
    """One committed window, in id order."""

    type: Literal["window"]
    window: WindowDetail


class DroppedFrame(BaseModel):
    """``count`` windows were skipped for a slow client, the first of them being ``resume_from``."""

    type: Literal["dropped"]
    count: int
    resume_from: int


# Clusters with a life (docs/analytics.md): lineage, brokers, influence, recommendations, momentum.


class LineageCluster(BaseModel):
    """A cluster's identity, lineage and momentum in one window."""

    rank: int
    size: int
    cluster_id: int | None
    event: Event | None
    parents: list[int] = Field(description="Previous window's clusters sharing accounts with it, most shared first.")
    activity: int | None = Field(description="(pair, slide) cells with an interaction between two members.")
    slope: float | None = Field(description="Least-squares slope of activity over its last windows.")
    trend: Trend | None


class EndedCluster(BaseModel):
    """A cluster id that no cluster of this window inherited."""

    cluster_id: int
    into: list[int] = Field(description="Clusters that took its members; empty: it died.")


class WindowLineage(BaseModel):
    """Every stored cluster of a window with its lineage, and the ids that ended in it."""

    window: WindowSummary
    clusters: list[LineageCluster]
    ended: list[EndedCluster]


class LifeWindow(BaseModel):
    """One window of a cluster's life."""

    window_id: int
    start: str
    end: str
    start_ms: int
    end_ms: int
    provisional: bool
    rank: int
    size: int
    cluster_id: int
    event: Event
    parents: list[int]
    activity: int
    slope: float
    trend: Trend
    split_off: list[int] = Field(description="Ids that split away from it in this window.")
    joined: list[str] = Field(description="Logins not in it in the previous window of its life.")
    left: list[str] = Field(description="Logins in it in the previous window of its life, gone now.")
    articulation_points: list[str] | None = Field(description="Null when the window was stored without pairs.")


class LifeEnd(BaseModel):
    """The window a cluster ended in."""

    window_id: int
    start: str
    end: str
    start_ms: int
    end_ms: int
    provisional: bool
    into: list[int] = Field(description="Clusters that took its members; empty: it died.")


class ClusterLife(BaseModel):
    """A cluster's life, oldest window first: sizes, events, members joining and leaving."""

    cluster_id: int
    windows: list[LifeWindow]
    ended: LifeEnd | None = Field(description="Null while it lives (or if its end is not stored).")


class BrokerMember(BaseModel):
    """One member's standing inside its cluster, from the window's real distinct pairs."""

    login: str
    degree: int
    betweenness: float | None = Field(description="Normalised as networkx; null past 5,000 members.")
    articulation: bool = Field(description="Removing it disconnects the cluster.")


class ClusterBrokers(BaseModel):
    """Who holds a cluster together in one window: articulation points, bridges, degree and betweenness."""

    window: WindowSummary
    rank: int
    cluster_id: int | None
    size: int
    pairs: int | None = Field(description="Distinct interacting pairs inside it; null: stored without pairs.")
    articulation_points: list[str]
    bridges: list[tuple[str, str]] = Field(description="Pairs whose interaction alone joins two parts.")
    members: list[BrokerMember] = Field(description="By betweenness, then degree, most first.")


class InfluenceEntry(BaseModel):
    """A login's standing in its cluster in one window."""

    window_id: int
    start: str
    end: str
    start_ms: int
    end_ms: int
    cluster_id: int | None
    rank: int
    size: int
    degree: int | None
    betweenness: float | None
    articulation: bool | None


class LoginInfluence(BaseModel):
    """How a login's influence developed, newest window first (empty if never in a stored cluster)."""

    login: str
    influence: list[InfluenceEntry]


class Recommendation(BaseModel):
    """An account the login is likely to interact with next."""

    login: str
    score: float = Field(description="Adamic-Adar over recent pairs; 0 for the popularity fill.")
    via: list[str] = Field(description="Common partners.")


class Recommendations(BaseModel):
    """People to meet: scored inside the login's recent windows, current partners excluded."""

    login: str
    windows: list[int] = Field(description="Windows whose pairs were used.")
    recommendations: list[Recommendation]


class GrowingClusters(BaseModel):
    """The growing clusters of a window, steepest first."""

    window: WindowSummary
    clusters: list[LineageCluster]


class BridgePair(BaseModel):
    """Two accounts, one in each cluster, who would join them."""

    a: str
    b: str
    score: float = Field(description=">= 1: they interacted recently; < 1: a pairing of hubs only.")


class BridgeSuggestion(BaseModel):
    """The cheapest joins between two growing clusters."""

    clusters: tuple[int, int]
    pairs: list[BridgePair]


class BridgeSuggestions(BaseModel):
    """Bridging suggestions between the steepest growing clusters of a window."""

    window: WindowSummary
    suggestions: list[BridgeSuggestion]
