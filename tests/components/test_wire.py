"""The components stage's Avro messages: pane parts and windows round-trip exactly on real data, and a hostile
message (columns that disagree, indices out of range, a tree edge leaving its cluster) is a DecodeError with a
reason — the merger and the persister dead-letter or count it and go on."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from networkpulse.bus import DecodeError
from networkpulse.bus.avro import WINDOW, decode_pane_parts, decode_window, encode, encode_pane_parts, encode_window
from networkpulse.components import Merger, reduce_panes, window_record
from networkpulse.engine import WindowConfig
from tests.components.test_merger import _batches

CONFIG = WindowConfig()


@pytest.fixture(scope="module")
def parts_and_records() -> tuple[list, list]:
    merger, parts, records = Merger(CONFIG, idle_timeout_s=1e9), [], []
    for b in _batches():
        p = reduce_panes([b], CONFIG.slide_ms, 0, 1)
        parts.append(p)
        records += [window_record(w, merger.interner.logins) for w in merger.add(p, now_s=0.0)]
    return parts, records


def test_pane_parts_round_trip(parts_and_records: tuple[list, list]) -> None:
    for p in parts_and_records[0]:
        back = decode_pane_parts(encode_pane_parts(p))
        for f in dataclasses.fields(p):
            a, b = getattr(p, f.name), getattr(back, f.name)
            assert np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b, f.name


def test_windows_round_trip(parts_and_records: tuple[list, list]) -> None:
    records = parts_and_records[1]
    assert sum(r.window.n_clusters for r in records) > 100
    assert all(r.window.pairs is not None for r in records)  # the merger emits cluster pairs (for the analytics)
    for r in records:
        back, config, totals = decode_window(encode_window(r, '{"x": 1}', {"events": 5}))
        assert (config, totals, back.logins, back.provisional) == ('{"x": 1}', {"events": 5}, r.logins, False)
        for f in dataclasses.fields(r.window):
            a, b = getattr(r.window, f.name), getattr(back.window, f.name)
            assert np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b, f.name


def test_hostile_pane_parts_are_refused(parts_and_records: tuple[list, list]) -> None:
    p = next(p for p in parts_and_records[0] if len(p.src) > 2)
    for broken in (
        dataclasses.replace(p, src=p.dst.copy(), dst=p.src.copy()),  # src > dst
        dataclasses.replace(p, dst=np.full_like(p.dst, len(p.logins))),  # outside the login table
        dataclasses.replace(p, pairs=p.pairs + 1),  # per-pane counts that do not add up
        dataclasses.replace(p, origin=3, origins=2),
        dataclasses.replace(p, mult=np.zeros_like(p.mult)),
    ):
        with pytest.raises(DecodeError) as err:
            decode_pane_parts(encode_pane_parts(broken))
        assert err.value.reason == "bad_body"


def test_hostile_windows_are_refused(parts_and_records: tuple[list, list]) -> None:
    r = next(r for r in parts_and_records[1] if r.window.n_clusters > 2)
    w = r.window
    good = encode_window(r, "{}", {})
    assert decode_window(good)
    leaving = w.tree_edges.copy()
    leaving[0, 1] = int(w.offsets[1])  # the first cluster's edge points into the second cluster
    assert w.pairs is not None and w.pair_panes is not None and w.pair_offsets is not None
    pair_leaving = w.pairs.copy()
    pair_leaving[0, 1] = int(w.offsets[1])
    for broken in (
        dataclasses.replace(r, window=dataclasses.replace(w, pairs=pair_leaving)),
        dataclasses.replace(r, window=dataclasses.replace(w, pair_panes=w.pair_panes[1:])),
        dataclasses.replace(r, window=dataclasses.replace(w, pair_offsets=w.pair_offsets[:-1])),
        dataclasses.replace(r, window=dataclasses.replace(w, tree_edges=leaving)),
        dataclasses.replace(r, window=dataclasses.replace(w, offsets=w.offsets[:-1])),
        dataclasses.replace(r, logins=r.logins[:-1]),
        dataclasses.replace(r, window=dataclasses.replace(w, tree_edges=w.tree_edges[1:])),
    ):
        with pytest.raises(DecodeError) as err:
            decode_window(encode_window(broken, "{}", {}))
        assert err.value.reason == "bad_body"
    with pytest.raises(DecodeError) as err:
        decode_window(good[:-3])
    assert err.value.reason in ("truncated", "bad_body")
    assert WINDOW.header == good[:10]
    with pytest.raises(DecodeError):
        decode_window(encode(WINDOW, {**_fields(good), "tree": b"\x00" * 5}))


def _fields(message: bytes) -> dict:
    from networkpulse.bus.avro import decode as raw_decode

    return raw_decode(WINDOW, message)
