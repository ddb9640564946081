"""pulse firehose: the raw lines it publishes, its keys, bad lines reported as by `pulse run`, loops shifted."""

from __future__ import annotations

import gzip
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from networkpulse.cli import main
from networkpulse.events import InputReport, iter_event_batches
from networkpulse.services.firehose import RawLines, event_key, split_sources

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "gharchive"
REAL = DATA / "2025-01-01-15.first2048.json.gz"


def messy_file(tmp_path: Path, gz: bool) -> tuple[Path, list[bytes]]:
    """Real lines behind a BOM, with a blank line, a malformed line and a wrongly shaped one among them; the
    path and the lines that are events, in order."""
    lines = gzip.decompress(REAL.read_bytes()).splitlines()[:40]
    body = [lines[0], b"", *lines[1:10], b"{not json", *lines[10:20], b'{"type": "PushEvent"}', *lines[20:]]
    data = b"\xef\xbb\xbf" + b"\n".join(body) + b"\n"
    path = tmp_path / ("messy.json.gz" if gz else "messy.json")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path, lines


@pytest.mark.parametrize("gz", [False, True])
def test_raw_lines_are_the_lines_the_decoder_took_the_events_from(tmp_path: Path, gz: bool) -> None:
    path, events = messy_file(tmp_path, gz)
    report = InputReport()
    raw = RawLines(str(path))
    taken = []
    for batch in iter_event_batches([str(path)], report, batch_lines=7):
        taken += raw.take(batch.lines)
    raw.close()
    assert taken == events
    assert report.by_reason == {"malformed_json": 1, "wrong_shape": 1}


def test_stdin_is_refused_with_the_fix() -> None:
    from networkpulse.errors import ConfigError

    with pytest.raises(ConfigError, match="save the stream to a file first"):
        RawLines("-")


def test_sources_are_shared_by_size_and_keep_their_order(tmp_path: Path) -> None:
    sizes = {"a": 50, "b": 10, "c": 40, "d": 5}
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(b"x" * size)
    paths = [str(tmp_path / n) for n in sizes]
    shares = split_sources(paths, 2)
    assert shares == [[paths[0], paths[3]], [paths[1], paths[2]]]
    assert sorted(split_sources(paths, 9)) == [[p] for p in paths]  # one file each, never an idle producer


def test_events_are_keyed_by_their_actor_login_in_lower_case() -> None:
    report = InputReport()
    [batch] = iter_event_batches([str(REAL)], report, batch_lines=5000)
    keys = [event_key(e) for e in batch.events]
    logins = [json.loads(line)["actor"]["login"].lower().encode() for line in gzip.decompress(REAL.read_bytes())
              .splitlines()]
    assert keys == logins


@pytest.mark.kafka
@pytest.mark.skipif(not os.environ.get("PULSE_TEST_KAFKA"), reason="PULSE_TEST_KAFKA is unset")
def test_firehose_publishes_the_raw_events_reports_bad_lines_and_shifts_loops(
    tmp_path: Path, new_topic: Callable[[str], str]
) -> None:
    from networkpulse import bus
    from networkpulse.bus.raw_event import decode_raw_event

    path, events = messy_file(tmp_path, gz=True)
    url = new_topic("svc.firehose")
    result = CliRunner().invoke(main, ["firehose", str(path), "--to", url, "--loops", "2", "--partitions", "3"])
    assert result.exit_code == 3, result.output  # done, but input was skipped: as `pulse run`
    assert f"{len(events) * 2:,} events produced" in result.output
    assert f"{path}:12: malformed_json" in result.output and f"{path}:23: wrong_shape" in result.output
    source = bus.open_source(url, group=f"check-{uuid.uuid4().hex[:8]}")
    got = []
    batch = source.poll(1000, 15)
    while batch:
        got += [(m.key(), m.partition(), decode_raw_event(m.value())) for m in batch]
        batch = source.poll(1000, 2)
    source.close()
    assert len(got) == 2 * len(events)
    assert len({p for _, p, _ in got}) > 1  # keyed: spread over the partitions
    first = [json.loads(line) for line in events]
    # Per key, a partition keeps order: the events of one actor come in file order, loop 0 before loop 1.
    by_key: dict[bytes | None, list[dict[str, object]]] = {}
    for key, _, event in got:
        by_key.setdefault(key, []).append(event)
    want: dict[bytes | None, list[dict[str, object]]] = {}
    for event in first:
        want.setdefault(event["actor"]["login"].lower().encode(), []).append(event)
    assert by_key.keys() == want.keys()
    hour = 3_600_000
    for key, events_of_key in by_key.items():
        n = len(want[key])
        assert len(events_of_key) == 2 * n and events_of_key[:n] == want[key]
        for original, shifted in zip(events_of_key[:n], events_of_key[n:], strict=True):
            assert {**shifted, "created_at": original["created_at"]} == original
            lag = np.datetime64(shifted["created_at"][:-1]) - np.datetime64(original["created_at"][:-1])
            assert lag == np.timedelta64(hour, "ms")  # 40 events span < 1 h: the loop shift is one hour
