"""``pulse``: the command line. Every flag is also an environment variable ``PULSE_<FLAG>``; a flag given on the
command line wins over the variables.

Exit status: 0 = done, nothing skipped; 3 = done, but some input was skipped or arrived late (see the report and
``--quarantine``); 1 = a fatal error (message on stderr); 2 = a bad flag; 130 = stopped by Ctrl-C or SIGTERM
(what was read is committed; the same command continues).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click

from networkpulse import __version__
from networkpulse.engine.types import WindowConfig
from networkpulse.errors import ConfigError, PulseError
from networkpulse.settings import Pace, Settings, bundled_sources, parse_duration, parse_pace

EXIT_SKIPPED = 3
EXIT_INTERRUPTED = 130


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
_metrics_port = click.option(
    "--metrics-port", type=click.IntRange(0, 65535), default=None,
    help="Serve Prometheus metrics of this run (events, interactions, filtered and skipped by reason, late events, "
         "windows, store write latency) at http://HOST:PORT/metrics while it runs; 0 picks a free port (printed).",
    **_env("METRICS_PORT"))
_window = click.option("--window", "window_ms", default="10m", callback=_duration("--window"), show_default=True,
                       help="Window size (e.g. 10m, 1h, 30s).", **_env("WINDOW"))
_slide = click.option("--slide", "slide_ms", default="1m", callback=_duration("--slide"), show_default=True,
                      help="Slide between windows; the window must be a multiple of it.", **_env("SLIDE"))
_host = click.option("--host", default="127.0.0.1", show_default=True,
                     help="Interface to bind; 0.0.0.0 exposes it to the network.", **_env("HOST"))
_port = click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
                     help="Port to listen on (0 picks a free one).", **_env("PORT"))


def _window_shape(lateness: str = "0s", lateness_help: str = "Allowed lateness: the watermark trails the newest "
                  "event time by this.") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--window, --slide, --rolling, --lateness, --min-size: what a window is (every stage computing windows)."""
    return functools.partial(_shape_options, lateness=lateness, lateness_help=lateness_help)


def _shape_options(f: Callable[..., Any], lateness: str, lateness_help: str) -> Callable[..., Any]:
    options = [
        _window,
        _slide,
        click.option("--rolling", is_flag=True, default=False,
                     help="Cumulative components of everything so far, emitted every --window (tumbling).",
                     **_env("ROLLING")),
        click.option("--lateness", "lateness_ms", default=lateness, callback=_duration("--lateness"),
                     show_default=True, help=lateness_help, **_env("LATENESS")),
        click.option("--min-size", type=click.IntRange(min=1), default=3, show_default=True,
                     help="Clusters at least this large are stored with members and edges.", **_env("MIN_SIZE")),
    ]
    for option in reversed(options):
        f = option(f)
    return f


_window_shape_options = _window_shape()


