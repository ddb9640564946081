"""Bad input loses nothing: each bad unit is counted with file:line and reason, the good lines around it
survive."""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
import tracemalloc
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from networkpulse.events import GITHUB_EPOCH_MS, InputReport, iter_event_batches
from networkpulse.events.plausible import TimeCheck
from networkpulse.venturi import FilterStats, read_interactions

DATA = Path(__file__).resolve().parents[3] / "shared/data/gharchive"
GOOD = (
    b'{"id":"%d","type":"WatchEvent","actor":{"login":"a%d"},"repo":{"name":"o/r"},'
    b'"created_at":"2015-01-01T00:00:00Z"}'
)


def good(i: int) -> bytes:
    return GOOD % (i, i)


def read(paths: list[Path | str], **kw: object) -> tuple[list[str], InputReport]:
    report = InputReport()
    ids = [ev.id for b in iter_event_batches([str(p) for p in paths], report, **kw) for ev in b.events]  # type: ignore[arg-type]
    return ids, report


def test_truncated_gzip_keeps_lines_before_the_cut(tmp_path: Path) -> None:
    raw = (DATA / "2015-01-01-12.json.gz").read_bytes()
    cut = raw[: len(raw) // 2]
    path = tmp_path / "cut.json.gz"
    path.write_bytes(cut)
    complete = zlib.decompressobj(31).decompress(cut).count(b"\n")  # lines fully inside the surviving bytes
    ids, report = read([path])
    assert len(ids) == complete > 3000
    assert report.by_reason == {"truncated_gzip": 1} and report.skipped == 1
    assert report.messages[0].startswith(f"{path}:{complete + 1}: truncated_gzip")
    assert report.errors[0].line == complete + 1 and report.errors[0].source == str(path)


def test_corrupt_gzip(tmp_path: Path) -> None:
    raw = bytearray((DATA / "2011-02-15-0.json.gz").read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = b"\xff" * 64
    path = tmp_path / "bad.json.gz"
    path.write_bytes(bytes(raw))
    ids, report = read([path])
    assert report.skipped == 1 and set(report.by_reason) <= {"corrupt_gzip", "malformed_json", "wrong_shape"}
    # the lines before the damage survive (salvaged by re-inflating up to the bad bytes)
    intact = zlib.decompressobj(31)
    survived = b""
    for i in range(0, len(raw), 256):
        try:
            survived += intact.decompress(bytes(raw[i : i + 256]))
        except zlib.error:
            break
    assert len(ids) == survived.count(b"\n") > 700
    assert report.messages[0].startswith(f"{path}:{len(ids) + 1}: corrupt_gzip")


def test_bad_lines_are_isolated_with_line_numbers(tmp_path: Path) -> None:
    lines = [
        good(1),
        b'{"id":"2","type":"WatchEvent","actor":',  # malformed JSON
        good(3),
        good(4).replace(b'{"login":"a4"}', b"123"),  # "actor": 123
        good(5).replace(b',"created_at":"2015-01-01T00:00:00Z"', b""),  # no created_at
        b"\x00\xff\xfe\x80garbage\x01",  # binary garbage
        b"",  # blank lines are not events and not errors
        good(8),
        good(9).replace(b"2015-01-01T00:00:00Z", b"yesterday"),
        good(10),
    ]
    path = tmp_path / "mixed.json"
    path.write_bytes(b"\n".join(lines))  # no newline at the end of the last line
    quarantine = io.StringIO()
    report = InputReport()
    ids = [e.id for b in iter_event_batches([str(path)], report, quarantine=quarantine) for e in b.events]
    assert ids == ["1", "3", "8", "10"]
    assert report.by_reason == {"malformed_json": 2, "wrong_shape": 3}
    assert [m.split(": ")[0:2] for m in report.messages] == [
        [f"{path}:2", "malformed_json"],
        [f"{path}:4", "wrong_shape"],
        [f"{path}:5", "wrong_shape"],
        [f"{path}:6", "malformed_json"],
        [f"{path}:9", "wrong_shape"],
    ]
    assert "actor" in report.messages[1] and "created_at" in report.messages[2]
    records = [json.loads(x) for x in quarantine.getvalue().splitlines()]
    assert [r["line"] for r in records] == [2, 4, 5, 6, 9]
    assert records[0] == {
        "source": str(path),
        "line": 2,
        "reason": records[0]["reason"],
        "raw": lines[1].decode(),
    }
    assert records[3]["raw"].startswith("\x00\ufffd")
    assert "skipped 5" in report.summary()


def test_bad_line_deep_in_a_big_file_has_the_right_line_number(tmp_path: Path) -> None:
    text = gzip.decompress((DATA / "2015-01-01-12.json.gz").read_bytes()).split(b"\n")
    text.insert(4999, b"{not json")  # becomes line 5000, several MiB into the stream
    path = tmp_path / "big.json.gz"
    path.write_bytes(gzip.compress(b"\n".join(text)))
    ids, report = read([path])
    assert len(ids) == 8273 and report.messages == [report.messages[0]]
    assert report.messages[0].startswith(f"{path}:5000: malformed_json")


def test_50mb_line_is_skipped_while_streaming(tmp_path: Path) -> None:
    huge = b'{"id":"big","type":"PushEvent","pad":"' + b"x" * (50 << 20) + b'"}'
    path = tmp_path / "huge.json.gz"
    path.write_bytes(gzip.compress(b"\n".join([good(1), huge, good(3)]) + b"\n", compresslevel=1))
    huge_len = len(huge)
    del huge
    quarantine = io.StringIO()
    report = InputReport()
    tracemalloc.start()
    ids = [e.id for b in iter_event_batches([str(path)], report, quarantine=quarantine) for e in b.events]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert ids == ["1", "3"]
    assert report.by_reason == {"line_too_long": 1}
    assert report.messages[0].startswith(f"{path}:2: line_too_long")
    assert peak < 48 << 20  # bounded by max_line_bytes (16 MiB) + chunks, never the 50 MB line
    record = json.loads(quarantine.getvalue())
    assert record["line"] == 2 and record["raw_truncated"] is True
    assert record["raw_bytes"] == huge_len and len(record["raw"]) >= 1 << 20


def test_small_max_line_bytes_inside_a_chunk(tmp_path: Path) -> None:
    path = tmp_path / "small.json"
    path.write_bytes(b"\n".join([good(1), b'{"pad":"' + b"y" * 500 + b'"}', good(3)]))
    ids, report = read([path], max_line_bytes=300)
    assert ids == ["1", "3"] and report.messages[0].startswith(f"{path}:2: line_too_long")


def test_not_gzip_and_missing_file_do_not_stop_the_stream(tmp_path: Path) -> None:
    fake = tmp_path / "fake.json.gz"
    fake.write_bytes(good(1) + b"\n")
    missing = tmp_path / "gone.json.gz"
    plain = tmp_path / "ok.json"
    plain.write_bytes(good(7) + b"\n")
    ids, report = read([fake, missing, plain])
    assert ids == ["7"]
    assert report.by_reason == {"not_gzip": 1, "unreadable": 1}
    assert report.messages[0].startswith(f"{fake}: not_gzip")
    assert report.messages[1] == f"{missing}: unreadable: No such file or directory"
    assert report.errors[1].line is None


def test_bad_lines_keep_the_line_numbers_of_the_good_ones(tmp_path: Path) -> None:
    path = tmp_path / "mixed.json"
    path.write_bytes(b"\n".join([good(1), b"{oops", b"", good(4), b"  ", good(6)]))
    report = InputReport()
    lines = [n for b in iter_event_batches([str(path)], report) for n in b.lines.tolist()]
    assert lines == [1, 4, 6] and report.messages[0].startswith(f"{path}:2: malformed_json")


def deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize("where", ["skipped_field", "payload", "last_line"])
def test_json_nested_too_deep_is_a_malformed_line(tmp_path: Path, where: str) -> None:
    """msgspec raises RecursionError (not DecodeError) past ~1000 levels, even in a field it skips."""
    nested = good(2).replace(b'"created_at"', b'"zz":' + deep(5000) + b',"created_at"')
    if where == "payload":
        user = b'{"login":"u","deep":' + deep(100_000) + b"}"  # skipped, under fields that are decoded
        nested = good(2).replace(b'"repo"', b'"payload":{"pull_request":{"user":' + user + b'}},"repo"')
    lines = [good(1), nested, good(3)] if where != "last_line" else [good(1), good(3), nested]
    path = tmp_path / "deep.json"
    path.write_bytes(b"\n".join(lines))
    quarantine = io.StringIO()
    report = InputReport()
    got = [(e.id, int(n)) for b in iter_event_batches([str(path)], report, quarantine=quarantine)
           for e, n in zip(b.events, b.lines, strict=True)]
    bad = 2 if where != "last_line" else 3
    assert got == ([("1", 1), ("3", 3)] if bad == 2 else [("1", 1), ("3", 2)])
    assert report.by_reason == {"malformed_json": 1}
    assert report.messages[0].startswith(f"{path}:{bad}: malformed_json: ") and "deep" in report.messages[0]
    assert json.loads(quarantine.getvalue())["line"] == bad


@pytest.mark.parametrize("compress", [True, False])
def test_utf8_bom_at_the_start_is_not_a_bad_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 compress: bool) -> None:
    data = b"\xef\xbb\xbf" + b"\n".join([good(1), good(2)]) + b"\n"
    data = gzip.compress(data) if compress else data
    path = tmp_path / ("bom.json.gz" if compress else "bom.json")
    path.write_bytes(data)
    ids, report = read([path])
    assert ids == ["1", "2"] and report.skipped == 0
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    ids, report = read(["-"])
    assert ids == ["1", "2"] and report.skipped == 0


def poisoned(tmp_path: Path, when: bytes, at: int | None) -> tuple[Path, bytes, int]:
    """The real 2015 hour with a copy of one of its events, dated ``when``, inserted as line ``at`` (None: last,
    without a newline, so it is decoded alone at the end of the stream)."""
    text = gzip.decompress((DATA / "2015-01-01-12.json.gz").read_bytes()).split(b"\n")[:-1]
    line = re.sub(rb'"created_at":"[^"]*"', b'"created_at":"' + when + b'"', text[4321])
    line = line.replace(b'"id":"', b'"id":"poison')
    at = len(text) + 1 if at is None else at
    text.insert(at - 1, line)
    path = tmp_path / "2015-01-01-12.json.gz"
    path.write_bytes(gzip.compress(b"\n".join(text)))
    return path, line, at


@pytest.mark.parametrize("when", [b"9999-12-31T23:59:59Z", b"2030-06-01T00:00:00Z", b"2006-01-01T00:00:00Z",
                                  b"2015-01-01T15:00:00+00:00"])
@pytest.mark.parametrize("at", [4000, None])
def test_one_poisoned_timestamp_is_skipped_alone(tmp_path: Path, when: bytes, at: int | None) -> None:
    """One event dated far ahead would move the engine's watermark and drop the rest of the hour as late."""
    path, line, at = poisoned(tmp_path, when, at)
    quarantine = io.StringIO()
    report, stats = InputReport(), FilterStats()
    got = list(read_interactions([str(path)], report, stats, quarantine=quarantine))
    assert report.by_reason == {"implausible_time": 1} and report.skipped == 1
    assert report.messages[0].startswith(f"{path}:{at}: implausible_time: created_at ")
    assert json.loads(quarantine.getvalue()) == {
        "source": str(path), "line": at, "reason": report.errors[0].reason, "raw": line.decode()
    }
    want = list(read_interactions([str(DATA / "2015-01-01-12.json.gz")], InputReport(), FilterStats()))
    assert stats.events == report.events == 8273
    assert [ev for b in got for ev in zip(b.src, b.dst, b.kind, b.event_id, b.created_at_ms.tolist(), strict=True)] \
        == [ev for b in want for ev in zip(b.src, b.dst, b.kind, b.event_id, b.created_at_ms.tolist(), strict=True)]
    assert np.concatenate([b.event_times_ms for b in got]).tolist() \
        == np.concatenate([b.event_times_ms for b in want]).tolist()
    lines = np.concatenate([b.event_lines for b in got])
    assert at not in lines and len(lines) == 8273


def test_max_skew_ms_sets_how_far_ahead_is_implausible(tmp_path: Path) -> None:
    path, _, _ = poisoned(tmp_path, b"2015-01-01T15:30:00Z", 100)  # ~3 h after the events around it
    assert read([path])[1].by_reason == {"implausible_time": 1}
    assert read([path], max_skew_ms=4 * 3_600_000)[1].skipped == 0


def test_years_between_files_are_not_implausible() -> None:
    report = InputReport()
    n = sum(len(b) for b in iter_event_batches([str(p) for p in sorted(DATA.glob("*.json.gz"))], report))
    assert report.skipped == 0 and n == 1639 + 6851 + 7119 + 8273 + 2048


def test_invalid_utf8_inside_a_string_is_a_malformed_line(tmp_path: Path) -> None:
    """msgspec raises UnicodeDecodeError (not DecodeError) for bad UTF-8 inside a string it decodes."""
    path = tmp_path / "utf8.json"
    path.write_bytes(b"\n".join([good(1), good(2).replace(b'"a2"', b'"a\xc0\xaf2"'), good(3)]))
    ids, report = read([path])
    assert ids == ["1", "3"] and report.by_reason == {"malformed_json": 1}
    assert report.messages[0].startswith(f"{path}:2: malformed_json: invalid UTF-8")


def test_two_events_on_one_line_are_one_malformed_line(tmp_path: Path) -> None:
    """decode_lines splits on any whitespace, so it would read two events from one line (and shift line numbers);
    a GH Archive line holds one event, as the per-line path says."""
    path = tmp_path / "two.json"
    path.write_bytes(b"\n".join([good(1) + good(2), b"", good(3), good(4) + b" " + good(5), good(6)]) + b"\n")
    report = InputReport()
    got = [(e.id, int(n)) for b in iter_event_batches([str(path)], report) for e, n in zip(b.events, b.lines,
                                                                                             strict=True)]
    assert got == [("3", 3), ("6", 5)]
    assert [m.split(": ")[:2] for m in report.messages] == [[f"{path}:1", "malformed_json"],
                                                            [f"{path}:4", "malformed_json"]]
    assert "trailing characters" in report.messages[0]


def test_time_check_rule() -> None:
    """The median of the chunk and the accepted recent events is the reference; the wall clock caps it."""
    hour, t0 = 3_600_000, 1_420_113_600_000  # 2015-01-01T12:00Z
    check = TimeCheck(hour, clock=lambda: (t0 + 100 * hour) / 1000)
    chunk = np.array([t0, t0 + 1000, t0 + 2 * hour, t0 + 2000, GITHUB_EPOCH_MS - 1], np.int64)
    assert (check.check(chunk) == [False, False, True, False, True]).all()
    assert check.check(np.array([t0 + 90 * hour], np.int64)) is not None  # alone, but the recent events remain
    said = check.explain(datetime(2015, 1, 5, 18, tzinfo=UTC), t0 + 90 * hour)
    assert said.startswith("created_at 2015-01-05T18:00:00+00:00 is 90.0 h ahead of 2015-01-01T12:00:01"), said
    alone = TimeCheck(hour, clock=lambda: t0 / 1000)
    bad = alone.check(np.array([t0 + 2 * hour], np.int64))  # a file of one event from the future
    assert bad is not None and "after the time it was read" in alone.explain(datetime(2015, 1, 1, 14, tzinfo=UTC),
                                                                            t0 + 2 * hour)
    assert TimeCheck(hour).check(np.array([t0, t0 + hour // 2], np.int64)) is None
