"""``pulse``: the command line. Every flag is also an environment variable ``PULSE_<FLAG>``.

Exit status: 0 = done, nothing skipped; 3 = done, but some input was skipped (see the report and
``--quarantine``); 1 = a fatal error (message on stderr); 2 = a bad flag.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click

from networkpulse import __version__
from networkpulse.engine.types import WindowConfig
from networkpulse.errors import ConfigError, PulseError
from networkpulse.settings import Settings, bundled_sources, parse_duration, parse_pace

EXIT_SKIPPED = 3


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _env(name: str) -> dict[str, Any]:
    return {"envvar": f"PULSE_{name}", "show_envvar": True}


def _duration(what: str) -> Callable[[click.Context, click.Parameter, Any], int | None]:
    def convert(ctx: click.Context, param: click.Parameter, value: Any) -> int | None:
        if value is None:
            return None
        try:
            return parse_duration(value, what)
        except ConfigError as exc:
            raise click.BadParameter(str(exc).split(": ", 1)[1]) from None

    return convert


# Options shared by several commands, defined once.
_window = click.option("--window", "window_ms", default="10m", callback=_duration("--window"), show_default=True,
                       help="Window size (e.g. 10m, 1h, 30s).", **_env("WINDOW"))
_slide = click.option("--slide", "slide_ms", default="1m", callback=_duration("--slide"), show_default=True,
                      help="Slide between windows; the window must be a multiple of it.", **_env("SLIDE"))
_host = click.option("--host", default="127.0.0.1", show_default=True,
                     help="Interface to bind; 0.0.0.0 exposes it to the network.", **_env("HOST"))
_port = click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
                     help="Port to listen on (0 picks a free one).", **_env("PORT"))


def _window_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        _window,
        _slide,
        click.option("--rolling", is_flag=True, default=False,
                     help="Cumulative components of everything so far, emitted every --window (tumbling).",
                     **_env("ROLLING")),
        click.option("--lateness", "lateness_ms", default="0s", callback=_duration("--lateness"),
                     show_default=True, help="Allowed lateness: the watermark trails the newest event time by this.",
                     **_env("LATENESS")),
        click.option("--min-size", type=click.IntRange(min=1), default=3, show_default=True,
                     help="Clusters at least this large are stored with members and edges.", **_env("MIN_SIZE")),
        click.option("--retention", type=click.IntRange(min=1), default=None,
                     help="Keep only this many newest windows in the store (default: all).", **_env("RETENTION")),
        click.option("--quarantine", type=click.Path(dir_okay=False, writable=True), default=None,
                     help="Append every skipped input line to this JSONL file (source, line, reason, raw).",
                     **_env("QUARANTINE")),
        click.option("--max-line-bytes", type=click.IntRange(min=1024), default=16 << 20, show_default=True,
                     help="Lines longer than this are skipped and reported.", **_env("MAX_LINE_BYTES")),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _window_config(window_ms: int, slide_ms: int, rolling: bool, lateness_ms: int, min_size: int) -> WindowConfig:
    if window_ms <= 0 or slide_ms <= 0:
        raise click.BadParameter("window and slide must be longer than 0", param_hint="--window/--slide")
    if window_ms % slide_ms:
        raise click.BadParameter(
            f"the window ({window_ms} ms) must be a whole number of slides ({slide_ms} ms), e.g. --window 10m "
            "--slide 1m",
            param_hint="--window/--slide",
        )
    return WindowConfig(size_ms=window_ms, slide_ms=slide_ms, rolling=rolling, lateness_ms=lateness_ms,
                        min_size=min_size)


def _sources(specs: Sequence[str]) -> tuple[str, ...]:
    from networkpulse.events import expand_sources

    return tuple(expand_sources(list(specs))) if specs else tuple(bundled_sources())


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PulseError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="pulse")
def main() -> None:
    """networkpulse: connected components of GitHub interactions over event-time windows.

    Quick start: `pulse demo` replays bundled real GH Archive data and serves the live UI;
    `pulse run FILES...` computes and stores every window; `pulse serve` shows a store.
    """


# ---------------------------------------------------------------------------------------------------- run


@main.command()
@click.argument("sources", nargs=-1)
@_window_options
@click.option("--store", "store_url", default="sqlite:///pulse.db", show_default=True,
              help="Where windows go: sqlite:///path.db (PostgreSQL is planned).", **_env("STORE"))
@click.option("--speed", default=None, help="Replay at this speed-up of event time, e.g. 60x.", **_env("SPEED"))
@click.option("--rate", default=None, help="Replay at this many events per second, e.g. 5000/s.", **_env("RATE"))
@click.option("--as-fast-as-possible", "fast", is_flag=True, default=False,
              help="No pacing (the default when neither --speed nor --rate is given).", **_env("FAST"))
@click.option("--loops", type=click.IntRange(min=0), default=1, show_default=True,
              help="Replay the sources this many times with time shifted (0 = forever).", **_env("LOOPS"))
@click.option("--workers", type=click.IntRange(min=1), default=os.cpu_count() or 1, show_default="CPU count",
              help="Processes parsing files in parallel (unpaced runs over several files; 1 = in-process).",
              **_env("WORKERS"))
@click.option("--progress/--no-progress", default=None,
              help="Live progress display (default: on when stderr is a terminal).", **_env("PROGRESS"))
def run(sources: tuple[str, ...], window_ms: int, slide_ms: int, rolling: bool, lateness_ms: int, min_size: int,
        retention: int | None, quarantine: str | None, max_line_bytes: int, store_url: str, speed: str | None,
        rate: str | None, fast: bool, loops: int, workers: int, progress: bool | None) -> None:
    """Read GH Archive SOURCES (files, folders, globs, or - for stdin; default: the bundled hour), compute the
    connected components of every window and store them.

    \b
    Example: pulse run data/2015-*.json.gz --window 10m --slide 1m --store sqlite:///pulse.db
    """
    from networkpulse.pipeline import Pipeline

    try:
        pace = parse_pace(speed, rate, fast)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    settings = Settings(
        sources=_sources(sources),
        window=_window_config(window_ms, slide_ms, rolling, lateness_ms, min_size),
        store_url=store_url, retention=retention, pace=pace, loops=loops, quarantine=quarantine,
        max_line_bytes=max_line_bytes, workers=workers,
    )
    show = sys.stderr.isatty() if progress is None else progress
    with _ProgressDisplay(show, settings) as display:
        result = Pipeline(settings, on_progress=display.update).run()
    p = result.progress
    click.echo(
        f"{p.windows} windows stored in {settings.store_url} · {p.events} events in {p.elapsed_s:.2f} s "
        f"({p.events_per_s:,.0f} events/s) · {p.interactions} interactions · filtered {p.filtered_share:.1%} · "
        f"late {p.late_events}",
        err=True,
    )
    click.echo(result.report.summary(), err=True)
    for message in result.report.messages[:10]:
        click.echo(f"  skipped {message}", err=True)
    if result.report.skipped:
        sys.exit(EXIT_SKIPPED)


class _ProgressDisplay:
    """A one-line live status (rich), refreshed at most 4×/s so it never costs the pipeline anything."""

    def __init__(self, enabled: bool, settings: Settings) -> None:
        self.enabled = enabled
        self.settings = settings
        self._live: Any = None
        self._last = 0.0

    def __enter__(self) -> _ProgressDisplay:
        if self.enabled:
            from rich.console import Console
            from rich.live import Live

            self._live = Live("starting…", console=Console(stderr=True), refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)

    def update(self, p: Any) -> None:
        if self._live is None:
            return
        now = time.monotonic()
        if now - self._last < 0.25 and not p.done:
            return
        self._last = now
        at = _iso(p.last_window_end_ms) if p.last_window_end_ms is not None else "—"
        self._live.update(
            f"[bold]{p.events:,}[/] events · [bold]{p.events_per_s:,.0f}[/] events/s · "
            f"[bold]{p.windows:,}[/] windows (up to {at}) · filtered {p.filtered_share:.1%} · "
            f"largest cluster [bold]{p.largest}[/] · late {p.late_events} · skipped {p.skipped_lines}"
        )


# ---------------------------------------------------------------------------------------------------- serve


@main.command()
@click.option("--store", "store_url", default="sqlite:///pulse.db", show_default=True,
              help="The store to show (as written by `pulse run`).", **_env("STORE"))
@_host
@_port
def serve(store_url: str, host: str, port: int) -> None:
    """Serve the read-only API (/docs), the live feed and the web UI for a store."""
    from networkpulse.serve import run as run_server

    run_server(store_url, host, port, ready=lambda url: click.echo(f"serving {store_url} at {url}/", err=True))


# ---------------------------------------------------------------------------------------------------- demo


@main.command()
@_host
@_port
@click.option("--store", "store_url", default=None,
              help="Store to write (default: a fresh SQLite file in a temporary folder).", **_env("STORE"))
@click.option("--speed", default="120x", show_default=True, help="Speed-up of event time.", **_env("SPEED"))
@_window
@_slide
@click.option("--retention", type=click.IntRange(min=1), default=5000, show_default=True,
              help="Newest windows kept, so an endless demo stays small.", **_env("RETENTION"))
@click.option("--loops", type=click.IntRange(min=0), default=0, show_default=True,
              help="Times to replay the data (0 = forever, time shifted each loop).", **_env("LOOPS"))
@click.option("--open-browser/--no-browser", default=False, show_default=True,
              help="Open the UI in the default web browser.", **_env("OPEN_BROWSER"))
def demo(host: str, port: int, store_url: str | None, speed: str, window_ms: int, slide_ms: int, retention: int,
         loops: int, open_browser: bool) -> None:
    """Replay the bundled real GH Archive hour through the whole pipeline, looping, and serve the live UI."""
    from networkpulse.pipeline import Pipeline
    from networkpulse.serve import run as run_server

    try:
        pace = parse_pace(speed, None, False)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    tmp = None
    if store_url is None:
        tmp = tempfile.TemporaryDirectory(prefix="pulse-demo-")
        store_url = f"sqlite:///{Path(tmp.name) / 'demo.db'}"
    settings = Settings(
        window=_window_config(window_ms, slide_ms, False, 0, 3), store_url=store_url, retention=retention,
        pace=pace, loops=loops,
    )
    pipeline = Pipeline(settings)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            pipeline.run()
        except BaseException as exc:  # reported in the main thread
            failure.append(exc)
            os.kill(os.getpid(), 2)

    def ready(url: str) -> None:
        click.echo(f"networkpulse demo: open {url}/  (replaying {settings.sources[0]} at {pace}; Ctrl-C stops)",
                   err=True)
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    worker = threading.Thread(target=work, name="pipeline", daemon=True)
    worker.start()
    try:
        run_server(store_url, host, port, ready=ready)
    finally:
        pipeline.stop()
        worker.join(timeout=5)
        if tmp is not None:
            tmp.cleanup()
    if failure:
        raise failure[0]


# ---------------------------------------------------------------------------------------------------- export


@main.group()
def export() -> None:
    """Write interactions or stored windows as JSON lines."""


def _output(path: str | None) -> contextlib.AbstractContextManager[TextIO]:
    return open(path, "w", encoding="utf-8") if path else contextlib.nullcontext(sys.stdout)


@export.command("interactions")
@click.argument("sources", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True,
              **_env("FORMAT"))
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="File to write (default: stdout).")
@click.option("--quarantine", type=click.Path(dir_okay=False), default=None,
              help="Append every skipped input line to this JSONL file.", **_env("QUARANTINE"))
def export_interactions(sources: tuple[str, ...], fmt: str, output: str | None, quarantine: str | None) -> None:
    """One line per interaction: src, dst, kind, type, created_at (ISO 8601 UTC), created_at_ms, event_id."""
    from networkpulse.events import InputReport
    from networkpulse.venturi import FilterStats, read_interactions

    report, stats = InputReport(), FilterStats()
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(_output(output))
        if quarantine:
            report.quarantine = stack.enter_context(open(quarantine, "a", encoding="utf-8"))
        for b in read_interactions(_sources(sources), report, stats):
            times = b.created_at_ms.tolist()
            out.writelines(
                json.dumps({"src": s, "dst": d, "kind": k, "type": t, "created_at": _iso(ms),
                            "created_at_ms": ms, "event_id": i}) + "\n"
                for s, d, k, t, ms, i in zip(b.src, b.dst, b.kind, b.event_type, times, b.event_id, strict=True)
            )
    click.echo(f"{stats.interactions} interactions from {stats.events} events "
               f"(filtered {stats.filtered_share:.1%}); {report.summary()}", err=True)
    if report.skipped:
        sys.exit(EXIT_SKIPPED)


@export.command("windows")
@click.option("--store", "store_url", default="sqlite:///pulse.db", show_default=True, **_env("STORE"))
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True,
              **_env("FORMAT"))
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="File to write (default: stdout).")
@click.option("--clusters", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also include this many largest clusters (members and edges) per window.")
def export_windows(store_url: str, fmt: str, output: str | None, clusters: int) -> None:
    """One line per stored window, oldest first: id, start, end (ISO 8601 UTC), counts, components, largest."""
    from networkpulse.store import open_store

    store = open_store(store_url, readonly=True)
    n = 0
    try:
        with _output(output) as out:
            last = 0
            while page := store.windows_after(last, limit=1000, max_clusters=clusters):
                for w in page:
                    if not clusters:
                        w.pop("cluster_list", None)
                    out.write(json.dumps(w) + "\n")
                last = page[-1]["id"]
                n += len(page)
    finally:
        store.close()
    click.echo(f"{n} windows exported from {store_url}", err=True)


if __name__ == "__main__":
    main()
