"""Filter accounting: what venturi kept and why it dropped the rest."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class FilterStats:
    """Counts of one or more :func:`~networkpulse.venturi.extract` calls; ``merge`` adds up parallel workers.

    Event level: ``events == kept_events + sum(dropped.values())``, with ``dropped`` reasons ``"no_actor"``
    (anonymous or missing actor), ``"no_counterpart"`` (no rule gave a counterpart), ``"self"`` (every
    counterpart was the actor) and ``"bad_login"`` (a login with a control, format or whitespace character;
    also reported, with file:line, in the :class:`~networkpulse.events.InputReport` given to ``extract``).
    Pair level: ``dropped_pairs`` counts single candidate pairs left out of a kept or dropped event (``"self"``,
    ``"duplicate"``: the same counterpart under two rules); ``kinds`` counts emitted interactions per kind.
    ``actor_is_owner`` counts events whose actor is the repository owner (the figure the 2016 system reported as
    filtered). ``owners_recovered`` counts events whose repository owner came from a fallback field
    (``payload.repo``, ``url``; see the ``repo_owner`` rule).
    """

    events: int = 0
    kept_events: int = 0
    interactions: int = 0
    actor_is_owner: int = 0
    owners_recovered: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    dropped_pairs: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def filtered_share(self) -> float:
        """Share of events that gave no interaction: 1 − kept/events (0.0 before any event)."""
        return 1.0 - self.kept_events / self.events if self.events else 0.0

    def merge(self, other: FilterStats) -> FilterStats:
        """Add ``other`` into this one and return self."""
        self.events += other.events
        self.kept_events += other.kept_events
        self.interactions += other.interactions
        self.actor_is_owner += other.actor_is_owner
        self.owners_recovered += other.owners_recovered
        self.dropped.update(other.dropped)
        self.dropped_pairs.update(other.dropped_pairs)
        self.kinds.update(other.kinds)
        return self

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-able form for logs and the API."""
        return {
            "events": self.events,
            "kept_events": self.kept_events,
            "interactions": self.interactions,
            "actor_is_owner": self.actor_is_owner,
            "owners_recovered": self.owners_recovered,
            "filtered_share": round(self.filtered_share, 4),
            "dropped": dict(self.dropped),
            "dropped_pairs": dict(self.dropped_pairs),
            "kinds": dict(self.kinds),
        }
