"""Clusters with a life in the API (docs/analytics.md, docs/api.md): the routes over the store's lives reads, and
the identity fields every listed cluster carries (window details, cluster details, live frames).

The identity is the server's, computed once by the pipeline's analytics stage and stored: the browser never
matches clusters itself, so two tabs, a paused page and a scrubbed one all name a cluster the same way.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from networkpulse.serve.models import (
    MAX_ID,
    BridgeSuggestions,
    ClusterBrokers,
    ClusterLife,
    GrowingClusters,
    LoginInfluence,
    Recommendations,
    WindowLineage,
)
from networkpulse.serve.params import ERRORS, NOT_FOUND, Login, Rank, WindowId, found
from networkpulse.serve.reader import StoreReader
from networkpulse.store.base import Store
from networkpulse.store.lives import LivesReads

Json = dict[str, Any]

#: The identity fields of a cluster stored without analytics (or by a store that keeps none).
NO_LIFE: Json = {"cluster_id": None, "event": None, "parents": [], "trend": None}

AtWindow = Annotated[
    int | None, Query(ge=0, le=MAX_ID, description="Window id; default: the newest window with cluster lives.")
]


def with_lives(store: Store, windows: list[Json]) -> list[Json]:
    """``windows`` (``WindowDetail`` dicts) with ``cluster_id``, ``event``, ``parents`` and ``trend`` on every
    listed cluster, in place. One query on the analytics rows of their id range (none when no cluster is
    listed); O(listed clusters)."""
    if not windows:
        return windows
    ids = [w["id"] for w in windows]
    listed = max((c["rank"] + 1 for w in windows for c in w.get("cluster_list", ())), default=0)
    if not listed or not isinstance(store, LivesReads):
        lives: dict[int, list[Json]] = {}
    else:  # only the listed ranks are decoded: a window holds many more clusters than a frame shows
        lives = store.cluster_lineage(min(ids), max(ids), max_clusters=listed)
    for w in windows:
        of_rank = lives.get(w["id"], [])
        for c in w.get("cluster_list", ()):
            c.update(of_rank[c["rank"]] if c["rank"] < len(of_rank) else NO_LIFE)
    return windows


def with_life(store: Store, detail: Json | None) -> Json | None:
    """A ``WindowDetail`` or ``ClusterDetail`` (or None) with the identity fields of :func:`with_lives`.
    O(clusters of its window)."""
    if detail is None:
        return None
    if "cluster_list" in detail:
        return with_lives(store, [detail])[0]
    with_lives(store, [{"id": detail["window"]["id"], "cluster_list": [detail]}])
    return detail


def life_routes(reader: StoreReader) -> APIRouter:
    """The routes of a cluster's life, a window's lineage, brokers, influence, people to meet and momentum,
    each reading the store on ``reader``'s threads. Complexity per route: the store method's (docs/analytics.md)."""
    router = APIRouter(tags=["lives"])

    @router.get("/api/clusters/{cluster_id}", response_model=ClusterLife, responses=NOT_FOUND)
    async def cluster_life(
        cluster_id: Annotated[int, PathParam(ge=0, le=MAX_ID, description="Stable cluster id.")],
        limit: Annotated[int, Query(ge=1, le=5000, description="Newest windows of its life to return.")] = 500,
    ) -> Json:
        """A cluster's life, oldest window first: size, event, parents, split-offs, logins joining and leaving,
        articulation points per window, and the window it ended in."""
        life = await reader.call(lambda s: _lives(s).cluster_life(cluster_id, limit=limit), None)
        return found(life, f"cluster {cluster_id} is not stored (never given, or removed by retention)")

    @router.get("/api/windows/{window_id}/lineage", response_model=WindowLineage, responses=NOT_FOUND)
    async def window_lineage(window_id: WindowId) -> Json:
        """Every stored cluster of a window with its id, lineage event, parents and momentum, and the cluster ids
        that ended in it (``into`` the clusters that took their members)."""
        lineage = await reader.call(lambda s: _lives(s).window_lineage(window_id), None)
        return found(lineage, f"window {window_id} is not stored (never written, or removed by retention)")

    @router.get(
        "/api/windows/{window_id}/clusters/{rank}/brokers", response_model=ClusterBrokers, responses=NOT_FOUND
    )
    async def cluster_brokers(window_id: WindowId, rank: Rank) -> Json:
        """Who holds a cluster together in a window, from its real distinct pairs: articulation points, bridges,
        and every member's degree and betweenness (top brokers first)."""
        brokers = await reader.call(lambda s: _lives(s).cluster_brokers(window_id, rank), None)
        return found(brokers, f"window {window_id} has no stored cluster of rank {rank}")

    @router.get("/api/logins/{login}/influence", response_model=LoginInfluence, responses=ERRORS)
    async def login_influence(
        login: Login,
        limit: Annotated[int, Query(ge=1, le=500, description="Newest windows to return.")] = 50,
    ) -> Json:
        """A login's developing influence: its degree, betweenness and articulation in its cluster per window,
        newest first (empty if never in a stored cluster)."""
        rows = await reader.call(lambda s: _lives(s).login_influence(login, limit=limit), [])
        return {"login": login, "influence": rows}

    @router.get("/api/logins/{login}/recommendations", response_model=Recommendations, responses=ERRORS)
    async def recommendations(
        login: Login,
        windows: Annotated[int, Query(ge=1, le=100, description="The login's newest windows to learn from.")] = 10,
        k: Annotated[int, Query(ge=1, le=100, description="People to return.")] = 10,
    ) -> Json:
        """People to meet: who the login is likely to interact with next (Adamic-Adar over its recent clusters'
        pairs, then the most active of that neighbourhood), current partners excluded; empty if never seen."""
        got = await reader.call(lambda s: _lives(s).recommendations(login, windows=windows, k=k), None)
        return got if got is not None else {"login": login, "windows": [], "recommendations": []}

    @router.get("/api/momentum/growing", response_model=GrowingClusters, responses=NOT_FOUND)
    async def growing(
        window_id: AtWindow = None,
        limit: Annotated[int, Query(ge=1, le=1000, description="Clusters to return.")] = 20,
    ) -> Json:
        """The growing clusters of a window, steepest activity slope first."""
        got = await reader.call(lambda s: _lives(s).growing_clusters(window_id, limit=limit), None)
        return found(got, _no_window(window_id))

    @router.get("/api/momentum/bridges", response_model=BridgeSuggestions, responses=NOT_FOUND)
    async def bridges(
        window_id: AtWindow = None,
        clusters: Annotated[int, Query(ge=2, le=10, description="Steepest growing clusters to pair up.")] = 4,
        k: Annotated[int, Query(ge=1, le=20, description="Account pairs per pair of clusters.")] = 3,
    ) -> Json:
        """Who could join two growing clusters of a window: per pair of its steepest growing clusters, the account
        pairs that would join them most cheaply, scored (>= 1: they interacted within the last 10 windows)."""
        got = await reader.call(lambda s: _lives(s).bridge_suggestions(window_id, clusters=clusters, k=k), None)
        return found(got, _no_window(window_id))

    return router


def _lives(store: Store) -> LivesReads:
    """The store's lives reads (both backends have them). Raises TypeError for a store without them."""
    if not isinstance(store, LivesReads):
        raise TypeError(f"{type(store).__name__} keeps no cluster lives")
    return store


def _no_window(window_id: int | None) -> str:
    if window_id is None:
        return "no window with cluster lives is stored yet (the pipeline has not written one with clusters)"
    return f"window {window_id} is not stored, or was stored without cluster lives"
