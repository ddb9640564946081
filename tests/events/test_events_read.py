"""Every GH Archive era parses; sources expand; stdin works; times are UTC epoch ms."""

from __future__ import annotations

import gzip
import io
import json
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from networkpulse.errors import ConfigError
from networkpulse.events import InputReport, Login, RawEvent, expand_sources, iter_event_batches
from networkpulse.events.gharchive import epoch_ms
from networkpulse.venturi import FilterStats, read_interactions

DATA = Path(__file__).resolve().parents[3] / "shared/data/gharchive"

# (file, events, first and last created_at in UTC) from PROVENANCE.md
FILES = [
    ("2011-02-15-0.json.gz", 1639, "2011-02-15T00:00:06Z", "2011-02-15T00:59:58Z"),
    ("2013-02-15-0.json.gz", 6851, "2013-02-15T08:00:34Z", "2013-02-15T09:00:34Z"),
    ("2014-02-15-0.json.gz", 7119, "2014-02-15T08:03:54Z", "2014-02-15T09:03:52Z"),
    ("2015-01-01-12.json.gz", 8273, "2015-01-01T12:00:01Z", "2015-01-01T12:59:59Z"),
    ("2025-01-01-15.first2048.json.gz", 2048, "2025-01-01T15:00:00Z", "2025-01-01T15:00:38Z"),
]


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


@pytest.mark.parametrize(("name", "count", "first", "last"), FILES)
def test_every_era_parses_completely(name: str, count: int, first: str, last: str) -> None:
    report = InputReport()
    batches = list(iter_event_batches([str(DATA / name)], report, batch_lines=1000))
    assert report.skipped == 0, report.messages
    assert sum(len(b) for b in batches) == count == report.events
    assert all(len(b) <= 1000 for b in batches)
    assert {b.source for b in batches} == {str(DATA / name)}
    times = [ev.created_at.timestamp() * 1000 for b in batches for ev in b.events]
    assert int(min(times)) == ms(first) and int(max(times)) == ms(last)


def test_timeline_offsets_become_utc_ms() -> None:
    stats = FilterStats()
    out = list(read_interactions([str(DATA / "2013-02-15-0.json.gz")], InputReport(), stats))
    times = np.concatenate([b.event_times_ms for b in out])
    assert times.dtype == np.int64 and len(times) == 6851
    with gzip.open(DATA / "2013-02-15-0.json.gz") as f:
        first_line = json.loads(f.readline())["created_at"]
    assert first_line == "2013-02-15T00:00:39-08:00"
    assert times[0] == ms("2013-02-15T08:00:39+00:00") == 1360915239000
    assert times.min() == ms("2013-02-15T08:00:34Z") and times.max() == ms("2013-02-15T09:00:34Z")


def test_era_specific_shapes() -> None:
    def events(name: str) -> list:
        return [ev for b in iter_event_batches([str(DATA / name)], InputReport()) for ev in b.events]

    old = events("2011-02-15-0.json.gz")
    assert any(ev.repo is not None and ev.repo.name == "/" for ev in old)
    assert any(ev.type == "MemberEvent" and isinstance(ev.payload.member, str) for ev in old)
    timeline = events("2014-02-15-0.json.gz")
    assert sum(ev.actor is None for ev in timeline) == 61
    assert all(ev.id == "" and (ev.actor is None or isinstance(ev.actor, str)) for ev in timeline)
    modern = events("2025-01-01-15.first2048.json.gz")
    assert all(isinstance(ev.actor, Login) and ev.id for ev in modern)


def test_expand_folder_glob_and_nothing(tmp_path: Path) -> None:
    names = [f[0] for f in FILES]
    assert expand_sources([str(DATA)]) == [str(DATA / n) for n in sorted(names)]  # no PROVENANCE.md, schema/
    assert expand_sources([str(DATA / "201*.json.gz")]) == [str(DATA / n) for n in sorted(names)[:4]]
    one = str(DATA / names[0])
    assert expand_sources([one, str(DATA / "2011*"), "-"]) == [one, "-"]
    with pytest.raises(ConfigError, match="nope"):
        expand_sources([one, str(tmp_path / "nope*.json.gz")])
    with pytest.raises(ConfigError, match=r"missing\.json"):
        expand_sources([str(tmp_path / "missing.json")])


@pytest.mark.parametrize("compress", [True, False])
def test_stdin(monkeypatch: pytest.MonkeyPatch, compress: bool) -> None:
    raw = (DATA / "2011-02-15-0.json.gz").read_bytes()
    data = raw if compress else gzip.decompress(raw)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    report = InputReport()
    batches = list(iter_event_batches(expand_sources(["-"]), report))
    assert sum(len(b) for b in batches) == 1639 and report.skipped == 0
    assert batches[0].source == "-"


