"""GH Archive event lines → typed partial events, in batches, with every bad line isolated and reported.

One decoder covers every era (see docs/interactions.md): msgspec decodes only the fields listed in
:class:`RawEvent` and skips the rest without building objects for them, which is what makes it ~10× faster
than ``json.loads``. Fields whose type changed across eras are unions (``actor``: login string in the
2012–2014 timeline, object later; ``payload.member``: string in 2011, object later; ``payload.issue``: id
number before 2015, object after).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Annotated

import msgspec

from networkpulse.events.report import QUARANTINE_HEAD_BYTES, InputReport
from networkpulse.events.sources import (
    GZIP_MAGIC,
    STDIN,
    GzipCorrupt,
    GzipTruncated,
    iter_chunks,
    open_source,
)

DEFAULT_MAX_LINE_BYTES = 16 << 20


class Login(msgspec.Struct, gc=False):
    """Any user-like object: ``actor`` (2011+, 2025 adds ``display_login``, which we ignore: ``login`` is the
    canonical account name), ``payload.*.user``, ``payload.member``, ``payload.target``."""

    login: str | None = None


class Authored(msgspec.Struct, gc=False):
    """A pull request or issue object; only its author matters."""

    user: Login | None = None


class Repo(msgspec.Struct, gc=False):
    """Events-API ``repo``; ``name`` is ``owner/name`` (``"/"`` for 2011 gists and follows)."""

    name: str = ""


class Repository(msgspec.Struct, gc=False):
    """Timeline (2012–2014) ``repository``; ``owner`` is a login string (sometimes ``""``)."""

    owner: str | None = None


class Payload(msgspec.Struct, gc=False):
    """The payload fields venturi's counterpart rules read; everything else is skipped."""

    pull_request: Authored | None = None
    issue: int | Authored | None = None
    member: str | Login | None = None
    target: Login | None = None


class RawEvent(msgspec.Struct, gc=False):
    """One GH Archive event, decoded partially. ``created_at`` must carry a UTC offset (every era does)."""

    type: str
    created_at: Annotated[datetime, msgspec.Meta(tz=True)]
    id: str = ""
    actor: str | Login | None = None
    repo: Repo | None = None
    repository: Repository | None = None
    payload: Payload | None = None


@dataclass(slots=True)
class EventBatch:
    """Decoded events of one source, in file order."""

    source: str
    events: list[RawEvent]

    def __len__(self) -> int:
        return len(self.events)


_DECODER = msgspec.json.Decoder(RawEvent)


class _LineReader:
    """Frames decompressed chunks into lines and decodes them; state of one source.

    Lines are decoded a chunk at a time with ``decode_lines`` (one C call for ~450 events); only a chunk
    that fails is re-decoded line by line to find and report its bad lines, so the common path has no
    per-line Python.
    """

    def __init__(self, source: str, report: InputReport, max_line_bytes: int, quarantine: IO[str] | None):
        self.source = source
        self.report = report
        self.max_line_bytes = max_line_bytes
        self.quarantine = quarantine
        self.lines_done = 0  # lines fully consumed; the next line is lines_done + 1
        self.pending = b""  # the incomplete last line of the chunks seen so far
        self.skip_head: bytes | None = None  # head of an overlong line being skipped, else None
        self.skip_bytes = 0
        self.out: list[RawEvent] = []

    def feed(self, chunk: bytes) -> None:
        if self.skip_head is not None:
            nl = chunk.find(b"\n")
            if nl < 0:
                self._skip_more(chunk)
                return
            self._skip_more(chunk[:nl])
            self._end_skip()
            chunk = chunk[nl + 1 :]
        last = chunk.rfind(b"\n")
        if last < 0:
            self.pending += chunk
        else:
            buf = self.pending + chunk[: last + 1]
            self.pending = chunk[last + 1 :]
            self._decode(buf)
        if len(self.pending) > self.max_line_bytes:
            self.skip_head, self.skip_bytes = b"", 0
            pending, self.pending = self.pending, b""
            self._skip_more(pending)

    def finish(self, cut: str | None = None) -> None:
        """End of stream; ``cut`` says why the stream stopped early (truncated or corrupt gzip), if it did."""
        if self.skip_head is not None:
            self._end_skip()
        if cut is not None:
            code, detail = cut.split(":", 1)
            self.report.add(
                code, self.source, self.lines_done + 1, detail.strip(), self.pending,
                quarantine=self.quarantine,
            )
        elif self.pending.strip():
            self._decode(self.pending)
        self.pending = b""

    def _skip_more(self, part: bytes) -> None:
        assert self.skip_head is not None
        if len(self.skip_head) < QUARANTINE_HEAD_BYTES:
            self.skip_head += part[: QUARANTINE_HEAD_BYTES - len(self.skip_head)]
        self.skip_bytes += len(part)

    def _end_skip(self) -> None:
        assert self.skip_head is not None
        self.report.add(
            "line_too_long",
            self.source,
            self.lines_done + 1,
            f"{self.skip_bytes} bytes > max_line_bytes {self.max_line_bytes}; skipped",
            self.skip_head,
            self.skip_bytes,
            quarantine=self.quarantine,
        )
        self.lines_done += 1
        self.skip_head, self.skip_bytes = None, 0

    def _decode(self, buf: bytes) -> None:
        """Decode the whole lines ``buf``; O(len(buf)). Per-line decoding only for a chunk with a bad line."""
        first = self.lines_done + 1
        self.lines_done += buf.count(b"\n") + (not buf.endswith(b"\n"))
        if len(buf) <= self.max_line_bytes:
            try:
                self.out.extend(_DECODER.decode_lines(buf))
                return
            except msgspec.DecodeError:
                pass
        for offset, line in enumerate(buf.split(b"\n")):
            if not line.strip():
                continue
            if len(line) > self.max_line_bytes:
                self.report.add(
                    "line_too_long",
                    self.source,
                    first + offset,
                    f"{len(line)} bytes > max_line_bytes {self.max_line_bytes}; skipped",
                    line[:QUARANTINE_HEAD_BYTES],
                    len(line),
                    quarantine=self.quarantine,
                )
                continue
            try:
                self.out.append(_DECODER.decode(line))
            except msgspec.ValidationError as exc:
                self.report.add("wrong_shape", self.source, first + offset, str(exc), line,
                                quarantine=self.quarantine)
            except msgspec.DecodeError as exc:
                self.report.add("malformed_json", self.source, first + offset, str(exc), line,
                                quarantine=self.quarantine)


