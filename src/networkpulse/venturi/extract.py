"""Stage 3, venturi: raw events → skinny interactions, every drop counted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from networkpulse.events import EventBatch, InputReport, Login, RawEvent, epoch_ms, iter_event_batches
from networkpulse.venturi.rules import PAYLOAD_RULES, REPO_OWNER, recovered_owner
from networkpulse.venturi.stats import FilterStats
from networkpulse.venturi.types import InteractionBatch


def extract(
    batch: EventBatch | Sequence[RawEvent], stats: FilterStats, report: InputReport | None = None
) -> InteractionBatch:
    """Apply the counterpart rules (:data:`networkpulse.venturi.rules.RULES`) to every event of ``batch``.

    Each event gives 0–2 interactions ``actor → counterpart``: distinct counterparts only, never the actor
    itself (logins compare case-insensitively, as GitHub's do; they are emitted as given). ``event_times_ms``
    and ``event_lines`` hold the time and line of every event of the batch (a bare sequence of events counts
    lines from 1, with source ``""``).

    An event whose actor or counterpart login holds a control, format or whitespace character (never in a
    GitHub login; ``dependabot[bot]`` is fine) gives no interaction: it is dropped as ``"bad_login"`` and, when
    ``report`` is given, reported there as ``file:line: bad_login`` (the raw line is gone by now, so it is not
    quarantined). The check runs on the logins joined per batch, so it costs ~nothing per event.

    O(n) for n events: one tight Python loop (the only per-event Python of the pipeline, ~1 µs per event)
    and numpy for the time columns.
    """
    if isinstance(batch, EventBatch):
        events, times_ms, lines, source = batch.events, batch.times_ms, batch.lines, batch.source
    else:
        events = list(batch)
        times_ms, lines, source = epoch_ms(events), np.arange(1, len(events) + 1, dtype=np.int64), ""
    found = _apply_rules(events)
    if found.plain():
        at = np.asarray(found.at, dtype=np.intp)
        bad = 0
    else:
        keep = _drop_bad_logins(events, lines, source, report)
        found = _apply_rules([events[i] for i in keep])
        at = keep[np.asarray(found.at, dtype=np.intp)]
        bad = len(events) - len(keep)
    found.count(stats, len(events), bad)
    return InteractionBatch(
        src=found.src,
        dst=found.dst,
        kind=found.kind,
        event_type=found.etype,
        created_at_ms=times_ms[at],
        event_id=found.eid,
        event_times_ms=times_ms,
        source=source,
        event_lines=lines,
    )


@dataclass(slots=True)
class _Found:
    """What the rules found in a list of events: interaction columns and the counts of what they dropped."""

    src: list[str] = field(default_factory=list)
    dst: list[str] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    etype: list[str] = field(default_factory=list)
    eid: list[str] = field(default_factory=list)
    at: list[int] = field(default_factory=list)  # index of the interaction's event, to gather its time
    alone: list[str] = field(default_factory=list)  # actors of dropped events: the logins not in src
    counts: tuple[int, ...] = ()

    def plain(self) -> bool:
        """No login holds a character a GitHub login never has. One C pass over the joined logins: the actor
        and every counterpart read is in src, dst or alone (a counterpart left out equals the actor or another
        counterpart up to case, and case mapping never makes or removes such a character)."""
        return _plain("".join(self.src) + "".join(self.dst) + "".join(self.alone))

    def first_bad(self) -> tuple[str, str]:
        """(role, login) of the first login that is not :func:`_plain`; only for a :meth:`plain` failure."""
        for login in self.src + self.alone:
            if not _plain(login):
                return "actor", login
        return next((f"counterpart ({k})", d) for k, d in zip(self.kind, self.dst, strict=True) if not _plain(d))

    def count(self, stats: FilterStats, events: int, bad: int) -> None:
        no_actor, no_counterpart, all_self, kept, self_pairs, dup_pairs, owner_self, recovered = self.counts
        stats.events += events
        stats.kept_events += kept
        stats.interactions += len(self.src)
        stats.actor_is_owner += owner_self
        stats.owners_recovered += recovered
        for reason, n in (("no_actor", no_actor), ("no_counterpart", no_counterpart), ("self", all_self),
                          ("bad_login", bad)):
            if n:
                stats.dropped[reason] += n
        for reason, n in (("self", self_pairs), ("duplicate", dup_pairs)):
            if n:
                stats.dropped_pairs[reason] += n
        stats.kinds.update(Counter(self.kind))


def _plain(text: str) -> bool:
    """No control, format, separator or unassigned character (what ``str.isprintable`` rejects), and no space."""
    return text.isprintable() and " " not in text


def _apply_rules(events: Sequence[RawEvent]) -> _Found:
    """The rules over ``events``; O(n), the hot loop."""
    out = _Found()
    src, dst, kind, etype, eid, at, alone = out.src, out.dst, out.kind, out.etype, out.eid, out.at, out.alone
    no_actor = no_counterpart = all_self = kept = self_pairs = dup_pairs = owner_self = recovered = 0
    payload_rules = PAYLOAD_RULES
    for i, ev in enumerate(events):
        actor: Any = ev.actor
        if actor.__class__ is Login:
            actor = actor.login
        if not actor:
            no_actor += 1
            continue
        lactor = actor.lower()
        repo = ev.repo
        if repo is not None:
            name = repo.name
            cut = name.find("/")
            owner = name[:cut] if cut > 0 else None
        else:
            repository = ev.repository
            owner = repository.owner if repository is not None else ""
        if owner is None or (owner == "" and repo is None and ev.repository is not None):
            owner = recovered_owner(ev)  # rare (4 % of 2011, 0.6 % of 2013): a call is fine here
            recovered += owner is not None
        other = None
        rule = payload_rules.get(ev.type)
        if rule is not None and ev.payload is not None:
            other = rule[1](ev.payload)
        n = 0
        lother = None
        if other:
            lother = other.lower()
            if lother == lactor:
                self_pairs += 1
            else:
                src.append(actor)
                dst.append(other)
                kind.append(rule[0])  # type: ignore[index]
                n = 1
        if owner:
            lowner = owner.lower()
            if lowner == lactor:
                self_pairs += 1
                owner_self += 1
            elif lowner == lother:
                dup_pairs += 1
            else:
                src.append(actor)
                dst.append(owner)
                kind.append(REPO_OWNER)
                n += 1
        if n == 1:  # the common case: appends, no temporary lists
            kept += 1
            etype.append(ev.type)
            eid.append(ev.id)
            at.append(i)
        elif n:
            kept += 1
            etype += (ev.type, ev.type)
            eid += (ev.id, ev.id)
            at += (i, i)
        else:
            alone.append(actor)
            if other or owner:
                all_self += 1
            else:
                no_counterpart += 1
    out.counts = (no_actor, no_counterpart, all_self, kept, self_pairs, dup_pairs, owner_self, recovered)
    return out


def _drop_bad_logins(
    events: Sequence[RawEvent], lines: npt.NDArray[np.int64], source: str, report: InputReport | None
) -> npt.NDArray[np.intp]:
    """Indices of the events whose logins are all plain; each other one is reported. Only runs for a batch
    that holds a bad login (never on real data), so it may re-run the rules per event: O(n) slow calls."""
    keep: list[int] = []
    for i, ev in enumerate(events):
        one = _apply_rules([ev])
        if one.plain():
            keep.append(i)
            continue
        if report is not None:
            role, login = one.first_bad()
            shown = login if len(login) <= 80 else login[:80] + "…"  # a 10 MB login stays out of the messages
            detail = (
                f"{ev.type} {role} login {shown!r} holds a control, format or whitespace character; "
                "expected a GitHub login such as 'octocat' or 'dependabot[bot]'; event skipped"
            )
            report.add("bad_login", source, int(lines[i]), detail)
    return np.asarray(keep, dtype=np.intp)


def read_interactions(
    sources: Sequence[str], report: InputReport, stats: FilterStats, **kw: Any
) -> Iterator[InteractionBatch]:
    """:func:`~networkpulse.events.iter_event_batches` (``kw`` goes there, e.g. ``max_skew_ms``) composed with
    :func:`extract`, which reports bad logins in ``report`` too."""
    for batch in iter_event_batches(sources, report, **kw):
        yield extract(batch, stats, report)