def _window_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The window's shape plus what a run that reads files and stores windows takes."""
    options = [
        _window_shape_options,
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

    if "-" in specs and (sys.stdin is None or sys.stdin.closed):
        raise PulseError("source '-': standard input is closed; pipe events into it (zcat hour.json.gz | pulse run -)"
                         " or name files")
    return tuple(expand_sources(list(specs))) if specs else tuple(bundled_sources())


class _Group(click.Group):
    """Turns every error a user can cause or meet (ours, the file system's, a full disk) into one line on stderr
    and exit status 1: never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PulseError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            ctx.exit(1)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            click.secho(f"error: {where}{exc.strerror or exc}", fg="red", err=True)
            ctx.exit(1)


def _store_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A store URL we can never use is a bad flag (exit 2); a file we cannot use is found when it is opened."""
    from networkpulse.store import check_store_url

    if value is not None:
        try:
            check_store_url(value)
        except ConfigError as exc:
            raise click.BadParameter(str(exc).split(": ", 1)[1]) from None
    return value


def _shown(url: str) -> str:
    """A store URL for messages: never its password."""
    from networkpulse.store import redact_url

    return redact_url(url)


def _pace(ctx: click.Context, speed: str | None, rate: str | None, fast: bool) -> Pace:
    """The pace of ``--speed``/``--rate``/``--as-fast-as-possible``: a pace given on the command line replaces one
    from the ``PULSE_*`` environment; more than one on the same level is a usage error."""
    on_line = {n for n in ("speed", "rate", "fast")
               if ctx.get_parameter_source(n) is click.core.ParameterSource.COMMANDLINE}
    if on_line:
        speed, rate, fast = (v if n in on_line else None for n, v in (("speed", speed), ("rate", rate), ("fast", fast)))
    try:
        return parse_pace(speed, rate, bool(fast))
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


def _given(ctx: click.Context, name: str) -> bool:
    return ctx.get_parameter_source(name) in (click.core.ParameterSource.COMMANDLINE,
                                              click.core.ParameterSource.ENVIRONMENT)


@contextlib.contextmanager
def _stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Ctrl-C and SIGTERM ask ``stop()`` for a clean end (commit and report); a second one aborts at once."""

    asked = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal asked
        if asked:
            raise KeyboardInterrupt
        asked = True
        click.echo(f"\n{signal.Signals(signum).name}: stopping after the current batch and committing it "
                   "(again to abort at once)", err=True)
        stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


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
@click.option("--store", "store_url", default="sqlite:///pulse.db", show_default=True, callback=_store_url,
              help="Where windows go: sqlite:///path.db or postgresql://user:password@host:port/db. A store that "
                   "holds windows is continued from its checkpoint (same window flags needed).", **_env("STORE"))
@click.option("--start-over", is_flag=True, default=False,
              help="Delete the store's windows and checkpoint first instead of continuing them.",
              **_env("START_OVER"))
@click.option("--speed", default=None, help="Replay at this speed-up of event time, e.g. 60x.", **_env("SPEED"))
@click.option("--rate", default=None, help="Replay at this many events per second, e.g. 5000/s.", **_env("RATE"))
@click.option("--as-fast-as-possible", "fast", is_flag=True, default=False,
              help="No pacing (the default when neither --speed nor --rate is given).", **_env("FAST"))
@click.option("--loops", type=click.IntRange(min=0), default=1, show_default=True,
              help="Replay the sources this many times with time shifted (0 = forever).", **_env("LOOPS"))
@click.option("--workers", type=click.IntRange(min=1), default=os.cpu_count() or 1, show_default="CPU count",
              help="Processes parsing the sources in parallel, also one file or --loops (unpaced runs without stdin "
                   "or --quarantine; 1 = in-process).",
              **_env("WORKERS"))
@click.option("--progress/--no-progress", default=None,
              help="Live progress display (default: on when stderr is a terminal).", **_env("PROGRESS"))
@_metrics_port
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="Interface of --metrics-port; 0.0.0.0 lets a Prometheus server on another machine scrape it.",
              **_env("METRICS_HOST"))
def run(sources: tuple[str, ...], window_ms: int, slide_ms: int, rolling: bool, lateness_ms: int, min_size: int,
        retention: int | None, quarantine: str | None, max_line_bytes: int, store_url: str, start_over: bool,
        speed: str | None, rate: str | None, fast: bool, loops: int, workers: int, progress: bool | None,
        metrics_port: int | None, metrics_host: str) -> None:
    """Read GH Archive SOURCES (files, folders, globs, or - for stdin; default: the bundled hour), compute the
    connected components of every window and store them.

    Sources are read in event-time order: GH Archive hour files (2015-01-01-9.json.gz) by the hour in their
    name, other names in natural order. A store that holds windows is continued where it stopped: after a
    crash, the same command goes on without repeating anything; with the next files of a stream (an hourly
    job), the windows across the boundary come out as in one run. Input already consumed is not read again.

    \b
    Example: pulse run data/2015-*.json.gz --window 10m --slide 1m --store sqlite:///pulse.db
    """
    from networkpulse.pipeline import Pipeline

    ctx = click.get_current_context()
    pace = _pace(ctx, speed, rate, fast)
    if rolling and _given(ctx, "slide_ms"):
        raise click.UsageError("--slide has no meaning with --rolling (a rolling window is emitted every --window); "
                               "drop one of them")
    settings = Settings(
        sources=_sources(sources),
        window=_window_config(window_ms, slide_ms, rolling, lateness_ms, min_size),
        store_url=store_url, retention=retention, pace=pace, loops=loops, quarantine=quarantine,
        max_line_bytes=max_line_bytes, workers=workers, start_over=start_over,
    )
    show = sys.stderr.isatty() if progress is None else progress
    with _ProgressDisplay(show, settings) as display:
        pipeline = Pipeline(settings, on_progress=display.update)
        try:
            with _stop_on_signals(pipeline.stop), _serving_metrics(pipeline, metrics_port, metrics_host):
                result = pipeline.run()
        except KeyboardInterrupt:
            click.echo(f"aborted: the windows committed before stay in {_shown(settings.store_url)}; the same command "
                       "continues from there", err=True)
            sys.exit(EXIT_INTERRUPTED)
    _summary(settings, result)
    if result.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if result.report.skipped:
        sys.exit(EXIT_SKIPPED)


@contextlib.contextmanager
def _serving_metrics(pipeline: Any, port: int | None, host: str) -> Iterator[None]:
    """Prometheus metrics of ``pipeline`` at http://host:port/metrics while the block runs (nothing if no port)."""
    if port is None:
        yield
        return
    from networkpulse.metrics import PipelineMetrics, serve_metrics

    server = serve_metrics(port, PipelineMetrics(pipeline), host)
    click.echo(f"metrics at {server.url}", err=True)
    try:
        yield
    finally:
        server.close()


def _echo_report(report: Any) -> None:
    """The input report's summary line and its first ten skipped lines (``file:line: reason``), on stderr."""
    click.echo(report.summary(), err=True)
    for message in report.messages[:10]:
        click.echo(f"  skipped {message}", err=True)


def _summary(settings: Settings, result: Any) -> None:
    p = result.progress
    if p.resumed:
        skipped = f"; {p.skipped_sources} sources it had consumed were not read again" if p.skipped_sources else ""
        click.echo(f"continued the stream stored in {_shown(settings.store_url)} from its checkpoint{skipped}",
                   err=True)
    click.echo(
        f"{p.windows} windows stored in {_shown(settings.store_url)} · {p.events} events in {p.elapsed_s:.2f} s "
        f"({p.events_per_s:,.0f} events/s) · {p.interactions} interactions · filtered {p.filtered_share:.1%} · "
        f"late {p.late_events}",
        err=True,
    )
    if result.interrupted:
        click.echo("stopped early by a signal: everything above is committed; run the same command to continue",
                   err=True)
    _echo_report(result.report)
    late = result.late
    if late.count:
        share = late.count / p.events if p.events else 1.0
        click.secho(
            f"late: {late.count} events ({share:.1%} of this run's events) arrived after the watermark had closed "
            f"their windows and were not counted; the first at {late.first}. Give the sources in time order, or "
            f"allow for disorder with --lateness (e.g. --lateness 1h)",
            fg="yellow", err=True,
        )


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
@click.option("--store", "store_url", default="sqlite:///pulse.db", show_default=True, callback=_store_url,
              help="The store to show (as written by `pulse run`).", **_env("STORE"))
@_host
@_port
def serve(store_url: str, host: str, port: int) -> None:
    """Serve the read-only API (/docs), the live feed and the web UI for a store."""
    from networkpulse.serve import run as run_server

    with _terminate_as_interrupt():
        run_server(store_url, host, port,
                   ready=lambda url: click.echo(f"serving {_shown(store_url)} at {url}/", err=True))


# ---------------------------------------------------------------------------------------------------- demo


@main.command()
@_host
@_port
@click.option("--store", "store_url", default=None, callback=_store_url,
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
@_metrics_port
def demo(host: str, port: int, store_url: str | None, speed: str, window_ms: int, slide_ms: int, retention: int,
         loops: int, open_browser: bool, metrics_port: int | None) -> None:
    """Replay the bundled real GH Archive hour through the whole pipeline, looping, and serve the live UI.

    The UI's server answers GET /metrics (the store's counters, live clients); --metrics-port adds the replaying
    pipeline's own metrics on a port of their own, on the same --host."""
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
        with _terminate_as_interrupt(), _serving_metrics(pipeline, metrics_port, host):
            run_server(store_url, host, port, ready=ready)
    finally:
        pipeline.stop()
        worker.join(timeout=10)
        p = pipeline.progress
        kept = "temporary store removed" if tmp is not None else f"kept in {_shown(store_url)}"
        click.echo(f"demo stopped: {p.events:,} events replayed, {p.windows:,} windows written ({kept})", err=True)
        if tmp is not None:
            tmp.cleanup()
    if failure:
        raise failure[0]


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM ends a server like Ctrl-C: uvicorn shuts down gracefully, then re-raises the signal it caught,
    whose default action would kill the process before its clean-up ran."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------------------------------------------- export


@main.group()
def export() -> None:
    """Write interactions or stored windows (JSON lines, Parquet) and window graphs (GEXF, GraphML)."""


def _output(path: str | None) -> contextlib.AbstractContextManager[TextIO]:
    if not path:
        return contextlib.nullcontext(sys.stdout)
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise PulseError(f"--output {path}: cannot write there ({exc.strerror}); give a writable file path") from None


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
@click.option("--store", "store_url", default="sqlite:///pulse.db", show_default=True, callback=_store_url,
              **_env("STORE"))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "parquet"]), default="jsonl", show_default=True,
              help="jsonl: one JSON object per line; parquet: one row per window, start/end as UTC timestamps "
                   "(needs networkpulse[notebook]; binary, so give -o FILE or pipe stdout).", **_env("FORMAT"))
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="File to write (default: stdout).")
@click.option("--clusters", type=click.IntRange(min=0), default=0, show_default=True,
              help="Also include this many largest clusters (members and edges) per window.")
