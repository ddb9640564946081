"""GH Archive event lines → typed partial events, in batches, with every bad line isolated and reported.

One decoder covers every era (see docs/interactions.md): msgspec decodes only the fields listed in
:class:`RawEvent` and skips the rest without building objects for them, which is what makes it ~10× faster
than ``json.loads``. Fields whose type changed across eras are unions (``actor``: login string in the
2012–2014 timeline, object later; ``payload.member``: string in 2011, object later; ``payload.issue``: id
number before 2015, object after). Fields read only to recover a missing repository owner (``payload.repo``,
``url``, ``repository.name``) are kept as :class:`msgspec.Raw`: any JSON value is accepted there, so an odd
type in a field we rarely need never costs the whole event, and they are decoded only when needed.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Annotated

import msgspec
import numpy as np
import numpy.typing as npt

from networkpulse.events.plausible import DEFAULT_MAX_SKEW_MS, TimeCheck
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
    """Timeline (2012–2014) ``repository``; ``owner`` is a login string (sometimes ``""``: then venturi reads the
    owner in the event's ``url`` when that names this repository)."""

    owner: str | None = None
    name: msgspec.Raw = msgspec.Raw()  # empty when absent


class Payload(msgspec.Struct, gc=False):
    """The payload fields venturi's counterpart rules read; everything else is skipped."""

    pull_request: Authored | None = None
    issue: int | Authored | None = None
    member: str | Login | None = None
    target: Login | None = None
    repo: msgspec.Raw = msgspec.Raw()  # 2011–2012: "owner/name", also where repo.name is "/"


class RawEvent(msgspec.Struct, gc=False):
    """One GH Archive event, decoded partially. ``created_at`` must carry a UTC offset (every era does)."""

    type: str
    created_at: Annotated[datetime, msgspec.Meta(tz=True)]
    id: str = ""
    actor: str | Login | None = None
    repo: Repo | None = None
    repository: Repository | None = None
    payload: Payload | None = None
    url: msgspec.Raw = msgspec.Raw()  # 2012–2014 timeline: the event's html URL


@dataclass(slots=True)
class EventBatch:
    """Decoded events of one source, in file order, with where and when each one is.

    ``lines[i]`` is the 1-based line of ``events[i]`` in ``source`` (blank lines count, as an editor counts
    them); ``times_ms[i]`` its ``created_at`` as UTC epoch milliseconds. Both are int64 and as long as
    ``events``.
    """

    source: str
    events: list[RawEvent]
    lines: npt.NDArray[np.int64]
    times_ms: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.events)


_DECODER = msgspec.json.Decoder(RawEvent)
#: UTF-8 byte order mark: some tools write it before the first line; it is not JSON and not part of the event.
BOM = b"\xef\xbb\xbf"
#: JSON's whitespace; decode_lines skips lines made only of these, so such lines are not events (and not errors).
JSON_SPACE = b" \t\r\n"
_IS_SPACE = np.zeros(256, np.bool_)
_IS_SPACE[np.frombuffer(JSON_SPACE, np.uint8)] = True


