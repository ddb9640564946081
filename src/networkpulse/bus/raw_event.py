"""The raw GH Archive event on the wire: :data:`~networkpulse.bus.avro.RAW_EVENT` messages.

A GH Archive JSON object of any era maps to the BigQuery-layout record *exactly* (:func:`raw_event_record`,
:func:`raw_event_json`): a value goes to its column when it has the column's type, everything else to ``other``.

This is the hot path of ``pulse firehose`` and ``pulse venturi`` (one message per event), so three things are
done here rather than the obvious way. Measured as CPU time per real event (``time.process_time``, last 6 000
events of the bundled files, this 2-core machine under load; a Python call costs ~0.2 µs here):

- the body is *written* by a codec specialised to this one schema (:func:`write_record`): 38 µs against
  fastavro's 67 (fastavro re-walks the schema's named types on every call, ~20 µs before the first byte). The
  tests check its bytes against fastavro's on every real event and on generated records. Reading stays with
  fastavro: a specialised reader in Python was no faster (61 against 66 µs);
- the firehose takes the payload's JSON text from the line as it is (:func:`encode_raw_line`) instead of
  decoding it to objects and encoding them again: line → message 129 → 90 µs;
- venturi splices the payload's text into the JSON text it decodes its typed event from (:func:`raw_event_text`),
  after checking that it is exactly one JSON value, so a hostile payload cannot smuggle keys into the event.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from networkpulse.bus.avro import RAW_EVENT, decode
from networkpulse.bus.base import DecodeError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_JSON = msgspec.json.Encoder()
_ANY = msgspec.json.Decoder()
_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ONE_VALUE = msgspec.json.Decoder(msgspec.Raw)
# Columns whose JSON value is an object, and their fields with the Python type a field must have to be typed.
_ACCOUNT = "networkpulse.gharchive.Account"
_RECORD_NAMES = {"repo": "networkpulse.gharchive.Repo", "actor": _ACCOUNT, "org": _ACCOUNT}
_RECORDS: dict[str, dict[str, type]] = {
    "repo": {"id": int, "name": str, "url": str},
    "actor": {"id": int, "login": str, "gravatar_id": str, "avatar_url": str, "url": str},
    "org": {"id": int, "login": str, "gravatar_id": str, "avatar_url": str, "url": str},
}
_SCALARS: dict[str, type] = {"type": str, "public": bool, "id": str}
#: The schema's fields in order (the Avro body is their values one after the other).
COLUMNS = ("type", "public", "payload", "repo", "actor", "org", "created_at", "id", "other")
_LONG = range(-(1 << 63), 1 << 63)


def _fits(value: Any, kind: type) -> bool:
    # `type is`, not isinstance: True is an int to Python but must not become an id.
    return type(value) is kind and (kind is not int or value in _LONG)


def utc_text(at: datetime) -> str:
    """GH Archive's own UTC form: ``2015-01-01T12:00:01Z`` (fraction only when there is one)."""
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{at.microsecond:06d}Z" if at.microsecond else text + "Z"


def _instant(text: Any) -> datetime | None:
    """The UTC instant of an ISO 8601 time with an offset; None when it is not one or leaves datetime's range."""
    if type(text) is not str:
        return None
    try:
        at = datetime.fromisoformat(text)
        # A local time of unknown zone is not an instant; 9999-12-31T23:00-08:00 is one past year 9999 in UTC.
        return at.astimezone(UTC) if at.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


# ---------------------------------------------------------------- JSON object ↔ record