def _iter_source(
    source: str, report: InputReport, max_line_bytes: int, quarantine: IO[str] | None
) -> Iterator[list[RawEvent]]:
    """Yield the decoded events of one source, a chunk (~1 MiB of JSON) at a time."""
    try:
        stream = open_source(source)
    except OSError as exc:
        report.add("unreadable", source, None, exc.strerror or str(exc))
        return
    reader = _LineReader(source, report, max_line_bytes, quarantine)
    try:
        first = stream.read(2)
        gzipped = first == GZIP_MAGIC
        if source != STDIN and source.endswith(".gz") and not gzipped:
            detail = f"named .gz but starts with {first!r}, not the gzip magic 1f 8b"
            report.add("not_gzip", source, None, detail)
            return
        report.files += 1
        cut: str | None = None
        try:
            for chunk in iter_chunks(stream, first, gzipped):
                reader.feed(chunk)
                if reader.out:
                    report.events += len(reader.out)
                    yield reader.out
                    reader.out = []
        except GzipTruncated as exc:
            cut = f"truncated_gzip: {exc}; the lines before it were kept"
        except GzipCorrupt as exc:
            cut = f"corrupt_gzip: {exc}; the lines before it were kept"
        except OSError as exc:
            cut = f"unreadable: {exc}"
        reader.finish(cut)
        if reader.out:
            report.events += len(reader.out)
            yield reader.out
    finally:
        if source != STDIN:
            stream.close()


def iter_event_batches(
    sources: Sequence[str],
    report: InputReport,
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    quarantine: IO[str] | None = None,
    batch_lines: int = 4096,
) -> Iterator[EventBatch]:
    """Stream the events of ``sources`` (from :func:`expand_sources`) in batches of about ``batch_lines``.

    Never raises for bad input: a missing file, a non-gzip ``.gz``, a truncated or corrupt gzip stream, a
    malformed or wrongly shaped line and a line over ``max_line_bytes`` are each recorded in ``report``
    (file:line, 1-based, and reason) and, for lines, written to ``quarantine``; everything else goes on.
    A batch never mixes sources. O(total bytes) time; memory O(batch + 1 MiB), also for overlong lines.
    """
    if batch_lines < 1:
        raise ValueError("batch_lines must be >= 1")
    for source in sources:
        acc: list[RawEvent] = []
        for events in _iter_source(source, report, max_line_bytes, quarantine):
            acc.extend(events) if acc else (acc := events)
            while len(acc) >= batch_lines:
                yield EventBatch(source, acc[:batch_lines])
                acc = acc[batch_lines:]
        if acc:
            yield EventBatch(source, acc)
