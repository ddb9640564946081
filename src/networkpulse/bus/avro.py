"""Avro on the wire, with no schema registry: every message names its schema by Avro single-object encoding.

A message is ``C3 01`` + the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema's parsing canonical
form + the Avro binary body (Avro 1.12 spec, "Single-object encoding"). fastavro does the binary encoding, the
canonical form and the fingerprint. Two schemas ship in ``networkpulse/bus/schemas``:

- :data:`RAW_EVENT` (``gharchive_event.avsc``): one raw GH Archive event, BigQuery layout, payload as JSON text;
  :mod:`networkpulse.bus.raw_event` maps a JSON object of any era to it and back *exactly* (with its own codec).
- :data:`INTERACTIONS` (``interaction_batch.avsc``): a :class:`~networkpulse.venturi.InteractionBatch` as columns.
- :data:`PANE_PARTS` (``pane_parts.avsc``): a forest worker's :class:`~networkpulse.components.PaneParts`.
- :data:`WINDOW` (``window.avsc``): a merger's :class:`~networkpulse.components.WindowRecord` for the persister.

Numeric columns of the last two travel as little-endian ``bytes``: one ``tobytes`` instead of a Python int per row.

Decoding never trusts the bytes: any malformed message raises :class:`~networkpulse.bus.base.DecodeError` with a
reason code, which relays turn into a dead letter.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from networkpulse.bus.base import DecodeError
from networkpulse.errors import MissingExtraError
from networkpulse.venturi.types import InteractionBatch

if TYPE_CHECKING:  # at run time imported where used: they bring the engine (numba), which venturi never needs
    from networkpulse.components import PaneParts, WindowRecord
    from networkpulse.engine.types import Window

try:
    import fastavro
    import fastavro.schema
except ImportError as exc:  # the [kafka] extra brings it
    raise MissingExtraError("fastavro", "kafka") from exc

MAGIC = b"\xc3\x01"
HEADER_BYTES = 10


@dataclass(frozen=True, slots=True)
class AvroSchema:
    """A parsed schema with its parsing canonical form, CRC-64-AVRO fingerprint and single-object header."""

    name: str
    parsed: Any
    canonical: str
    fingerprint: int  # signed 64-bit, as Avro's Java SchemaNormalization.parsingFingerprint64 returns it
    header: bytes  # MAGIC + the fingerprint's 8 little-endian bytes

    @classmethod
    def from_json(cls, schema: Any) -> AvroSchema:
        """Parse a schema (the JSON value of an ``.avsc``). O(size of the schema)."""
        parsed = fastavro.parse_schema(schema)
        canonical = fastavro.schema.to_parsing_canonical_form(parsed)
        # fastavro renders the fingerprint as the hex of its little-endian bytes, the order the header uses.
        raw = bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))
        name = parsed["name"] if isinstance(parsed, dict) and "name" in parsed else canonical
        return cls(name, parsed, canonical, int.from_bytes(raw, "little", signed=True), MAGIC + raw)


def _load(filename: str) -> AvroSchema:
    text = resources.files("networkpulse.bus").joinpath("schemas", filename).read_text(encoding="utf-8")
    return AvroSchema.from_json(json.loads(text))


RAW_EVENT = _load("gharchive_event.avsc")
INTERACTIONS = _load("interaction_batch.avsc")
PANE_PARTS = _load("pane_parts.avsc")
WINDOW = _load("window.avsc")
KNOWN: dict[bytes, AvroSchema] = {s.header: s for s in (RAW_EVENT, INTERACTIONS, PANE_PARTS, WINDOW)}


def encode(schema: AvroSchema, datum: Any) -> bytes:
    """``datum`` in single-object encoding. O(size of datum)."""
    out = io.BytesIO()
    out.write(schema.header)
    fastavro.schemaless_writer(out, schema.parsed, datum)
    return out.getvalue()


def decode(schema: AvroSchema, message: bytes) -> Any:
    """The datum of a single-object message written with ``schema``; :class:`DecodeError` for anything else.

    O(len(message)). Reasons: ``bad_magic`` (not single-object encoding), ``unknown_schema`` (a fingerprint we
    do not know), ``wrong_schema`` (one of ours, but not ``schema``), ``truncated``, ``bad_body`` (bytes that
    are not a ``schema`` record), ``trailing_bytes``.
    """
    size = len(message)
    if size < HEADER_BYTES or message[:2] != MAGIC:
        raise DecodeError(
            "bad_magic",
            f"expected {HEADER_BYTES}+ bytes starting C3 01 (Avro single-object encoding), got {size} "
            f"bytes starting {message[:HEADER_BYTES].hex(' ') or 'nothing'}",
        )
    header = message[:HEADER_BYTES]
    if header != schema.header:
        other = KNOWN.get(header)
        if other is not None:
            raise DecodeError("wrong_schema", f"expected a {schema.name} record, got a {other.name} record")
        known = ", ".join(f"{s.name} {s.header[2:].hex()}" for s in KNOWN.values())
        raise DecodeError(
            "unknown_schema",
            f"fingerprint {header[2:].hex()} is none of ours ({known}); was it written by a "
            "newer networkpulse? Upgrade this consumer",
        )
    body = io.BytesIO(message)
    body.seek(HEADER_BYTES)
    try:
        datum = fastavro.schemaless_reader(body, schema.parsed, None)
    except EOFError as exc:
        raise DecodeError("truncated", f"the {schema.name} body ends early ({size} bytes in all): {exc}") from None
    # The reader has no side effects and bytes off the network can fail it in many ways (a bad union index, a
    # negative length, invalid UTF-8, a date out of range): each of them means the same thing, a bad body.
    except Exception as exc:
        raise DecodeError("bad_body", f"not a {schema.name} body: {type(exc).__name__}: {exc}") from None
    if body.tell() != size:
        raise DecodeError("trailing_bytes", f"{size - body.tell()} bytes after the {schema.name} body")
    return datum


# ---------------------------------------------------------------- interaction batches


def encode_interactions(batch: InteractionBatch) -> bytes:
    """An :class:`~networkpulse.venturi.InteractionBatch` as one :data:`INTERACTIONS` message. O(len(batch))."""
    return encode(
        INTERACTIONS,
        {
            "src": batch.src,
            "dst": batch.dst,
            "kind": batch.kind,
            "event_type": batch.event_type,
            "created_at_ms": batch.created_at_ms.tolist(),
            "event_id": batch.event_id,
            "event_times_ms": batch.event_times_ms.tolist(),
            "origin": batch.origin,
            "origins": batch.origins,
        },
    )


def decode_interactions(message: bytes) -> InteractionBatch:
    """An :data:`INTERACTIONS` message → an :class:`~networkpulse.venturi.InteractionBatch`; :class:`DecodeError`
    also when its columns differ in length or a row pairs an account with itself."""
    d = decode(INTERACTIONS, message)
    rows = len(d["src"])
    if not all(len(d[c]) == rows for c in ("dst", "kind", "event_type", "created_at_ms", "event_id")):
        lengths = {c: len(v) for c, v in d.items() if isinstance(v, list)}
        raise DecodeError("bad_body", f"the interaction columns differ in length: {lengths}")
    if any(s == t for s, t in zip(d["src"], d["dst"], strict=True)):
        raise DecodeError("bad_body", "an interaction has src == dst (venturi never emits self-interactions)")
    return InteractionBatch(
        src=d["src"],
        dst=d["dst"],
        kind=d["kind"],
        event_type=d["event_type"],
        created_at_ms=np.asarray(d["created_at_ms"], dtype=np.int64),
        event_id=d["event_id"],
        event_times_ms=np.asarray(d["event_times_ms"], dtype=np.int64),
        origin=d["origin"],
        origins=d["origins"],
    )


# ---------------------------------------------------------------- the components stage


def _array(raw: bytes, dtype: str, what: str) -> npt.NDArray[Any]:
    width = np.dtype(dtype).itemsize
    if len(raw) % width:
        raise DecodeError("bad_body", f"{what}: {len(raw)} bytes is not a whole number of {width}-byte values")
    return np.frombuffer(raw, dtype).astype(dtype[1:], copy=True)


def encode_pane_parts(parts: PaneParts) -> bytes:
    """A :class:`~networkpulse.components.PaneParts` as one :data:`PANE_PARTS` message. O(pairs + logins)."""
    return encode(PANE_PARTS, {
        "origin": parts.origin, "origins": parts.origins, "slide_ms": parts.slide_ms,
        "max_time_ms": parts.max_time_ms, "logins": parts.logins,
        "pane": parts.pane.tolist(), "events": parts.events.tolist(), "interactions": parts.interactions.tolist(),
        "pairs": parts.pairs.tolist(), "src": parts.src.astype("<i4").tobytes(),
        "dst": parts.dst.astype("<i4").tobytes(), "mult": parts.mult.astype("<i4").tobytes(),
    })


def decode_pane_parts(message: bytes) -> PaneParts:
    """A :data:`PANE_PARTS` message → :class:`~networkpulse.components.PaneParts`; :class:`DecodeError` also
    when its columns disagree (lengths, indices outside the login table, a pair not ``src < dst``)."""
    from networkpulse.components import PaneParts

    d = decode(PANE_PARTS, message)
    src, dst, mult = (_array(d[k], "<i4", k) for k in ("src", "dst", "mult"))
    parts = PaneParts(
        d["origin"], d["origins"], d["slide_ms"], d["max_time_ms"], d["logins"], np.asarray(d["pane"], np.int64),
        np.asarray(d["events"], np.int64), np.asarray(d["interactions"], np.int64), np.asarray(d["pairs"], np.int64),
        src, dst, mult,
    )
    n = len(parts.pane)
    if not (len(parts.events) == len(parts.interactions) == len(parts.pairs) == n):
        raise DecodeError("bad_body", "pane parts: the per-pane columns differ in length")
    if int(parts.pairs.sum()) != len(src) or not (len(src) == len(dst) == len(mult)):
        raise DecodeError("bad_body", "pane parts: the pair columns do not add up to the per-pane pair counts")
    if len(src) and (src.min() < 0 or dst.max() >= len(parts.logins) or bool((src >= dst).any())
                     or mult.min() < 1):
        raise DecodeError("bad_body", "pane parts: a pair is not (src < dst) indices into logins, or its count < 1")
    if parts.origin < 0 or parts.origins <= parts.origin:
        raise DecodeError("bad_body", f"pane parts: origin {parts.origin} is not below origins {parts.origins}")
    return parts


# The window's scalar fields, in the order of window.avsc.
_WINDOW_COUNTS = ("start_ms", "end_ms", "events", "interactions", "vertices", "edges", "components", "largest",
                  "late_events")


def encode_window(record: WindowRecord, config: str, totals: dict[str, int]) -> bytes:
    """A :class:`~networkpulse.components.WindowRecord` as one :data:`WINDOW` message, with the window
    ``config`` (JSON text) and the merger's cumulative ``totals``. O(members)."""
    w = record.window
    return encode(WINDOW, {
        **{k: getattr(w, k) for k in _WINDOW_COUNTS}, "provisional": record.provisional, "logins": record.logins,
        "offsets": w.offsets.astype("<i8").tobytes(), "tree": w.tree_edges.astype("<i4").tobytes(), "config": config,
        "totals": totals, **_pair_columns(w),
    })