def export_windows(store_url: str, fmt: str, output: str | None, clusters: int) -> None:
    """One line (jsonl) or row (parquet) per stored window, oldest first: id, start, end (ISO 8601 UTC in jsonl,
    UTC timestamps in parquet), start_ms, end_ms, counts, components, largest, provisional."""
    from networkpulse.store import open_store

    store = open_store(store_url, readonly=True)
    n = 0
    try:
        if fmt == "parquet":
            from networkpulse.cli_exports import write_windows_parquet

            n = write_windows_parquet(store, output, clusters)
        else:
            n = _write_windows_jsonl(store, output, clusters)
    finally:
        store.close()
    click.echo(f"{n} windows exported from {_shown(store_url)}", err=True)


def _write_windows_jsonl(store: Any, output: str | None, clusters: int) -> int:
    n = 0
    with _output(output) as out:
        last = 0
        while page := store.windows_after(last, limit=1000, max_clusters=clusters):
            for w in page:
                if not clusters:
                    w.pop("cluster_list", None)
                out.write(json.dumps(w) + "\n")
            last = page[-1]["id"]
            n += len(page)
    return n


import networkpulse.cli_analytics  # noqa: E402  (registers `export clusters`)
import networkpulse.cli_exports  # noqa: E402  (registers `export graph`)
import networkpulse.cli_services  # noqa: E402, F401  (registers the service commands on main)

if __name__ == "__main__":
    main()
