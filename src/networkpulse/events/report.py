"""Bookkeeping for input that could not be read: counts per reason, first messages,
an optional quarantine file."""

from __future__ import annotations

import json
from collections import Counter
from typing import IO

from networkpulse.errors import InputError

#: Reason codes a record can carry; the keys of :attr:`InputReport.by_reason`.
REASONS = (
    "malformed_json",  # the line is not JSON (syntax error, invalid UTF-8, binary garbage)
    "wrong_shape",  # valid JSON, but a needed field is missing or has the wrong type
    "line_too_long",  # longer than max_line_bytes; skipped while streaming, never held in memory whole
    # a time far ahead of the events around it, or before GitHub existed (events/plausible.py): one such event
    # would move the engine's watermark and drop the rest of its hour as late
    "implausible_time",
    # an actor or counterpart login with a control, format or whitespace character (never in a GitHub login;
    # found by venturi, which resolves the logins; the store could not hold such a name)
    "bad_login",
    "truncated_gzip",  # the gzip stream ends before its end marker; the lines before it were kept
    "corrupt_gzip",  # the gzip stream holds invalid deflate data or a bad checksum
    "not_gzip",  # a file named *.gz whose first bytes are not the gzip magic
    "unreadable",  # the file is missing or cannot be opened
    # behind the watermark when it arrived: its window was closed (the pipeline finds these; the line is intact in
    # its file, so the quarantine record has "raw": null)
    "late",
)

#: Characters valid raw inside a JSON string that still end a line for ``str.splitlines`` (and U+2028/9 for
#: JavaScript): escaped in quarantine records, so one record is one line for every reader.
_LINE_BREAKS = {c: f"\\u{c:04x}" for c in (0x85, 0x2028, 0x2029)}

#: How much of an overlong line the quarantine keeps: enough to see what it was, bounded so memory stays flat.
QUARANTINE_HEAD_BYTES = 1 << 20


class InputReport:
    """Collects every unit of input (line or file) that was skipped, so nothing is lost silently.

    ``skipped`` is the total, ``by_reason`` the count per reason code (see :data:`REASONS`),
    ``messages`` the first ``max_messages`` records as ``"file:line: reason"``. When ``quarantine`` is
    given, each bad line is also written there as one JSON line ``{"source", "line", "reason", "raw"}``
    (``raw_truncated: true`` and ``raw_bytes`` mark a raw text that was cut).
    """

    def __init__(self, max_messages: int = 100, quarantine: IO[str] | None = None) -> None:
        self.max_messages = max_messages
        self.quarantine = quarantine
        self.skipped = 0
        self.by_reason: Counter[str] = Counter()
        self.messages: list[str] = []
        self.errors: list[InputError] = []
        self.files = 0
        self.events = 0

    def add(
        self,
        code: str,
        source: str,
        line: int | None,
        detail: str,
        raw: bytes | None = None,
        raw_bytes: int | None = None,
        quarantine: IO[str] | None = None,
        *,
        always_quarantine: bool = False,
    ) -> InputError:
        """Record one skipped unit. ``raw`` (possibly only the head of it, ``raw_bytes`` long in full) goes to
        the quarantine sink if one is set here or on the report; ``always_quarantine`` writes a record with
        ``"raw": null`` when there is no raw text to keep."""
        err = InputError(source, line, f"{code}: {detail}")
        self.skipped += 1
        self.by_reason[code] += 1
        if len(self.messages) < self.max_messages:
            self.messages.append(str(err))
            self.errors.append(err)
        sink = quarantine if quarantine is not None else self.quarantine
        if sink is not None and (raw is not None or always_quarantine):
            record: dict[str, object] = {
                "source": source,
                "line": line,
                "reason": err.reason,
                "raw": None if raw is None else raw.decode("utf-8", errors="replace"),
            }
            if raw is not None and raw_bytes is not None and raw_bytes > len(raw):
                record["raw_truncated"] = True
                record["raw_bytes"] = raw_bytes
            sink.write(json.dumps(record, ensure_ascii=False).translate(_LINE_BREAKS) + "\n")
        return err

    def merge(self, other: InputReport) -> None:
        """Fold another report (e.g. from a parallel worker) into this one."""
        self.skipped += other.skipped
        self.by_reason.update(other.by_reason)
        room = max(0, self.max_messages - len(self.messages))
        self.messages.extend(other.messages[:room])
        self.errors.extend(other.errors[:room])
        self.files += other.files
        self.events += other.events

    def summary(self) -> str:
        """One human line: how much was read and what was skipped, by reason."""
        head = f"{self.events} events from {self.files} file{'' if self.files == 1 else 's'}"
        if not self.skipped:
            return f"{head}; nothing skipped"
        reasons = ", ".join(f"{code} {n}" for code, n in sorted(self.by_reason.items()))
        more = len(self.messages) < self.skipped
        first = f"; first: {self.messages[0]}" if self.messages else ""
        return f"{head}; skipped {self.skipped} ({reasons}){first}" + (" …" if more else "")

    def __repr__(self) -> str:
        return f"InputReport(skipped={self.skipped}, by_reason={dict(self.by_reason)})"
