"""venturi on the real files, checked against a plain json.loads reference of the documented rules."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import msgspec
import numpy as np
import pytest

from networkpulse.events import InputReport, RawEvent, iter_event_batches
from networkpulse.venturi import FilterStats, InteractionBatch, extract, read_interactions, rules_markdown

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parents[3] / "shared/data/gharchive"
# file → events whose actor is the repository owner, from PROVENANCE.md
ACTOR_IS_OWNER = {
    "2011-02-15-0.json.gz": 878,
    "2013-02-15-0.json.gz": 3164,
    "2014-02-15-0.json.gz": 4050,
    "2015-01-01-12.json.gz": 4706,
    "2025-01-01-15.first2048.json.gz": 1227,
}

Row = tuple[str, str, str, str, int, str]


def reference(path: Path) -> list[Row]:
    """The rules of docs/interactions.md, written the obvious way on full json.loads dicts."""
    rows: list[Row] = []
    with gzip.open(path) as f:
        lines = f.read().splitlines()
    for line in lines:
        e = json.loads(line)
        actor = e.get("actor")
        if isinstance(actor, dict):
            actor = actor.get("login")
        if not actor:
            continue
        payload = e.get("payload") or {}
        wanted: list[tuple[str | None, str]] = []
        if e["type"] in ("PullRequestEvent", "PullRequestReviewCommentEvent", "PullRequestReviewEvent"):
            user = (payload.get("pull_request") or {}).get("user")
            wanted.append((user.get("login") if user else None, "pr_author"))
        if e["type"] in ("IssuesEvent", "IssueCommentEvent") and isinstance(payload.get("issue"), dict):
            user = payload["issue"].get("user")
            wanted.append((user.get("login") if user else None, "issue_author"))
        if e["type"] == "MemberEvent":
            member = payload.get("member")
            wanted.append((member.get("login") if isinstance(member, dict) else member, "member_added"))
        if e["type"] == "FollowEvent":
            wanted.append(((payload.get("target") or {}).get("login"), "followed"))
        owner = e["repo"]["name"].partition("/")[0] if "repo" in e else (e.get("repository") or {}).get("owner")
        wanted.append((owner, "repo_owner"))
        seen = {actor.lower()}
        when = int(datetime.fromisoformat(e["created_at"].replace("Z", "+00:00")).timestamp() * 1000)
        for who, kind in wanted:
            if who and who.lower() not in seen:
                seen.add(who.lower())
                rows.append((actor, who, kind, e["type"], when, e.get("id", "")))
    return rows


def rows_of(batches: list[InteractionBatch]) -> list[Row]:
    return [
        (s, d, k, t, int(ms), i)
        for b in batches
        for s, d, k, t, ms, i in zip(
            b.src, b.dst, b.kind, b.event_type, b.created_at_ms, b.event_id, strict=True
        )
    ]


@pytest.mark.parametrize("name", sorted(ACTOR_IS_OWNER))
def test_matches_reference_and_provenance(name: str) -> None:
    report, stats = InputReport(), FilterStats()
    batches = list(read_interactions([str(DATA / name)], report, stats, batch_lines=2000))
    rows = rows_of(batches)
    expected = reference(DATA / name)
    assert Counter(rows) == Counter(expected) and len(rows) == stats.interactions
    assert stats.actor_is_owner == ACTOR_IS_OWNER[name]
    assert stats.events == report.events == sum(len(b.event_times_ms) for b in batches)
    assert stats.events == stats.kept_events + sum(stats.dropped.values())
    assert all(s.lower() != d.lower() for s, d, *_ in rows)  # never a self-interaction
    for b in batches:
        assert len(b.src) == len(b.dst) == len(b.kind) == len(b.event_id) == len(b.created_at_ms)
        assert b.created_at_ms.dtype == np.int64 and b.event_times_ms.dtype == np.int64
    if "2013" not in name and "2014" not in name:  # events-API ids: one pair per (event, counterpart)
        pairs = [(i, d.lower()) for _, d, _, _, _, i in rows]
        assert len(pairs) == len(set(pairs))
    print(f"{name}: filtered share {stats.filtered_share:.3f} {stats.as_dict()}")


def test_drop_reasons_and_case_insensitive_self() -> None:
    lines = b"\n".join(
        [
            b'{"type":"PushEvent","actor":"Alice","repository":{"owner":"alice"},'
            b'"created_at":"2014-01-01T00:00:00-08:00"}',
            b'{"type":"GistEvent","actor":null,"created_at":"2014-01-01T00:00:00-08:00"}',
            b'{"type":"GistEvent","actor":{"login":"bob"},"repo":{"name":"/"},"created_at":"2011-01-01T00:00:00Z"}',
            b'{"id":"7","type":"PullRequestEvent","actor":{"login":"Bob"},"repo":{"name":"carol/x"},'
            b'"payload":{"pull_request":{"user":{"login":"CAROL"}}},"created_at":"2015-01-01T00:00:00Z"}',
            b'{"id":"8","type":"IssueCommentEvent","actor":{"login":"dan"},"repo":{"name":"dan/x"},'
            b'"payload":{"issue":{"user":{"login":"erin"}}},"created_at":"2015-01-01T00:00:01Z"}',
        ]
    )
    events = msgspec.json.Decoder(RawEvent).decode_lines(lines)
    stats = FilterStats()
    out = extract(events, stats)
    assert list(zip(out.src, out.dst, out.kind, strict=True)) == [
        ("Bob", "CAROL", "pr_author"),
        ("dan", "erin", "issue_author"),
    ]
    assert out.event_id == ["7", "8"] and out.created_at_ms.tolist() == [1420070400000, 1420070401000]
    assert out.event_times_ms.tolist()[0] == 1388563200000  # -08:00 → UTC
    assert stats.dropped == {"self": 1, "no_actor": 1, "no_counterpart": 1}
    assert stats.dropped_pairs == {"self": 2, "duplicate": 1}
    assert stats.kept_events == 2 and stats.events == 5 and stats.filtered_share == pytest.approx(0.6)
    merged = FilterStats().merge(stats).merge(stats)
    assert merged.events == 10 and merged.dropped["self"] == 2 and merged.filtered_share == pytest.approx(0.6)


def test_empty_batch() -> None:
    out = extract([], FilterStats())
    assert len(out) == 0 and out.created_at_ms.dtype == np.int64 and len(out.event_times_ms) == 0


def test_docs_list_the_rules_of_the_code() -> None:
    assert rules_markdown() in (ROOT / "docs/interactions.md").read_text()


def test_batches_from_events_module_feed_extract() -> None:
    stats = FilterStats()
    batches = list(iter_event_batches([str(DATA / "2015-01-01-12.json.gz")], InputReport(), batch_lines=500))
    total = sum(len(extract(b, stats)) for b in batches)
    assert total == stats.interactions and stats.events == 8273
