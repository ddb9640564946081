"""Fuzz: mutated real GH Archive lines among untouched ones lose nothing and crash nothing.

From every file in ../shared/data/gharchive, a seeded generator (``random.Random``; the seed is in the test id)
takes runs of real lines and mutates some of them: truncation, byte flips, nesting 900–100 000 deep (in a field
the decoder skips and in one it reads), huge strings (also over ``max_line_bytes``), odd Unicode and invalid
UTF-8, BOMs, NULs (raw and ``\\u0000`` in logins), wrong types, poisoned timestamps, blank lines. Each mix is read
through ``read_interactions`` as plain JSON and gzip-compressed (one member, and split into several members).

Cases: 5 files × 4 seeds = 20 mixes of ~600 real lines, 30 % of them mutated (14 kinds), 5 % preceded by a blank or
whitespace line, half the mixes opening with a BOM; each mix read 3 ways: 60 reads of 3,662 mutated lines (130 of
them over max_line_bytes), 8,428 untouched and 599 blank lines in all (~25 s). Checked for each read: no
exception; every line is either an accepted event or reported with its file:line (and a reason of REASONS),
never both except ``bad_login`` (an event that gives no interaction); only mutated lines are reported, each with
its raw text in the quarantine; the interactions are exactly, in order, those each accepted line gives when read
alone, so every untouched line gives what it gives alone; the three reads agree.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import re
from pathlib import Path

import msgspec
import pytest

from networkpulse.events import REASONS, InputReport, RawEvent
from networkpulse.venturi import FilterStats, InteractionBatch, extract, read_interactions

DATA = Path(__file__).resolve().parents[3] / "shared/data/gharchive"
FILES = sorted(p.name for p in DATA.glob("*.json.gz"))
SEEDS = range(4)
LINES = 600
MAX_LINE_BYTES = 1 << 20  # small enough that a huge string can cross it
BOM = b"\xef\xbb\xbf"
JSON_SPACE = b" \t\r\n"
Row = tuple[str, str, str, str, int, str]


def deep(rng: random.Random) -> bytes:
    depth = rng.choice([500, 2000, 5000, 100_000])  # not near ~1000: the limit moves with the stack depth
    return b"[" * depth + b"]" * depth


def login_field(line: bytes) -> re.Match[bytes] | None:
    return re.search(rb'"(?:login|actor|owner)":"([^"\\]*)"', line)


def mutate(line: bytes, rng: random.Random) -> bytes:
    """One random mutation of a real event line (it may stay a valid event)."""
    kind = rng.randrange(14)
    if kind == 0:  # truncation
        return line[: rng.randrange(1, len(line))]
    if kind == 1:  # byte flips, possibly a newline (the line then becomes two)
        data = bytearray(line)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if kind == 2:  # deep nesting in a skipped field
        return line.replace(b"{", b'{"zz":' + deep(rng) + b",", 1)
    if kind == 3:  # deep nesting in a field the decoder reads
        return re.sub(rb'"payload":\{', b'"payload":{"pull_request":{"user":{"login":"x","q":' + deep(rng) + b"}},",
                      line, count=1)
    if kind == 4:  # a huge string, under or over max_line_bytes
        size = rng.choice([100_000, MAX_LINE_BYTES + 10])
        return line.replace(b"{", b'{"pad":"' + b"x" * size + b'",', 1)
    if kind == 5:  # odd Unicode in a login: escaped or raw, valid or not
        found = login_field(line)
        if found is None:
            return line + b"\xff"
        odd = rng.choice([b"\\u2028", b"\\ud83d\\ude00", "é".encode(), b"\\ud800", b"\xed\xa0\x80", b"\xc0\xaf",
                          b"\\u00a0", "\u200b".encode(), b"\\u0085", b"\x7f", b"\\t", b" "])
        return line[: found.end(1)] + odd + line[found.end(1):]
    if kind == 6:  # a BOM before the line (only the first line of a source may have one)
        return BOM + line
    if kind == 7:  # NULs: raw (not JSON) or escaped in a login
        found = login_field(line)
        if found is None or rng.random() < 0.5:
            at = rng.randrange(len(line))
            return line[:at] + b"\x00" + line[at:]
        return line[: found.end(1)] + b"\\u0000" + line[found.end(1):]
    if kind == 8:  # wrong types
        return rng.choice([
            re.sub(rb'"actor":(\{[^{}]*\}|"[^"]*"|null)', b'"actor":123', line, count=1),
            re.sub(rb'"created_at":"[^"]*"', b'"created_at":17', line, count=1),
            re.sub(rb'"type":"[^"]*"', b'"type":null', line, count=1),
            re.sub(rb'"payload":\{', b'"payload":{"issue":"x",', line, count=1),
            re.sub(rb'"repo":\{', b'"repo":{"name":[1],', line, count=1),
            b"[" + line + b"]",
        ])
    if kind == 9:  # a poisoned timestamp
        when = rng.choice([b"9999-12-31T23:59:59Z", b"2030-01-01T00:00:00Z", b"1970-01-01T00:00:00Z",
                           b"2006-06-01T00:00:00+02:00", b"9999-12-31T23:59:59-14:00", b"0001-01-01T00:00:00+01:00"])
        return re.sub(rb'"created_at":"[^"]*"', b'"created_at":"' + when + b'"', line, count=1)
    if kind == 10:  # a control character or whitespace in a login (valid JSON)
        found = login_field(line)
        if found is None:
            return line
        return line[: found.start(1)] + b"a\\u0001b " + line[found.start(1):]
    if kind == 11:  # garbage
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 200)))
    if kind == 12:  # two events on one line
        return line + line
    return line.replace(b"}", b"", 1)  # unbalanced


def build(name: str, seed: int) -> tuple[list[bytes], list[bool]]:
    """The lines of one mix (as they will be numbered in the file) and whether each is mutated."""
    rng = random.Random(f"{name}:{seed}")
    real = gzip.decompress((DATA / name).read_bytes()).split(b"\n")[:-1]
    start = rng.randrange(max(1, len(real) - LINES))
    lines: list[bytes] = []
    mutated: list[bool] = []
    for line in real[start : start + LINES]:
        roll = rng.random()
        if roll < 0.05:
            lines.append(rng.choice([b"", b"  ", b"\t\r"]))
            mutated.append(False)
        if roll < 0.3:
            for piece in mutate(line, rng).split(b"\n"):  # a flipped byte may have made a newline
                lines.append(piece)
                mutated.append(True)
        else:
            lines.append(line)
            mutated.append(False)
    if rng.random() < 0.5:
        lines[0] = BOM + lines[0]  # a BOM at the start of a source is dropped, not an error
    return lines, mutated


def alone(line: bytes) -> list[Row]:
    """The interactions of one line read alone (decode + venturi on just that event)."""
    batch = extract([msgspec.json.decode(line, type=RawEvent)], FilterStats())
    return rows(batch)


def rows(batch: InteractionBatch) -> list[Row]:
    return list(zip(batch.src, batch.dst, batch.kind, batch.event_type, batch.created_at_ms.tolist(),
                    batch.event_id, strict=True))


def read(path: Path) -> tuple[list[Row], list[int], InputReport, list[dict[str, object]]]:
    report, stats = InputReport(max_messages=10**9), FilterStats()
    quarantine = io.StringIO()
    got: list[Row] = []
    accepted: list[int] = []
    for batch in read_interactions([str(path)], report, stats, quarantine=quarantine,
                                   max_line_bytes=MAX_LINE_BYTES, batch_lines=97):
        assert batch.source == str(path) and len(batch.event_lines) == len(batch.event_times_ms)
        got += rows(batch)
        accepted += batch.event_lines.tolist()
    assert stats.events == len(accepted) == stats.kept_events + sum(stats.dropped.values())
    records = [json.loads(x) for x in quarantine.getvalue().splitlines()]
    return got, accepted, report, records


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", FILES)
def test_mutated_real_lines_lose_nothing(tmp_path: Path, name: str, seed: int) -> None:
    lines, mutated = build(name, seed)
    text = b"\n".join(lines) + b"\n"
    plain = tmp_path / "mix.json"
    plain.write_bytes(text)
    one = tmp_path / "mix.json.gz"
    one.write_bytes(gzip.compress(text, compresslevel=1))
    cuts = sorted(random.Random(seed).sample(range(1, len(lines)), 3))
    parts = [b"\n".join(lines[a:b]) + b"\n" for a, b in zip([0, *cuts], [*cuts, len(lines)], strict=True)]
    many = tmp_path / "members.json.gz"
    many.write_bytes(b"".join(gzip.compress(p, compresslevel=1) for p in parts))

    results = []
    for path in (plain, one, many):
        got, accepted, report, records = read(path)
        reported = {e.line: e.reason.split(":")[0] for e in report.errors}
        assert len(reported) == len(report.errors) == report.skipped  # one report per line, all listed
        assert set(reported.values()) <= set(REASONS)
        assert all(e.source == str(path) for e in report.errors)
        nonblank = {n for n, line in enumerate(lines, 1) if line.strip(JSON_SPACE)}
        bad_logins = {n for n, why in reported.items() if why == "bad_login"}
        # every line is an accepted event or reported, never both (except a bad login: an event, no interaction)
        assert set(accepted) | set(reported) == nonblank
        assert set(accepted) & set(reported) == bad_logins
        # only mutated lines are reported; the quarantine holds each reported line's raw text
        assert all(mutated[n - 1] for n in reported), [(n, lines[n - 1][:200]) for n in reported if not mutated[n - 1]]
        text_of = {n: line for n, line in enumerate(lines, 1)}
        text_of[1] = lines[0].removeprefix(BOM)  # a BOM opening the source is dropped before anything else
        for record in records:
            assert reported[record["line"]] == str(record["reason"]).split(":")[0]
            raw = text_of[record["line"]]
            if record.get("raw_truncated"):
                assert record["raw_bytes"] == len(raw)
            else:
                assert record["raw"] == raw.decode("utf-8", errors="replace")
        assert {r["line"] for r in records} == set(reported) - bad_logins
        # the interactions are exactly, in order, what each accepted line gives alone
        want = [row for n in accepted for row in alone(text_of[n])]
        assert got == want
        results.append((got, accepted, reported))
    assert results[0] == results[1] == results[2]