def raw_event_record(event: dict[str, Any]) -> dict[str, Any]:
    """A GH Archive JSON object (any era) → a :data:`RAW_EVENT` datum. O(size of the event).

    A value goes to its column when it has the column's type; everything else — keys without a column, values of
    another type, explicit nulls (kept so that absent and null stay distinct) — goes to ``other`` under its own
    key (for a record column, under the record's key, holding just the fields that did not fit). Record columns
    are in fastavro's tuple notation ``(record name, fields)`` (fastavro writes them 1.5× faster; the tests hand
    these records to fastavro). ``payload`` may be a :class:`msgspec.Raw` (its JSON text, kept as it is).
    ``created_at`` is in microseconds since the epoch.
    """
    record: dict[str, Any] = dict.fromkeys(COLUMNS)
    other: dict[str, Any] = {}
    for key, value in event.items():
        if key in _SCALARS:
            if _fits(value, _SCALARS[key]):
                record[key] = value
            else:
                other[key] = value
        elif key in _RECORDS:
            if type(value) is not dict:
                other[key] = value
                continue
            fields = _RECORDS[key]
            typed = dict.fromkeys(fields)
            rest = {}
            for name, item in value.items():
                if name in fields and _fits(item, fields[name]):
                    typed[name] = item
                else:
                    rest[name] = item
            record[key] = (_RECORD_NAMES[key], typed)
            if rest:
                other[key] = rest
        elif key == "payload" and value is not None:
            record["payload"] = bytes(value).decode() if type(value) is msgspec.Raw else _JSON.encode(value).decode()
        elif key == "created_at":
            at = _instant(value)
            if at is None or utc_text(at) != value:
                other[key] = value
            if at is not None:
                record[key] = (at - _EPOCH) // _MICROSECOND
        else:
            other[key] = value
    if other:
        record["other"] = _JSON.encode(other).decode()
    return record


def _columns(record: dict[str, Any]) -> dict[str, Any]:
    """The JSON members of the typed columns but ``created_at``, ``payload`` and ``other`` (nulls left out)."""
    out: dict[str, Any] = {}
    for key in ("type", "public", "id"):
        if record[key] is not None:
            out[key] = record[key]
    for key in _RECORDS:
        typed = record[key]
        if typed is not None:
            out[key] = {name: item for name, item in typed.items() if item is not None}
    return out


