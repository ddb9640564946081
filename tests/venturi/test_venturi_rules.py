"""venturi on the real files, checked against a plain json.loads reference of the documented rules."""

from __future__ import annotations

import gzip
import json
import re
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
# file → events whose actor is the repository owner: PROVENANCE.md's figure (repo.name / repository.owner only)
# plus the events whose owner only a fallback field names and who are their own repo's actor (measured).
ACTOR_IS_OWNER = {
    "2011-02-15-0.json.gz": 878 + 53,
    "2013-02-15-0.json.gz": 3164 + 14,
    "2014-02-15-0.json.gz": 4050,
    "2015-01-01-12.json.gz": 4706,
    "2025-01-01-15.first2048.json.gz": 1227,
}
# file → events whose owner comes from a fallback: 2011 `repo.name == "/"` with payload.repo (68, one without an
# actor); 2013 `repository.owner == ""` (39, of which 2 ForkEvents whose url names the new fork, not the owner).
OWNERS_RECOVERED = {"2011-02-15-0.json.gz": 67, "2013-02-15-0.json.gz": 37}
REPO_URL = re.compile(r"https?://github\.com/([^/?#\s]+)/([^/?#\s]+)(?:[/?#]|$)")

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
        if not owner and "repo" in e and isinstance(payload.get("repo"), str):
            owner = payload["repo"].partition("/")[0]
        elif not owner and e.get("repository") and e["type"] != "ForkEvent":
            url = REPO_URL.match(e.get("url") or "")
            owner = url[1] if url and url[2].lower() == e["repository"].get("name", "").lower() else None
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
    assert stats.owners_recovered == OWNERS_RECOVERED.get(name, 0)
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


def test_repo_owner_recovered_where_the_event_names_it_elsewhere() -> None:
    """2011 `repo.name == "/"` → payload.repo; 2013 empty repository.owner → the event's url, if unambiguous."""
    def pairs(name: str) -> set[tuple[str, str, str]]:
        stats = FilterStats()
        out = list(read_interactions([str(DATA / name)], InputReport(), stats))
        assert stats.owners_recovered == OWNERS_RECOVERED[name]
        return {(s, d, t) for b in out for s, d, k, t in zip(b.src, b.dst, b.kind, b.event_type, strict=True)
                if k == "repo_owner"}

    old = pairs("2011-02-15-0.json.gz")
    assert {("cstrahan", "chrisdone", "WatchEvent"), ("SecurityBundle", "felipecrp", "ForkEvent")} <= old
    timeline = pairs("2013-02-15-0.json.gz")
    assert {("Benja-gipsy-king", "jakesgordon", "WatchEvent"), ("crynobone", "orchestral", "PushEvent")} <= timeline

    def owner_of(line: bytes) -> list[str]:
        return extract(msgspec.json.Decoder(RawEvent).decode_lines(line), FilterStats()).dst

    def timeline_event(kind: str, url: bytes, name: bytes = b"r") -> bytes:
        return (b'{"type":"' + kind.encode() + b'","actor":"a","repository":{"owner":"","name":"' + name
                + b'"},"url":"' + url + b'","created_at":"2013-01-01T00:00:00-08:00"}')

    assert owner_of(timeline_event("IssuesEvent", b"https://github.com/o/r/issues/1")) == ["o"]
    assert owner_of(timeline_event("IssuesEvent", b"https://github.com/o/R")) == ["o"]  # names compare like logins
    assert owner_of(timeline_event("DownloadEvent", b"https://github.com/downloads/o/r/x.zip")) == []
    assert owner_of(timeline_event("GistEvent", b"https://gist.github.com/o/r")) == []
    assert owner_of(timeline_event("ForkEvent", b"https://github.com/x/r")) == []  # the new fork, not the owner
    assert owner_of(timeline_event("PushEvent", b"https://github.com/o/other/compare/1...2")) == []
    weird = b'{"type":"X","actor":"a","repo":{"name":"/"},"payload":{"repo":7},"created_at":"2011-01-01T01:00:00Z"}'
    assert owner_of(weird) == []  # an odd type in a fallback field costs neither the event nor an error


