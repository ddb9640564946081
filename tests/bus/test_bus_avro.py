"""Avro single-object encoding: spec test vectors, every real event through raw-event Avro and back, hostile bytes."""

from __future__ import annotations

import gzip
import io
import json
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fastavro
import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from networkpulse.bus import DecodeError
from networkpulse.bus.avro import (
    INTERACTIONS,
    MAGIC,
    RAW_EVENT,
    AvroSchema,
    decode,
    decode_interactions,
    encode,
    encode_interactions,
)
from networkpulse.bus.raw_event import (
    decode_raw_event,
    encode_raw_event,
    encode_raw_line,
    raw_event_record,
    write_record,
)
from networkpulse.events import InputReport
from networkpulse.events.gharchive import RawEvent
from networkpulse.services.venturi import decode_event
from networkpulse.venturi import FilterStats, InteractionBatch, read_interactions

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "gharchive"
FILES = sorted(DATA.glob("*.json.gz"))


def first_event(name: str) -> dict[str, object]:
    with gzip.open(DATA / name) as lines:
        return json.loads(next(lines))


# Avro's own vectors (apache/avro share/test/data/schema-tests.txt): input, parsing canonical form, fingerprint.
SPEC_VECTORS = [
    ('"null"', '"null"', 7195948357588979594),
    ('"int"', '"int"', 8247732601305521295),
    ('"string"', '"string"', -8142146995180207161),
    (
        '{"fields":[], "type":"record", "name":"foo"}',
        '{"name":"foo","type":"record","fields":[]}',
        -4824392279771201922,
    ),
    (
        '{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}',
        '{"name":"x.y.foo","type":"record","fields":[]}',
        5916914534497305771,
    ),
    (
        # The spec's input has "default":"true", which fastavro refuses for a boolean; defaults are not part of the
        # canonical form, so the boolean default true keeps the vector's fingerprint.
        '{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":true},'
        ' {"order":"descending","name":"f2","doc":"Hello","type":"int"}], "type":"record", "name":"foo" }',
        '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}',
        -4860222112080293046,
    ),
    (
        '{"name":"PigValue","type":"record", "fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}',
        '{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}',
        -1759257747318642341,
    ),
]


@pytest.mark.parametrize(("schema", "canonical", "fingerprint"), SPEC_VECTORS)
def test_fingerprint_matches_the_avro_spec_vectors(schema: str, canonical: str, fingerprint: int) -> None:
    parsed = AvroSchema.from_json(json.loads(schema))
    assert parsed.canonical == canonical
    assert parsed.fingerprint == fingerprint
    assert parsed.header == b"\xc3\x01" + struct.pack("<q", fingerprint)


