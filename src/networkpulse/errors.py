"""The one error root, and the messages that tell a user what, where, expected, got and how to fix."""

from __future__ import annotations


class PulseError(Exception):
    """Root of every error networkpulse raises on purpose; the CLI prints it without a traceback."""


class ConfigError(PulseError):
    """A flag, environment variable or URL has a value we cannot use."""

    def __init__(self, what: str, expected: str, got: object, fix: str = "") -> None:
        message = f"{what}: expected {expected}, got {got!r}"
        if fix:
            message += f". {fix}"
        super().__init__(message)


class InputError(PulseError):
    """One unit of input (a line, a file) could not be read; the stream goes on without it."""

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        self.source = source
        self.line = line
        self.reason = reason
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {reason}")

    def __reduce__(self) -> tuple[type[InputError], tuple[str, int | None, str]]:
        # Reports travel back from parsing worker processes; the default pickling would call __init__(message).
        return (InputError, (self.source, self.line, self.reason))


class StoreError(PulseError):
    """A store cannot be used as asked: not ours, another version, another window configuration, disk full."""


class StoreBusyError(StoreError):
    """Another process is writing the store (there is one writer per store; readers are welcome)."""


class MissingExtraError(PulseError):
    """An optional dependency is not installed; the message names the exact install command."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"the optional dependency {module!r} is not installed; "
            f"install it with: .venv/bin/pip install 'networkpulse[{extra}]'"
        )