def test_interactions_know_source_and_line_of_every_event() -> None:
    path = DATA / "2013-02-15-0.json.gz"
    batches = list(read_interactions([str(path)], InputReport(), FilterStats(), batch_lines=1000))
    assert {b.source for b in batches} == {str(path)}
    for b in batches:
        assert b.event_lines.dtype == np.int64 and len(b.event_lines) == len(b.event_times_ms)
    lines = np.concatenate([b.event_lines for b in batches])
    times = np.concatenate([b.event_times_ms for b in batches])
    assert lines.tolist() == list(range(1, 6852))
    with gzip.open(path) as f:
        text = f.read().splitlines()
    for n in (1, 2345, 6851):  # the time at line n is the created_at written on line n
        when = datetime.fromisoformat(json.loads(text[n - 1])["created_at"])
        assert times[n - 1] == int(when.timestamp() * 1000)


def test_bad_logins_skip_their_event_with_file_and_line(tmp_path: Path) -> None:
    """A login with a control character or whitespace would crash the store later; GitHub logins have none."""
    text = gzip.decompress((DATA / "2015-01-01-12.json.gz").read_bytes()).split(b"\n")[:-1]
    ev = [json.loads(x) for x in text]
    issue = next(i for i, e in enumerate(ev) if e["type"] == "IssueCommentEvent" and e["actor"]["login"] != (
        e["payload"]["issue"]["user"]["login"]))
    owned = next(i for i, e in enumerate(ev) if e["repo"]["name"].split("/")[0] == e["actor"]["login"])
    bad = {
        10: text[10].replace(b'"login":"', b'"login":"ev\\u0000il', 1),  # actor
        20: text[20].replace(b'"name":"', b'"name":"own\\ter', 1),  # repo owner, a tab
        issue: text[issue].replace(b'"user":{"login":"', b'"user":{"login":"a b', 1),  # issue author, a space
        owned: text[owned].replace(ev[owned]["actor"]["login"].encode(), b"me\\u2028", 2),  # a self event, U+2028
    }
    assert ev[20]["actor"]["login"] != ev[20]["repo"]["name"].split("/")[0]
    dependabot = 30
    text[dependabot] = text[dependabot].replace(b'"login":"', b'"login":"dependabot[bot]', 1)
    mutated = list(text)
    for i, line in bad.items():
        mutated[i] = line
    path = tmp_path / "logins.json"
    path.write_bytes(b"\n".join(mutated) + b"\n")
    clean = tmp_path / "clean.json"
    clean.write_bytes(b"\n".join(text) + b"\n")
    report, stats = InputReport(), FilterStats()
    got = rows_of(list(read_interactions([str(path)], report, stats)))
    assert report.by_reason == {"bad_login": 4} and stats.dropped["bad_login"] == 4
    assert sorted(int(m.split(":")[1]) for m in report.messages) == sorted(i + 1 for i in bad)
    said = dict(m.split(": bad_login: ") for m in report.messages)
    assert " actor login 'ev\\x00il" in said[f"{path}:11"] and "expected a GitHub login" in said[f"{path}:11"]
    assert " counterpart (repo_owner) login 'own\\ter" in said[f"{path}:21"]
    assert " actor login 'me\\u2028" in said[f"{path}:{owned + 1}"]
    assert said[f"{path}:{issue + 1}"].startswith("IssueCommentEvent counterpart (issue_author) login 'a b")
    want = [r for r in rows_of(list(read_interactions([str(clean)], InputReport(), FilterStats())))
            if r[5] not in {ev[i]["id"] for i in bad}]
    assert got == want and any(r[0].startswith("dependabot[bot]") for r in got)
    assert stats.events == 8273 == stats.kept_events + sum(stats.dropped.values())
    assert all(s.isprintable() and " " not in s for r in got for s in r[:2])