def crc64_avro(data: bytes) -> int:
    """The spec's reference algorithm (Avro specification, "Schema Fingerprints"), written out independently."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


@pytest.mark.parametrize("schema", [RAW_EVENT, INTERACTIONS], ids=lambda s: s.name)
def test_shipped_schema_fingerprints_match_the_reference_algorithm(schema: AvroSchema) -> None:
    assert schema.header[2:] == crc64_avro(schema.canonical.encode()).to_bytes(8, "little")
    message = encode(schema, decode(schema, encode(schema, _minimal(schema))))
    assert message[:10] == schema.header and message[:2] == MAGIC


def _minimal(schema: AvroSchema) -> dict[str, object]:
    if schema is RAW_EVENT:
        return raw_event_record({"type": "PushEvent"})
    return {c: [] for c in ("src", "dst", "kind", "event_type", "created_at_ms", "event_id", "event_times_ms")}


def test_raw_event_schema_follows_the_bigquery_events_table() -> None:
    bigquery = json.loads((DATA / "schema" / "bigquery_events_schema.json").read_text())
    ours = {f["name"]: f for f in json.loads(RAW_EVENT.canonical)["fields"]}
    assert list(ours) == [c["name"] for c in bigquery]
    named: dict[str, dict[str, object]] = {}  # the canonical form spells a record out once, then names it
    for column in bigquery:
        null, branch = ours[column["name"]]["type"]
        assert null == "null", f"{column['name']} must be nullable"
        if column["type"] == "RECORD":
            record = named[branch] if isinstance(branch, str) else named.setdefault(branch["name"], branch)
            assert [f["name"] for f in record["fields"]] == [f["name"] for f in column["fields"]]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_real_event_round_trips_exactly(path: Path, tmp_path: Path) -> None:
    lines = gzip.decompress(path.read_bytes()).splitlines()
    rebuilt = []
    typed = msgspec.json.Decoder(RawEvent)
    for line in lines:
        event = json.loads(line)
        message = encode_raw_event(event)
        assert message == RAW_EVENT.header + _body(RAW_EVENT, raw_event_record(event))  # fastavro's bytes
        assert write_record(_fastavro_read(message)) == message
        back = decode_raw_event(message)
        assert back == event
        assert decode_raw_event(encode_raw_line(line)) == event  # the firehose's path: payload text as it is
        assert decode_event(message) == typed.decode(line)  # venturi's path: payload spliced as text
        rebuilt.append(msgspec.json.encode(back))
    # What venturi's decoder sees after the trip must give the same interactions as the original file.
    copy = tmp_path / "rebuilt.json"
    copy.write_bytes(b"\n".join(rebuilt) + b"\n")
    original, trip = (_interactions(p) for p in (path, copy))
    assert len(original) > 0
    for column in ("src", "dst", "kind", "event_type", "event_id"):
        assert getattr(trip, column) == getattr(original, column)
    np.testing.assert_array_equal(trip.created_at_ms, original.created_at_ms)
    np.testing.assert_array_equal(trip.event_times_ms, original.event_times_ms)


def _interactions(path: Path) -> InteractionBatch:
    batches = list(read_interactions([str(path)], InputReport(), FilterStats()))
    return InteractionBatch(
        src=[s for b in batches for s in b.src],
        dst=[s for b in batches for s in b.dst],
        kind=[s for b in batches for s in b.kind],
        event_type=[s for b in batches for s in b.event_type],
        created_at_ms=np.concatenate([b.created_at_ms for b in batches]),
        event_id=[s for b in batches for s in b.event_id],
        event_times_ms=np.concatenate([b.event_times_ms for b in batches]),
    )


def test_timeline_event_keeps_its_fields_in_other_and_its_instant_typed() -> None:
    event = first_event("2013-02-15-0.json.gz")
    assert isinstance(event["actor"], str) and event["created_at"].endswith("-08:00")
    record = raw_event_record(event)
    other = json.loads(record["other"])
    assert other["actor"] == event["actor"]  # a login string does not fit the actor record
    assert other["repository"] == event["repository"] and other["actor_attributes"] == event["actor_attributes"]
    assert other["created_at"] == event["created_at"]
    instant = datetime.fromisoformat(event["created_at"]).astimezone(UTC)
    assert record["created_at"] == int(instant.timestamp()) * 1_000_000 + instant.microsecond
    assert record["actor"] is None and record["repo"] is None and record["id"] is None


def test_2025_display_login_survives_and_typed_columns_are_typed() -> None:
    event = first_event("2025-01-01-15.first2048.json.gz")
    record = raw_event_record(event)
    name, actor = record["actor"]
    assert (
        name.endswith("Account") and actor["login"] == event["actor"]["login"] and actor["id"] == event["actor"]["id"]
    )
    assert json.loads(record["other"]) == {"actor": {"display_login": event["actor"]["display_login"]}}
    assert json.loads(record["payload"]) == event["payload"]


json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
names = st.sampled_from(["type", "public", "payload", "repo", "actor", "org", "created_at", "id", "other", "url"])
account = st.dictionaries(
    st.sampled_from(["id", "login", "gravatar_id", "avatar_url", "url", "display_login"]), json_scalars
)
times = st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()) | st.sampled_from(
    ["2015-01-01T12:00:01Z", "2013-02-15T00:00:34-08:00", "9999-12-31T23:59:59-08:00", "2015-01-01", "soon"]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(names | st.text(max_size=6), json_values | account | times, max_size=9))
def test_any_json_object_round_trips_exactly(event: dict[str, object]) -> None:
    message = encode_raw_event(event)
    assert decode_raw_event(message) == event
    assert decode_raw_event(encode_raw_line(msgspec.json.encode(event))) == event
    # The specialised codec writes and reads what fastavro writes and reads.
    assert message == RAW_EVENT.header + _body(RAW_EVENT, raw_event_record(event))
    assert write_record(_fastavro_read(message)) == message


def _fastavro_read(message: bytes) -> dict[str, object]:
    record = decode(RAW_EVENT, message)
    if record["created_at"] is not None:  # fastavro reads timestamp-micros as a datetime; it writes the number
        at = record["created_at"]
        record["created_at"] = (at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return record


def test_a_payload_cannot_smuggle_keys_into_the_event() -> None:
    record = raw_event_record(first_event("2015-01-01-12.json.gz"))
    record["payload"] = '{}, "actor": {"login": "mallory"}'
    with pytest.raises(DecodeError) as caught:
        decode_event(write_record(record))
    assert caught.value.reason == "bad_payload"


def test_interaction_batches_round_trip() -> None:
    batches = list(read_interactions([str(DATA / "2015-01-01-12.json.gz")], InputReport(), FilterStats()))
    for batch in batches:
        back = decode_interactions(encode_interactions(batch))
        assert (back.src, back.dst, back.kind, back.event_type, back.event_id) == (
            batch.src,
            batch.dst,
            batch.kind,
            batch.event_type,
            batch.event_id,
        )
        np.testing.assert_array_equal(back.created_at_ms, batch.created_at_ms)
        np.testing.assert_array_equal(back.event_times_ms, batch.event_times_ms)
    assert sum(len(b) for b in batches) > 1000


def _body(schema: AvroSchema, datum: object) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema.parsed, datum)
    return out.getvalue()


GOOD = encode_raw_event(first_event("2015-01-01-12.json.gz"))
HOSTILE = {
    "empty": (b"", "bad_magic"),
    "one byte": (b"\xc3", "bad_magic"),
    "json": (b'{"type": "PushEvent"}', "bad_magic"),
    "magic only": (MAGIC, "bad_magic"),
    "unknown fingerprint": (MAGIC + b"\x00" * 8 + GOOD[10:], "unknown_schema"),
    "other schema": (encode_interactions(InteractionBatch()), "wrong_schema"),
    "header only": (RAW_EVENT.header, "truncated"),
    "bad union index": (RAW_EVENT.header + b"\x7f" + GOOD[11:], "bad_body"),
    "invalid utf-8": (RAW_EVENT.header + b"\x02\x06\xff\xfe\xfd" + b"\x00" * 8, "bad_body"),
    "trailing bytes": (GOOD + b"\x00", "trailing_bytes"),
    "payload not json": (
        RAW_EVENT.header + _body(RAW_EVENT, raw_event_record({"type": "X"}) | {"payload": "{"}),
        "bad_payload",
    ),
    "other not an object": (
        RAW_EVENT.header + _body(RAW_EVENT, raw_event_record({}) | {"other": "[1]"}),
        "bad_payload",
    ),
    "nested 100k deep": (
        RAW_EVENT.header + _body(RAW_EVENT, raw_event_record({}) | {"payload": "[" * 100_000 + "]" * 100_000}),
        "bad_payload",
    ),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_raw_event_message_raises_decode_error_with_reason(name: str) -> None:
    message, reason = HOSTILE[name]
    with pytest.raises(DecodeError) as caught:
        decode_raw_event(message)
    assert caught.value.reason == reason
    assert reason in str(caught.value)


def test_every_truncation_of_a_real_message_is_refused() -> None:
    for cut in range(len(GOOD)):
        with pytest.raises(DecodeError) as caught:
            decode_raw_event(GOOD[:cut])
        assert caught.value.reason in ("bad_magic", "truncated", "bad_body", "bad_payload")


def test_hostile_interaction_batches_are_refused() -> None:
    columns = {c: ["a"] for c in ("src", "dst", "kind", "event_type", "event_id")}
    uneven = columns | {"dst": [], "created_at_ms": [1], "event_times_ms": [1]}
    selfish = columns | {"created_at_ms": [1], "event_times_ms": [1]}
    for datum, words in ((uneven, "differ in length"), (selfish, "src == dst")):
        with pytest.raises(DecodeError, match=words) as caught:
            decode_interactions(encode(INTERACTIONS, datum))
        assert caught.value.reason == "bad_body"