def _pair_columns(w: Window) -> dict[str, bytes]:
    if w.pairs is None or w.pair_offsets is None or w.pair_panes is None:
        return {"pairs": b"", "pair_offsets": b"", "pair_panes": b""}
    return {"pairs": w.pairs.astype("<i4").tobytes(), "pair_offsets": w.pair_offsets.astype("<i8").tobytes(),
            "pair_panes": w.pair_panes.astype("<i4").tobytes()}


def _decode_pairs(d: dict[str, Any], offsets: npt.NDArray[np.int64]) -> dict[str, Any]:
    """The window's cluster pairs, checked: every pair inside one cluster; none when the merger sent none."""
    if not d["pair_offsets"]:
        if d["pairs"] or d["pair_panes"]:
            raise DecodeError("bad_body", "window: pairs without their cluster bounds")
        return {}
    bounds = _array(d["pair_offsets"], "<i8", "pair_offsets")
    if len(d["pairs"]) % 8:
        raise DecodeError("bad_body", "window: pairs are not whole (position, position) rows")
    pairs = _array(d["pairs"], "<i4", "pairs").reshape(-1, 2)
    panes = _array(d["pair_panes"], "<i4", "pair_panes")
    n = len(offsets) - 1
    if (len(bounds) != n + 1 or (n >= 0 and (bounds[0] != 0 or bounds[-1] != len(pairs)))
            or bool((np.diff(bounds) < 0).any()) or len(panes) != len(pairs)):
        raise DecodeError("bad_body", "window: pair bounds do not match its clusters and pairs")
    owner = np.repeat(np.arange(n), np.diff(bounds))
    if len(pairs) and (bool((pairs < offsets[owner][:, None]).any())
                       or bool((pairs >= offsets[owner + 1][:, None]).any())):
        raise DecodeError("bad_body", "window: a pair leaves its cluster")
    return {"pairs": pairs, "pair_offsets": bounds, "pair_panes": panes}


