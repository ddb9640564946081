"""Where raw GH Archive bytes come from: expanding source specs and streaming (gunzipped) byte chunks."""

from __future__ import annotations

import glob
import os
import re
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
    """Turn source specs into a list of concrete sources, in event-time order.

    A spec is a file, a folder (its event files by :data:`EVENT_SUFFIXES`), a glob (its matching files), or
    ``-`` for stdin. A spec that matches nothing raises :class:`ConfigError` naming it.

    Order: all files, however they were named, are sorted together by :func:`source_order`: GH Archive hour
    names (``YYYY-MM-DD-H``, hour not zero-padded, anywhere in the base name) by that hour, then every other
    name in natural order (digit runs compare as numbers, so ``part2`` < ``part10``). Reading in that order
    is what keeps the engine's watermark from passing hours still to come (plain name order puts ``-10``
    before ``-2``). Stdin has no name to order by: it keeps its index in the list. A file named twice, also
    through a symlink or another spelling of its path, is read once, at its first place in that order.
    O(n log n) for n files.
    """
    found: list[str] = []
    for spec in specs:
        if spec == STDIN:
            matches = [STDIN]
        elif os.path.isdir(spec):
            matches = [
                os.path.join(spec, name)
                for name in os.listdir(spec)
                if name.endswith(EVENT_SUFFIXES) and os.path.isfile(os.path.join(spec, name))
            ]
        elif os.path.exists(spec):
            matches = [spec]
        elif glob.has_magic(spec):
            matches = [p for p in glob.glob(spec, recursive=True) if os.path.isfile(p)]
        else:
            matches = []
        if not matches:
            raise ConfigError(
                f"source {spec!r}",
                "an existing file, a folder with *.json[.gz] files, a glob matching files, or '-' for stdin",
                spec,
                "check the path (relative paths are resolved from the current directory)",
            )
        found.extend(matches)
    out: list[str] = []
    seen: set[str] = set()
    for path in sorted((p for p in found if p != STDIN), key=source_order):
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            out.append(path)
    if STDIN in found:
        # its index among the distinct files named before it
        before = found[: found.index(STDIN)]
        out.insert(len({os.path.realpath(p) for p in before}), STDIN)
    return out


#: A GH Archive hour in a file name: ``2015-01-01-8`` (hour not zero-padded), not inside a longer number.
_HOUR_NAME = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})-(\d{1,2})(?!\d)")
_DIGIT_RUNS = re.compile(r"(\d+)")

NaturalKey = tuple[str | int, ...]


def _natural(text: str) -> NaturalKey:
    """``text`` split into text and digit runs, the digit runs as numbers (split() puts them at odd indices,
    so two keys never compare a number with a string)."""
    return tuple(int(part) if i % 2 else part for i, part in enumerate(_DIGIT_RUNS.split(text)))


def source_order(path: str) -> tuple[int, tuple[int, ...], NaturalKey, NaturalKey, str]:
    """Sort key of a source path: GH Archive hour names first, by (year, month, day, hour) of the first
    ``YYYY-MM-DD-H`` in the base name, then names without one; ties (and the names without an hour) in
    natural order of the base name, then of the whole path, then the path itself. O(len(path))."""
    base = os.path.basename(path)
    hour = _HOUR_NAME.search(base)
    when = tuple(map(int, hour.groups())) if hour else ()
    return int(hour is None), when, _natural(base), _natural(path), path


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
