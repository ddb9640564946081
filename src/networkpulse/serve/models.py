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


class ClusterInWindow(BaseModel):
    """One stored cluster: its members and a spanning tree of real interactions (indices into ``members``)."""

    rank: int = Field(description="Position in its window, 0 = largest.")
    size: int
    members: list[str]
    edges: list[tuple[int, int]] = Field(description="Pairs of indices into members; size - 1 of them.")


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
