"""Where raw GH Archive bytes come from: expanding source specs and streaming (gunzipped) byte chunks."""

from __future__ import annotations

import glob
import os
import sys
import zlib
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from isal import isal_zlib

from networkpulse.errors import ConfigError

STDIN = "-"
GZIP_MAGIC = b"\x1f\x8b"
#: Suffixes a folder source picks up; anything else in the folder (PROVENANCE.md, schema/) is ignored.
EVENT_SUFFIXES = (".json.gz", ".json", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
#: Compressed bytes read per step: small enough to keep streaming, large enough to amortise calls.
READ_BYTES = 256 << 10
#: Upper bound on one decompressed chunk, so a gzip bomb or a 50 MB line never lands in memory in one piece.
CHUNK_BYTES = 1 << 20


class GzipTruncated(Exception):
    """The gzip stream ended before its end-of-stream marker (every byte before it was yielded)."""


class GzipCorrupt(Exception):
    """The gzip stream holds invalid data (every byte decoded before it was yielded)."""


def expand_sources(specs: Sequence[str]) -> list[str]:
    """Turn source specs into a list of concrete sources, in order.

    A spec is a file, a folder (its event files by :data:`EVENT_SUFFIXES`, sorted by name so hourly files
    come in time order), a glob (sorted matches), or ``-`` for stdin. Duplicates are kept
    once, first position wins.
    A spec that matches nothing raises :class:`ConfigError` naming it.
    """
    out: list[str] = []
    for spec in specs:
        if spec == STDIN:
            found = [STDIN]
        elif os.path.isdir(spec):
            found = sorted(
                os.path.join(spec, name)
                for name in os.listdir(spec)
                if name.endswith(EVENT_SUFFIXES) and os.path.isfile(os.path.join(spec, name))
            )
        elif os.path.exists(spec):
            found = [spec]
        elif glob.has_magic(spec):
            found = sorted(p for p in glob.glob(spec, recursive=True) if os.path.isfile(p))
        else:
            found = []
        if not found:
            raise ConfigError(
                f"source {spec!r}",
                "an existing file, a folder with *.json[.gz] files, a glob matching files, or '-' for stdin",
                spec,
                "check the path (relative paths are resolved from the current directory)",
            )
        out.extend(found)
    return list(dict.fromkeys(out))


def open_source(source: str) -> BinaryIO:
    """Open a source for binary reading (stdin's buffer for ``-``); raises ``OSError`` as ``open`` does."""
    if source == STDIN:
        return sys.stdin.buffer
    return open(source, "rb")  # the caller closes it after streaming


def iter_chunks(stream: BinaryIO, first: bytes, gzipped: bool) -> Iterator[bytes]:
    """Yield decompressed chunks of at most :data:`CHUNK_BYTES` bytes, ``first`` being bytes already read.

    Gunzip runs through isal's inflater as a streaming decompressobj rather than ``igzip.open``: a buffered
    gzip reader raises on a truncated stream and drops the data it had decoded for that read, whereas here
    every byte before the cut is yielded before :class:`GzipTruncated` is raised. Concatenated gzip members
    (valid gzip, produced by ``cat a.gz b.gz``) are followed. O(input) time, O(CHUNK_BYTES) memory.
    """
    if not gzipped:
        data = first
        while data:
            yield data
            data = stream.read(CHUNK_BYTES)
        return
    inflater = isal_zlib.decompressobj(wbits=31)
    data = first
    started = bool(data)
    yielded = 0
    while True:
        if not data:
            data = stream.read(READ_BYTES)
            if not data:
                break
            started = True
        try:
            out = inflater.decompress(data, CHUNK_BYTES)
            if out:
                yielded += len(out)
                yield out
            while inflater.unconsumed_tail:
                out = inflater.decompress(inflater.unconsumed_tail, CHUNK_BYTES)
                if out:
                    yielded += len(out)
                    yield out
        except isal_zlib.error as exc:
            if stream.seekable():
                yield from _salvage(stream, yielded)
            raise GzipCorrupt(str(exc)) from exc
        data = b""
        if inflater.eof:
            rest = inflater.unused_data
            # Trailing zero padding after the last member is tolerated, as gzip(1) does.
            if rest.strip(b"\x00") or not rest:
                if rest and not rest.startswith(GZIP_MAGIC):
                    raise GzipCorrupt("trailing garbage after the gzip stream")
                inflater = isal_zlib.decompressobj(wbits=31)
                data = rest
                started = bool(rest)
            else:
                return
    if started and not inflater.eof:
        raise GzipTruncated("the gzip stream ends before its end-of-stream marker")


def _salvage(stream: BinaryIO, skip: int) -> Iterator[bytes]:
    """Yield the intact output after the first ``skip`` bytes up to a corruption, re-inflating from the start.

    isal's inflater cannot be copied and loses the output of the call that hits bad data, so for a seekable
    file we rerun stdlib zlib over it in small steps, which brings the loss down to the lines that span the
    damage. Only runs for corrupt files; O(file) extra time once.
    """
    stream.seek(0)
    inflater = zlib.decompressobj(wbits=31)
    try:
        while block := stream.read(READ_BYTES):
            # Small steps: the output of the step that hits the damage is lost, so keep a step ~2 KiB of text.
            for start in range(0, len(block), 256):
                data = block[start : start + 256]
                while data:
                    out = inflater.decompress(data, CHUNK_BYTES)
                    data = inflater.unconsumed_tail
                    if inflater.eof and inflater.unused_data:
                        data = inflater.unused_data + data
                        inflater = zlib.decompressobj(wbits=31)
                    if skip >= len(out):
                        skip -= len(out)
                    elif out:
                        yield out[skip:]
                        skip = 0
    except zlib.error:
        return
