"""Stage 1, events: read raw GH Archive events from files, folders, globs or stdin, every era,
losing nothing."""

from networkpulse.events.gharchive import (
    DEFAULT_MAX_LINE_BYTES,
    Authored,
    EventBatch,
    Login,
    Payload,
    RawEvent,
    Repo,
    Repository,
    epoch_ms,
    iter_event_batches,
)
from networkpulse.events.plausible import DEFAULT_MAX_SKEW_MS, GITHUB_EPOCH_MS
from networkpulse.events.report import REASONS, InputReport
from networkpulse.events.sources import expand_sources

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "DEFAULT_MAX_SKEW_MS",
    "GITHUB_EPOCH_MS",
    "REASONS",
    "Authored",
    "EventBatch",
    "InputReport",
    "Login",
    "Payload",
    "RawEvent",
    "Repo",
    "Repository",
    "epoch_ms",
    "expand_sources",
    "iter_event_batches",
]