def decode_window(message: bytes) -> tuple[WindowRecord, str, dict[str, int]]:
    """A :data:`WINDOW` message → ``(record, config JSON, totals)``; :class:`DecodeError` when its clusters do
    not hold together (offsets, tree rows per cluster, positions outside their cluster)."""
    from networkpulse.components import WindowRecord
    from networkpulse.engine.types import Window

    d = decode(WINDOW, message)
    offsets = _array(d["offsets"], "<i8", "offsets")
    tree = _array(d["tree"], "<i4", "tree").reshape(-1, 2) if len(d["tree"]) % 8 == 0 else None
    if tree is None:
        raise DecodeError("bad_body", "window: tree is not whole (position, position) pairs")
    n = len(offsets) - 1
    sizes = np.diff(offsets)
    if (n < 0 or (n >= 0 and len(offsets) and offsets[0] != 0) or (len(offsets) and offsets[-1] != len(d["logins"]))
            or bool((sizes < 1).any()) or len(tree) != int(sizes.sum()) - n):
        raise DecodeError("bad_body", "window: offsets and tree rows do not describe its clusters")
    owner = np.repeat(np.arange(n), sizes - 1)
    if len(tree) and (tree.min() < offsets[owner].min(initial=0) or bool((tree < offsets[owner][:, None]).any())
                      or bool((tree >= offsets[owner + 1][:, None]).any())):
        raise DecodeError("bad_body", "window: a tree edge leaves its cluster")
    window = Window(**{k: d[k] for k in _WINDOW_COUNTS}, members=np.arange(len(d["logins"]), dtype=np.int32),
                    offsets=offsets, tree_edges=tree, **_decode_pairs(d, offsets))
    return WindowRecord(window, d["logins"], d["provisional"]), d["config"], dict(d["totals"])