class _LineReader:
    """Frames decompressed chunks into lines and decodes them; state of one source.

    Lines are decoded a chunk at a time with ``decode_lines`` (one C call for ~450 events); only a chunk
    that fails is re-decoded line by line to find and report its bad lines, so the common path has no
    per-line Python. Every decoded chunk then passes :class:`~networkpulse.events.plausible.TimeCheck`.
    """

    def __init__(
        self, source: str, report: InputReport, max_line_bytes: int, quarantine: IO[str] | None, times: TimeCheck,
        resume_after: int = 0,
    ) -> None:
        self.source = source
        self.report = report
        self.max_line_bytes = max_line_bytes
        self.quarantine = quarantine
        self.times = times
        self.lines_done = 0  # lines fully consumed; the next line is lines_done + 1
        self.resume_after = resume_after  # lines an earlier run applied: passed over, never decoded again
        self.pending = b""  # the incomplete last line of the chunks seen so far
        self.at_start = True  # no byte seen yet that rules out a BOM
        self.skip_head: bytes | None = None  # head of an overlong line being skipped, else None
        self.skip_bytes = 0
        self.out: list[RawEvent] = []
        self.out_lines: list[npt.NDArray[np.int64]] = []
        self.out_times: list[npt.NDArray[np.int64]] = []

    def take(self) -> tuple[list[RawEvent], npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
        """The events decoded since the last call, with their lines and times; None if there are none."""
        if not self.out:
            return None
        out = self.out, _concat(self.out_lines), _concat(self.out_times)
        self.out, self.out_lines, self.out_times = [], [], []
        return out

    def feed(self, chunk: bytes) -> None:
        if self.at_start:
            # The BOM can be split over chunks (a plain file's first chunk is its 2 sniffed bytes).
            head = self.pending + chunk
            if len(head) < len(BOM) and BOM.startswith(head):
                self.pending = head
                return
            self.at_start = False
            self.pending, chunk = b"", head.removeprefix(BOM)
        if self.lines_done < self.resume_after:
            chunk = self._drop_applied(chunk)
            if not chunk:
                return
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
            buf = b"".join((self.pending, memoryview(chunk)[: last + 1]))  # one copy of ~1 MiB, not two
            self.pending = chunk[last + 1 :]
            self._decode(buf)
        if len(self.pending) > self.max_line_bytes:
            self.skip_head, self.skip_bytes = b"", 0
            pending, self.pending = self.pending, b""
            self._skip_more(pending)

    def _drop_applied(self, chunk: bytes) -> bytes:
        """Pass over the lines up to ``resume_after`` (an earlier run applied them) without decoding, checking
        or reporting them; return the rest of ``chunk``. O(len(chunk)), in numpy."""
        data = self.pending + chunk
        ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
        need = self.resume_after - self.lines_done
        if len(ends) < need:
            self.lines_done += len(ends)
            self.pending = data[int(ends[-1]) + 1 :] if len(ends) else data
            return b""
        self.lines_done += need
        self.pending = b""
        return data[int(ends[need - 1]) + 1 :]

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
        elif self.pending.strip(JSON_SPACE):
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
        data = np.frombuffer(buf, np.uint8)
        ends = np.flatnonzero(data == 10)  # numpy finds the newlines faster than bytes.count counts them
        count = len(ends) + (not buf.endswith(b"\n"))
        self.lines_done += count
        events: list[RawEvent] | None = None
        lines: npt.NDArray[np.int64] | None = None
        if len(buf) <= self.max_line_bytes:
            # RecursionError: JSON nested ~1000 deep anywhere in a line, even in a skipped field;
            # UnicodeDecodeError: invalid UTF-8 inside a string msgspec decodes (outside one it is a DecodeError)
            with contextlib.suppress(msgspec.DecodeError, RecursionError, UnicodeDecodeError):
                events = _DECODER.decode_lines(buf)
        if events is not None:
            lines = _event_lines(data, ends, count, len(events))
        if events is None or lines is None:
            events, lines = self._decode_each(buf, first)
        else:
            lines += first
        if events:
            self._accept(events, lines, buf, first)

    def _decode_each(self, buf: bytes, first: int) -> tuple[list[RawEvent], npt.NDArray[np.int64]]:
        """Decode ``buf`` line by line, reporting each bad line; the events and their line numbers."""
        events: list[RawEvent] = []
        lines: list[int] = []
        for offset, line in enumerate(buf.split(b"\n")):
            if not line.strip(JSON_SPACE):  # as decode_lines: a line of form feeds is not blank
                continue
            where = first + offset
            if len(line) > self.max_line_bytes:
                self.report.add(
                    "line_too_long",
                    self.source,
                    where,
                    f"{len(line)} bytes > max_line_bytes {self.max_line_bytes}; skipped",
                    line[:QUARANTINE_HEAD_BYTES],
                    len(line),
                    quarantine=self.quarantine,
                )
                continue
            try:
                events.append(_DECODER.decode(line))
                lines.append(where)
            except msgspec.ValidationError as exc:
                self.report.add("wrong_shape", self.source, where, str(exc), line, quarantine=self.quarantine)
            except msgspec.DecodeError as exc:
                self.report.add("malformed_json", self.source, where, str(exc), line, quarantine=self.quarantine)
            except UnicodeDecodeError as exc:
                detail = f"invalid UTF-8 in a string: {exc.reason} at byte {exc.start}"
                self.report.add("malformed_json", self.source, where, detail, line, quarantine=self.quarantine)
            except RecursionError:
                detail = "JSON nested too deep to decode (past the ~1000-level recursion limit); expected an event"
                self.report.add("malformed_json", self.source, where, detail, line, quarantine=self.quarantine)
        return events, np.array(lines, dtype=np.int64)

    def _accept(self, events: list[RawEvent], lines: npt.NDArray[np.int64], buf: bytes, first: int) -> None:
        """Keep the events of one decoded chunk whose time is plausible; report the others with their raw line."""
        times = epoch_ms(events)
        bad = self.times.check(times)
        if bad is not None:
            raw = buf.split(b"\n")
            for i in np.flatnonzero(bad).tolist():
                where = int(lines[i])
                detail = self.times.explain(events[i].created_at, int(times[i]))
                self.report.add("implausible_time", self.source, where, detail, raw[where - first],
                                quarantine=self.quarantine)
            keep = ~bad
            events = [ev for ev, ok in zip(events, keep.tolist(), strict=True) if ok]
            lines, times = lines[keep], times[keep]
        self.out.extend(events)
        self.out_lines.append(lines)
        self.out_times.append(times)


def _event_lines(
    data: npt.NDArray[np.uint8], ends: npt.NDArray[np.intp], count: int, values: int
) -> npt.NDArray[np.int64] | None:
    """0-based indexes of the ``count`` lines of ``data`` (newlines at ``ends``) that hold the ``values`` values
    decode_lines found, or None when they cannot be one per non-blank line: decode_lines splits values on any
    whitespace, so ``{…}{…}`` on one line gives two, which the per-line path then reports as malformed.

    Common case: every line starts with a non-space byte, so none is blank and ``values == count`` proves one value
    per line: a gather of one byte per line. Otherwise a cumulative count of non-space bytes finds the blank
    lines. O(len(data)) in numpy.
    """
    starts = np.concatenate(([0], ends + 1))[:count]
    if not np.count_nonzero(_IS_SPACE[data[starts]]):
        return np.arange(count, dtype=np.int64) if values == count else None
    solid = np.concatenate(([0], np.cumsum(~_IS_SPACE[data], dtype=np.int64)))
    stops = ends if len(ends) == count else np.append(ends, len(data))
    nonblank = np.flatnonzero(solid[stops] > solid[starts]).astype(np.int64)
    return nonblank if len(nonblank) == values else None


_ENCODER = msgspec.json.Encoder()
_CREATED_AT = operator.attrgetter("created_at")


def epoch_ms(events: Sequence[RawEvent]) -> npt.NDArray[np.int64]:
    """``created_at`` of each event as UTC epoch milliseconds (int64), converted per chunk in numpy.

    ``datetime.timestamp()`` costs ~0.7 µs per call here. Instead msgspec encodes the (already validated)
    datetimes in C as RFC 3339 (``YYYY-MM-DDTHH:MM:SS`` then ``Z`` or ``±HH:MM``, ``.ffffff`` only when there are
    microseconds), and numpy parses them in one call through a strided view of that text. Two byte counts prove
    that every record has the same layout: the length, and the number of ``Z`` (one per UTC record, none per
    offset record) or of ``:`` (three per offset record, two per UTC one). That covers every GH Archive file:
    ``…SSZ`` in 2011 and 2015+, ``…SS-08:00`` in the timeline era, one offset per chunk except across a DST
    switch. Anything else takes the per-event ``timestamp()`` path. O(n).
    """
    n = len(events)
    text = _ENCODER.encode(list(map(_CREATED_AT, events)))  # ["…","…"]: quote, time, quote, separator
    if n and len(text) == 1 + _UTC_RECORD * n and text.count(b"Z") == n:
        return np.ndarray((n,), "S19", text, 2, (_UTC_RECORD,)).astype("datetime64[ms]").view(np.int64)
    if n and len(text) == 1 + _OFFSET_RECORD * n and text.count(b":") == 3 * n:
        offset = text[21:27]  # the first record's ±HH:MM; the count proves it is every record's
        if text.count(offset + b'"') == n:
            local = np.ndarray((n,), "S19", text, 2, (_OFFSET_RECORD,)).astype("datetime64[ms]").view(np.int64)
            minutes = int(offset[1:3]) * 60 + int(offset[4:6])
            return local - (-60_000 if offset[:1] == b"-" else 60_000) * minutes
    seconds = np.array([ev.created_at.timestamp() for ev in events], np.float64)
    return np.rint(seconds * 1000.0).astype(np.int64)


# Record widths in msgspec's encoding: '"YYYY-MM-DDTHH:MM:SSZ",' and '"YYYY-MM-DDTHH:MM:SS+HH:MM",'.
_UTC_RECORD = 23
_OFFSET_RECORD = 28


def _concat(parts: list[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _iter_source(
    source: str, report: InputReport, max_line_bytes: int, quarantine: IO[str] | None, times: TimeCheck,
    resume_after: int = 0,
) -> Iterator[tuple[list[RawEvent], npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Yield the decoded events of one source with their lines and times, a chunk (~1 MiB of JSON) at a time."""
    try:
        stream = open_source(source)
    except OSError as exc:
        report.add("unreadable", source, None, exc.strerror or str(exc))
        return
    reader = _LineReader(source, report, max_line_bytes, quarantine, times, resume_after)
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
                if (out := reader.take()) is not None:
                    report.events += len(out[0])
                    yield out
        except GzipTruncated as exc:
            cut = f"truncated_gzip: {exc}; the lines before it were kept"
        except GzipCorrupt as exc:
            cut = f"corrupt_gzip: {exc}; the lines before it were kept"
        except OSError as exc:
            cut = f"unreadable: {exc}"
        reader.finish(cut)
        if (out := reader.take()) is not None:
            report.events += len(out[0])
            yield out
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
    max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
    skip_lines: Mapping[str, int] | None = None,
) -> Iterator[EventBatch]:
    """Stream the events of ``sources`` (from :func:`expand_sources`) in batches of about ``batch_lines``.

    ``skip_lines[source] = n``: an earlier run applied the first ``n`` lines of ``source`` (a run continued
    from a checkpoint); they are passed over without being decoded, checked or reported again, and batches
    count from line ``n + 1``, so they fall where an undisturbed run's batches fall when ``n`` ended one.

    Never raises for bad input: a missing file, a non-gzip ``.gz``, a truncated or corrupt gzip stream, a
    malformed (also: nested too deep) or wrongly shaped line, a line over ``max_line_bytes`` and an event
    whose time is implausible (more than ``max_skew_ms`` ahead of the events around it, or before GitHub:
    see :class:`~networkpulse.events.plausible.TimeCheck`) are each recorded in ``report`` (file:line,
    1-based, and reason) and, for lines, written to ``quarantine``; everything else goes on. A UTF-8 BOM
    before the first line is dropped. A batch never mixes sources. O(total bytes) time; memory O(batch +
    1 MiB), also for overlong lines.
    """
    if batch_lines < 1:
        raise ValueError("batch_lines must be >= 1")
    for source in sources:
        times = TimeCheck(max_skew_ms)  # per source: years between files are legal, only a jump inside one is not
        events: list[RawEvent] = []
        lines: list[npt.NDArray[np.int64]] = []
        stamps: list[npt.NDArray[np.int64]] = []
        held = 0
        resume_after = skip_lines.get(source, 0) if skip_lines else 0
        for part, part_lines, part_times in _iter_source(source, report, max_line_bytes, quarantine, times,
                                                          resume_after):
            events.extend(part) if events else (events := part)
            lines.append(part_lines)
            stamps.append(part_times)
            held += len(part)
            if held >= batch_lines:
                all_lines, all_times = _concat(lines), _concat(stamps)
                start = 0
                while held - start >= batch_lines:
                    end = start + batch_lines
                    yield EventBatch(source, events[start:end], all_lines[start:end], all_times[start:end])
                    start = end
                events, lines, stamps, held = events[start:], [all_lines[start:]], [all_times[start:]], held - start
        if held:
            yield EventBatch(source, events, _concat(lines), _concat(stamps))