def test_multiple_files_and_plain_json(tmp_path: Path) -> None:
    plain = tmp_path / "x.json"
    plain.write_bytes(gzip.decompress((DATA / "2025-01-01-15.first2048.json.gz").read_bytes()))
    # concatenated gzip members are one valid gzip stream
    double = tmp_path / "double.json.gz"
    double.write_bytes((DATA / "2011-02-15-0.json.gz").read_bytes() * 2)
    report = InputReport()
    counts: dict[str, int] = {}
    for b in iter_event_batches([str(plain), str(double)], report):
        counts[b.source] = counts.get(b.source, 0) + len(b)
    assert counts == {str(plain): 2048, str(double): 2 * 1639}
    assert report.skipped == 0 and report.files == 2


def test_sources_come_in_event_time_order_and_once(tmp_path: Path) -> None:
    """GH Archive hours are not zero-padded: plain name order reads -10 before -2 and the watermark drops -2."""
    hours = [f"2015-01-01-{h}.json.gz" for h in range(24)] + ["2015-01-02-0.json.gz"]
    others = ["extra-part10.json", "extra-part2.json"]
    for name in hours + others:
        (tmp_path / name).write_bytes(b"")
    in_time = [str(tmp_path / n) for n in hours] + [str(tmp_path / others[1]), str(tmp_path / others[0])]
    assert expand_sources([str(tmp_path)]) == in_time
    assert expand_sources([str(tmp_path / "*.json*")]) == in_time
    h8, h12 = str(tmp_path / hours[8]), str(tmp_path / hours[12])
    assert expand_sources([h12, h8]) == [h8, h12]  # the command line is put in time order too
    assert expand_sources([h12, h8, "-"]) == [h8, h12, "-"] and expand_sources(["-", h12, h8]) == ["-", h8, h12]
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "latest.json.gz").symlink_to(tmp_path / hours[3])
    again = [str(tmp_path / "sub" / "latest.json.gz"), str(tmp_path / "sub" / ".." / hours[3]), h12]
    assert expand_sources([*again, str(tmp_path)]) == in_time  # one real file is read once, at its hour


def test_each_event_knows_its_line(tmp_path: Path) -> None:
    """EventBatch.lines: the 1-based line of every event, exact across chunks, batches, blank and CRLF lines."""
    text = gzip.decompress((DATA / "2015-01-01-12.json.gz").read_bytes()).split(b"\n")[:-1]
    rows: list[bytes] = []
    want: list[int] = []
    for i, line in enumerate(text):
        if i % 997 == 5:
            rows += [b"", b" \t\r"]  # blank and whitespace-only lines are not events, but they are lines
        rows.append(line + b"\r" if i % 3 == 0 else line)
        want.append(len(rows))
    path = tmp_path / "spaced.json.gz"
    path.write_bytes(gzip.compress(b"\n".join(rows)))  # no newline after the last line
    report = InputReport()
    batches = list(iter_event_batches([str(path)], report, batch_lines=1000))
    assert report.skipped == 0 and sum(len(b) for b in batches) == len(text)
    for b in batches:
        assert b.lines.dtype == np.int64 and len(b.lines) == len(b.events)
    lines = np.concatenate([b.lines for b in batches])
    assert lines.tolist() == want
    # the event on each reported line is the one written there
    ids = [ev.id for b in batches for ev in b.events]
    assert all(f'"id":"{i}"'.encode() in rows[n - 1] for i, n in zip(ids, lines.tolist(), strict=True))


@pytest.mark.parametrize(
    "stamps",
    [
        ["2015-01-01T12:00:01Z", "2015-01-01T12:59:59Z"],
        ["2013-02-15T00:00:39-08:00", "2013-02-15T01:00:34-08:00"],
        ["2013-03-10T01:59:59-08:00", "2013-03-10T03:00:00-07:00"],  # a DST switch inside one chunk
        ["2015-01-01T12:00:01.250Z", "2015-01-01T12:00:01Z"],  # fractions
        ["2015-01-01T12:00:01+00:00", "2015-01-01T13:00:01+01:00", "2015-01-01T12:00:01Z"],
        ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+01:00", "2011-02-15T00:00:06+05:30"],
        ["2025-01-01T15:00:00Z"],
        [],
    ],
)
def test_epoch_ms_equals_timestamp(stamps: list[str]) -> None:
    events = [RawEvent("X", datetime.fromisoformat(s)) for s in stamps]
    got = epoch_ms(events)
    assert got.dtype == np.int64
    assert got.tolist() == [round(ev.created_at.timestamp() * 1000) for ev in events]