def raw_event_json(record: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`raw_event_record` for the datum fastavro reads back (``created_at`` a datetime): the
    original JSON object, key order aside. O(size of the event).

    Raises :class:`DecodeError` (``bad_payload``) when ``payload`` or ``other`` is not JSON of the right shape.
    """
    event = _columns(record)
    if record["created_at"] is not None:
        event["created_at"] = utc_text(record["created_at"])
    try:
        if record["payload"] is not None:
            event["payload"] = _ANY.decode(record["payload"])
        other = _ANY.decode(record["other"]) if record["other"] is not None else {}
    except (msgspec.DecodeError, RecursionError) as exc:
        raise DecodeError("bad_payload", f"payload or other is not JSON: {exc}") from None
    if type(other) is not dict:
        raise DecodeError("bad_payload", f"other must be a JSON object, got {type(other).__name__}")
    for key, value in other.items():
        if key in _RECORDS and type(value) is dict and type(event.get(key)) is dict:
            event[key].update(value)
        else:
            event[key] = value
    return event


def raw_event_text(record: dict[str, Any]) -> bytes:
    """The JSON text of :func:`raw_event_json` ``(record)`` (key order aside), for a typed decoder.

    Without ``other`` (every event since 2015) the payload's text is spliced in as it is, after a check that it is
    exactly one JSON value (a C scan, no objects built): decoding it into Python objects and encoding them again
    was half of venturi's cost. O(size of the event). :class:`DecodeError` as :func:`raw_event_json`.
    """
    if record["other"] is not None:
        return _JSON.encode(raw_event_json(record))
    head = _columns(record)
    if record["created_at"] is not None:
        head["created_at"] = record["created_at"]  # a datetime: msgspec writes it in RFC 3339
    text = _JSON.encode(head)
    payload = record["payload"]
    if payload is None:
        return text
    try:
        value = bytes(_ONE_VALUE.decode(payload))
    except (msgspec.DecodeError, RecursionError) as exc:
        raise DecodeError("bad_payload", f"payload is not JSON: {exc}") from None
    return b"".join((text[:-1], b',"payload":' if len(text) > 2 else b'"payload":', value, b"}"))


# ---------------------------------------------------------------- record ↔ Avro binary


def _zigzag_varint(n: int) -> bytes:
    """Avro ``long``: zig-zag, then base-128 varint, low group first."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


#: The encodings of 0 … 16 383 (every string length of a GH Archive column but long payloads): a list lookup
#: instead of the loop, which was the codec's largest cost (~15 % of the firehose under cProfile).
_SMALL = [_zigzag_varint(n) for n in range(1 << 14)]


def _long(n: int) -> bytes:
    return _SMALL[n] if 0 <= n < 16384 else _zigzag_varint(n)


_NULL, _SOME = b"\x00", b"\x02"  # union branch 0 (null) and 1 (the value), as longs
_FALSE, _TRUE = b"\x00", b"\x01"


def _string(parts: list[bytes], value: str | None) -> None:
    if value is None:
        parts.append(_NULL)
    else:
        data = value.encode()
        parts += (_SOME, _long(len(data)), data)


def _integer(parts: list[bytes], value: int | None) -> None:
    if value is None:
        parts.append(_NULL)
    else:
        parts += (_SOME, _long(value))


def _fields(parts: list[bytes], value: Any, fields: dict[str, type]) -> None:
    if value is None:
        parts.append(_NULL)
        return
    typed = value[1] if type(value) is tuple else value
    parts.append(_SOME)
    for name, kind in fields.items():
        (_integer if kind is int else _string)(parts, typed.get(name))


def write_record(record: dict[str, Any]) -> bytes:
    """The Avro binary body of a :data:`RAW_EVENT` datum as :func:`raw_event_record` makes it (types are trusted:
    that function checked them). The same bytes as ``fastavro.schemaless_writer``. O(size of the event)."""
    parts: list[bytes] = [RAW_EVENT.header]
    _string(parts, record["type"])
    public = record["public"]
    if public is None:
        parts.append(_NULL)
    else:
        parts += (_SOME, _TRUE if public else _FALSE)
    _string(parts, record["payload"])
    _fields(parts, record["repo"], _RECORDS["repo"])
    _fields(parts, record["actor"], _RECORDS["actor"])
    _fields(parts, record["org"], _RECORDS["org"])
    _integer(parts, record["created_at"])
    _string(parts, record["id"])
    _string(parts, record["other"])
    return b"".join(parts)


# ---------------------------------------------------------------- messages


def encode_raw_event(event: dict[str, Any]) -> bytes:
    """One GH Archive event (its JSON object) as a :data:`RAW_EVENT` message."""
    return write_record(raw_event_record(event))


def encode_raw_line(line: bytes, created_at: str | None = None) -> bytes:
    """One GH Archive JSON line as a :data:`RAW_EVENT` message, optionally with another ``created_at`` (the
    firehose's time shift). Decodes only the top level and the small columns; the payload's text goes out as it
    is (~5× faster than decoding the whole line). :class:`msgspec.DecodeError` if the line is not a JSON object."""
    event: dict[str, Any] = {}
    for key, raw in _TOP.decode(line).items():
        if key == "payload":
            text = bytes(raw)
            event[key] = None if text == b"null" else raw
        else:
            event[key] = _ANY.decode(raw)
    if created_at is not None:
        event["created_at"] = created_at
    return write_record(raw_event_record(event))


def read_record(message: bytes) -> dict[str, Any]:
    """A :data:`RAW_EVENT` message → its datum, read by fastavro (``created_at`` a datetime); :class:`DecodeError`
    with the reason for anything else (see :func:`~networkpulse.bus.avro.decode`)."""
    return decode(RAW_EVENT, message)


def decode_raw_event(message: bytes) -> dict[str, Any]:
    """A :data:`RAW_EVENT` message → the original JSON object (``msgspec.json.encode`` it for venturi)."""
    return raw_event_json(read_record(message))
