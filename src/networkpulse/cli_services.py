"""The Kafka pipeline's services as commands: ``pulse firehose``, ``venturi``, ``forest``, ``merge``, ``persist``.

Registered on :data:`networkpulse.cli.main` by the import at the end of ``cli.py``. Exit status as ``pulse run``:
0 = done, nothing skipped; 3 = done, some input skipped; 1 = a fatal error; 130 = stopped by a signal (firehose;
a service that runs until stopped exits 0 on SIGTERM or Ctrl-C, its work committed).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import click

from networkpulse.cli import (
    EXIT_INTERRUPTED,
    EXIT_SKIPPED,
    _echo_report,
    _env,
    _pace,
    _shown,
    _slide,
    _sources,
    _stop_on_signals,
    _store_url,
    _window_shape,
    main,
)
from networkpulse.errors import ConfigError

if TYPE_CHECKING:
    from networkpulse.metrics import ServiceMetrics


def _service_metrics(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--metrics-port`` / ``--metrics-host`` of a service (no environment variable: every process of a machine
    needs a port of its own)."""
    command = click.option(
        "--metrics-host", default="127.0.0.1", show_default=True,
        help="Interface of --metrics-port; 0.0.0.0 lets a Prometheus server on another machine scrape it.")(command)
    return click.option(
        "--metrics-port", type=click.IntRange(0, 65535), default=None,
        help="Serve this service's Prometheus metrics (events, interactions, filtered and skipped by reason, late "
             "events, windows, store write latency, consumer lag per assigned partition, watermark) at "
             "http://HOST:PORT/metrics while it runs; 0 picks a free port (printed).")(command)


@contextlib.contextmanager
def _metrics(service: str, port: int | None, host: str) -> Iterator[ServiceMetrics | None]:
    """A :class:`~networkpulse.metrics.ServiceMetrics` served at ``host:port`` for the block (None if no port)."""
    if port is None:
        yield None
        return
    from networkpulse.metrics import ServiceMetrics, serve_metrics

    metrics = ServiceMetrics(service)
    server = serve_metrics(port, metrics, host)
    click.echo(f"metrics at {server.url}", err=True)
    try:
        yield metrics
    finally:
        server.close()


def _bus_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A Kafka URL we can never use is a bad flag (exit 2); an unreachable broker is found when it is opened."""
    from networkpulse.bus import BusUrl

    if value is not None:
        try:
            if BusUrl.parse(value, param.name or "URL").scheme != "kafka":
                raise ConfigError(param.name or "URL", "kafka://HOST:PORT/TOPIC", value)
        except ConfigError as exc:
            raise click.BadParameter(str(exc).split(": ", 1)[1]) from None
    return value


@main.command()
@click.argument("sources", nargs=-1)
@click.option("--to", "to", required=True, callback=_bus_url, help="Topic to publish to: kafka://HOST:PORT/TOPIC.",
              **_env("TO"))
@click.option("--producers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Parallel producer processes; the sources are split between them (at most one per file).",
              **_env("PRODUCERS"))
@click.option("--speed", default=None, help="Replay at this speed-up of event time, e.g. 60x.", **_env("SPEED"))
@click.option("--rate", default=None, help="Replay at this many events per second in all, e.g. 20000/s.",
              **_env("RATE"))
@click.option("--as-fast-as-possible", "fast", is_flag=True, default=False,
              help="No pacing (the default when neither --speed nor --rate is given).", **_env("FAST"))
@click.option("--loops", type=click.IntRange(min=0), default=1, show_default=True,
              help="Replay the sources this many times, each loop shifted by the data's span rounded up to an hour "
                   "(0 = forever).", **_env("LOOPS"))
@click.option("--partitions", type=click.IntRange(min=1), default=4, show_default=True,
              help="Partitions of the topic if it does not exist yet (caps the venturi workers that can share it).",
              **_env("PARTITIONS"))
@click.option("--max-line-bytes", type=click.IntRange(min=1024), default=16 << 20, show_default=True,
              help="Lines longer than this are skipped and reported.", **_env("MAX_LINE_BYTES"))
@_service_metrics
def firehose(sources: tuple[str, ...], to: str, producers: int, speed: str | None, rate: str | None, fast: bool,
             loops: int, partitions: int, max_line_bytes: int, metrics_port: int | None, metrics_host: str) -> None:
    """The mock firehose: replay raw GH Archive events from SOURCES (files, folders, globs; default: the bundled
    hour) onto a Kafka topic as Avro, keyed by actor login so consumers can split the topic.

    Scales by --producers: parallel processes, each replaying its share of the files (a --rate is shared out).
    Bad lines are skipped and reported as file:line, as by `pulse run`.

    \b
    Example: pulse firehose data/*.json.gz --to kafka://127.0.0.1:19092/pulse.raw --producers 2 --speed 60x
    """
    from networkpulse.services.firehose import FirehoseConfig, run_firehose

    pace = _pace(click.get_current_context(), speed, rate, fast)
    if "-" in sources:
        raise click.BadParameter("the firehose reads files (each line is read twice); save stdin to a file first",
                                 param_hint="SOURCES")
    config = FirehoseConfig(sources=_sources(sources), to=to, producers=producers, pace=pace, loops=loops,
                            partitions=partitions, max_line_bytes=max_line_bytes)
    stop = threading.Event()
    with _stop_on_signals(stop.set), _metrics("firehose", metrics_port, metrics_host) as metrics:
        result = run_firehose(config, stop, metrics)
    report = result.report
    click.echo(f"{result.produced:,} events produced to {to} in {result.elapsed_s:.2f} s "
               f"({result.events_per_s:,.0f} events/s) by {min(producers, len(config.sources))} producer(s), "
               f"{result.loops} loop(s) at {pace}; skipped {report.skipped}", err=True)
    _echo_report(report)
    if result.interrupted:
        click.echo("stopped early by a signal: everything counted above was delivered", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if report.skipped:
        sys.exit(EXIT_SKIPPED)


@main.command()
@click.option("--from", "source", required=True, callback=_bus_url,
              help="Raw-event topic to consume: kafka://HOST:PORT/TOPIC.", **_env("FROM"))
@click.option("--to", "sink", required=True, callback=_bus_url,
              help="Topic for the interaction batches (created if missing).", **_env("TO"))
@click.option("--group", default="pulse.venturi", show_default=True,
              help="Consumer group: the workers of one venturi stage share it.", **_env("GROUP"))
@click.option("--worker", default=None, show_default="the host name",
              help="This worker's id, stable across restarts and unique in the group (e.g. 0, 1): a restarted "
                   "worker takes its partitions back and fences the one it replaces.", **_env("WORKER"))
@click.option("--partitions", type=click.IntRange(min=1), default=4, show_default=True,
              help="Partitions of the --to topic if it does not exist yet.", **_env("PARTITIONS"))
@click.option("--max-batch", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Raw events per transaction: larger amortises the commit, smaller redoes less after a crash.",
              **_env("MAX_BATCH"))
@click.option("--until-idle", "idle_s", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Exit after this many seconds without input (default: run until stopped).", **_env("UNTIL_IDLE"))
@_service_metrics
def venturi(source: str, sink: str, group: str, worker: str | None, partitions: int, max_batch: int,
            idle_s: float | None, metrics_port: int | None, metrics_host: str) -> None:
    """Consume raw events, apply venturi's counterpart rules and produce interaction batches, exactly once
    (Kafka transactions); messages that do not decode go to the --from topic's .dlq topic and the worker goes on.

    Scales by consumer-group members: start more workers with the same --group and distinct --worker ids, up to
    the raw topic's partition count (more stay idle). Runs until SIGTERM or Ctrl-C (exit 0 after committing its
    batch), or --until-idle.
    """
    from networkpulse.services.venturi import run_venturi

    stop = threading.Event()
    worker = worker or socket.gethostname()

    def ready() -> None:
        click.echo(f"venturi worker {worker} of {group}: consuming {source} -> {sink} (SIGTERM or Ctrl-C stops)",
                   err=True)

    with _stop_on_signals(stop.set), _metrics("venturi", metrics_port, metrics_host) as metrics:
        result = run_venturi(source, sink, group=group, worker=worker, partitions=partitions, idle_s=idle_s,
                             stop=stop, max_batch=max_batch, on_ready=ready, metrics=metrics)
    r, f = result.relay, result.filters
    click.echo(f"venturi worker {worker} of {group}: {r.consumed:,} messages consumed, {r.produced:,} batches "
               f"produced, {r.dead_letters} dead letters, {r.commits} commits, {r.aborts} aborts; "
               f"{f.interactions:,} interactions from {f.events:,} events (filtered {f.filtered_share:.1%})", err=True)


# On Kafka the message batching that absorbs a file's few seconds of disorder in `pulse run` depends on timing, so
# the merger's watermark trails by default (the 2-worker stack over the real files had one late event at 0 s).
_kafka_window_shape = _window_shape(
    "30s", "Allowed lateness: the watermark (the minimum over origins of their newest event time) trails by this.")


def _worker_id(worker: str | None) -> str:
    return worker or socket.gethostname()


@main.command()
@click.option("--from", "source", required=True, callback=_bus_url,
              help="Interaction-batch topic to consume: kafka://HOST:PORT/TOPIC.", **_env("FROM"))
@click.option("--to", "sink", required=True, callback=_bus_url,
              help="Topic for the pane parts (created if missing).", **_env("TO"))
@_slide
@click.option("--group", default="pulse.forest", show_default=True,
              help="Consumer group: the forest workers of one stage share it.", **_env("GROUP"))
@click.option("--worker", default=None, show_default="the host name",
              help="This worker's id, stable across restarts and unique in the group (e.g. 0, 1).", **_env("WORKER"))
@click.option("--max-batch", type=click.IntRange(min=1), default=100, show_default=True,
              help="Interaction batches per transaction.", **_env("MAX_BATCH"))
@click.option("--until-idle", "idle_s", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Exit after this many seconds without input (default: run until stopped).", **_env("UNTIL_IDLE"))
@_service_metrics
def forest(source: str, sink: str, slide_ms: int, group: str, worker: str | None, max_batch: int,
           idle_s: float | None, metrics_port: int | None, metrics_host: str) -> None:
    """Forest worker: reduce interaction batches to per-pane distinct account pairs (by login, with their counts)
    for the window merger, exactly once (Kafka transactions). --slide must be the merger's.

    Scales by consumer-group members: start more workers with the same --group and distinct --worker ids, up to
    the interaction topic's partition count. Runs until SIGTERM or Ctrl-C (exit 0, its batch committed).
    """
    from networkpulse.services.components import run_forest

    stop, worker = threading.Event(), _worker_id(worker)
    with _stop_on_signals(stop.set), _metrics("forest", metrics_port, metrics_host) as metrics:
        stats = run_forest(source, sink, slide_ms=slide_ms, group=group, worker=worker, idle_s=idle_s, stop=stop,
                           max_batch=max_batch, metrics=metrics, on_ready=lambda: click.echo(
                               f"forest worker {worker} of {group}: consuming {source} -> {sink}", err=True))
    click.echo(f"forest worker {worker}: {stats.consumed:,} batches consumed, {stats.produced:,} pane-part messages, "
               f"{stats.dead_letters} dead letters, {stats.commits} commits, {stats.aborts} aborts", err=True)


@main.command()
@click.option("--from", "source", required=True, callback=_bus_url,
              help="Pane-part topic to consume: kafka://HOST:PORT/TOPIC.", **_env("FROM"))
@click.option("--to", "sink", required=True, callback=_bus_url,
              help="Topic for the windows (one partition, created if missing; its state goes to TOPIC.merger).",
              **_env("TO"))
@_kafka_window_shape
@click.option("--idle-timeout", "idle_timeout_s", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, help="Seconds after which a silent origin (raw partition) stops holding the "
              "watermark back; its later events may then be late.", **_env("IDLE_TIMEOUT"))
@click.option("--flush-after", "flush_idle_s", type=click.FloatRange(min=0, min_open=True), default=2.0,
              show_default=True, help="Seconds without input after which the open windows are emitted as "
              "provisional (replaced once more input comes), like the end of `pulse run`.", **_env("FLUSH_AFTER"))
@click.option("--group", default="pulse.merger", show_default=True,
              help="Consumer group and transactional id root: one per pipeline (e.g. <topics prefix>.merger).",
              **_env("GROUP"))
@click.option("--until-idle", "idle_s", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Exit after this many seconds without input (default: run until stopped).", **_env("UNTIL_IDLE"))
@_service_metrics
def merge(source: str, sink: str, window_ms: int, slide_ms: int, rolling: bool, lateness_ms: int, min_size: int,
          idle_timeout_s: float, flush_idle_s: float, group: str, idle_s: float | None, metrics_port: int | None,
          metrics_host: str) -> None:
    """The window merger: fold every forest worker's pane parts into sliding (or rolling) windows under
    per-origin watermarks and produce them for `pulse persist`, exactly once; its state is checkpointed to a
    compacted topic in the same transaction, so a restarted merger continues exactly.

    Does not scale out: run one (a second one with the same --group fences the first). Measure its ceiling with
    benchmarks/kafka_pipeline.py. Runs until SIGTERM or Ctrl-C (exit 0, its batch committed).
    """
    from networkpulse.cli import _window_config
    from networkpulse.services.components import run_merger

    config = _window_config(window_ms, slide_ms, rolling, lateness_ms, min_size)
    stop = threading.Event()
    with _stop_on_signals(stop.set), _metrics("merge", metrics_port, metrics_host) as metrics:
        r = run_merger(source, sink, config, group=group, idle_timeout_s=idle_timeout_s, flush_idle_s=flush_idle_s,
                       stop=stop, until_idle_s=idle_s, metrics=metrics, on_ready=lambda: click.echo(
                           f"merger: consuming {source} -> {sink} (SIGTERM or Ctrl-C stops)", err=True))
    click.echo(f"merger: {r.messages:,} messages, {r.windows:,} windows and {r.provisional:,} provisional ones "
               f"produced, {r.late_events:,} late events, {r.dead_letters} dead letters, {r.commits} commits, "
               f"{r.aborts} aborts{'; continued from its checkpoint' if r.restored else ''}", err=True)


@main.command()
@click.option("--from", "source", required=True, callback=_bus_url,
              help="Window topic to consume: kafka://HOST:PORT/TOPIC.", **_env("FROM"))
@click.option("--store", "store_url", required=True, callback=_store_url,
              help="Store URL: postgresql://USER:PASSWORD@HOST:PORT/DB (or sqlite:///FILE).", **_env("STORE"))
@click.option("--retention", type=click.IntRange(min=1), default=None,
              help="Keep only this many newest windows in the store (default: all).", **_env("RETENTION"))
@click.option("--group", default="pulse.persist", show_default=True,
              help="Consumer group its offsets are reported to, for lag (its exact positions are in the store).",
              **_env("GROUP"))
@click.option("--until-idle", "idle_s", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Exit after this many seconds without input (default: run until stopped).", **_env("UNTIL_IDLE"))
@_service_metrics
def persist(source: str, store_url: str, retention: int | None, group: str, idle_s: float | None,
            metrics_port: int | None, metrics_host: str) -> None:
    """Store the merger's windows, exactly once: the consumed offsets are committed in the same store transaction
    as the windows, and writes are idempotent by window bounds.

    Does not scale out: one writer per store (a second one is refused). Runs until SIGTERM or Ctrl-C.
    """
    from networkpulse.services.persist import run_persist

    stop = threading.Event()
    with _stop_on_signals(stop.set), _metrics("persist", metrics_port, metrics_host) as metrics:
        r = run_persist(source, store_url, group=group, stop=stop, idle_s=idle_s, retention=retention,
                        metrics=metrics, on_ready=lambda: click.echo(
            f"persister: consuming {source} -> {_shown(store_url)} (SIGTERM or Ctrl-C stops)", err=True))
    click.echo(f"persister: {r.windows:,} windows and {r.provisional:,} provisional ones stored in {r.writes} "
               f"transactions from {r.messages:,} messages ({r.dead_letters} undecodable)", err=True)


@main.command()
@click.argument("sources", nargs=-1)
@click.option("--bus", "bus_url", required=True, help="The Kafka cluster: kafka://HOST:PORT.", **_env("BUS"))
@click.option("--store", "store_url", required=True, callback=_store_url,
              help="Store URL: postgresql://USER:PASSWORD@HOST:PORT/DB (or sqlite:///FILE).", **_env("STORE"))
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes of each scalable stage (firehose producers, venturi and forest workers).",
              **_env("WORKERS"))
@click.option("--topics", "prefix", default="pulse", show_default=True,
              help="Topic name prefix: PREFIX.raw, .interactions, .panes, .windows.", **_env("TOPICS"))
@_kafka_window_shape
@click.option("--speed", default=None, help="Replay at this speed-up of event time, e.g. 60x.", **_env("SPEED"))
@click.option("--rate", default=None, help="Replay at this many events per second in all, e.g. 20000/s.",
              **_env("RATE"))
@click.option("--as-fast-as-possible", "fast", is_flag=True, default=False,
              help="No pacing (the default when neither --speed nor --rate is given).", **_env("FAST"))
def stack(sources: tuple[str, ...], bus_url: str, store_url: str, workers: int, prefix: str, window_ms: int,
          slide_ms: int, rolling: bool, lateness_ms: int, min_size: int, speed: str | None, rate: str | None,
          fast: bool) -> None:
    """Run the whole Kafka pipeline locally over SOURCES (default: the bundled hour): creates the topics, starts
    every service as its own process (--workers of each scalable one, one merger, one persister), replays the
    sources, and exits once the last window is stored. Same summary and exit codes as `pulse run`.

    Scales by --workers. For trials and tests; a deployment runs the services itself (DEPLOY.md).

    \b
    Example: pulse stack data/*.json.gz --bus kafka://127.0.0.1:19092 --store postgresql://pulse:pulse@127.0.0.1:15432/pulse
    """
    from networkpulse.bus import BusUrl
    from networkpulse.cli import _window_config
    from networkpulse.services.stack import StackConfig, run_stack

    try:
        if BusUrl.parse(bus_url.rstrip("/") + "/x", "--bus").scheme != "kafka":
            raise ConfigError("--bus", "kafka://HOST:PORT", bus_url)
    except ConfigError as exc:
        raise click.BadParameter(str(exc).split(": ", 1)[1], param_hint="--bus") from None
    if "-" in sources:
        raise click.BadParameter("the stack replays files; save stdin to a file first", param_hint="SOURCES")
    config = StackConfig(sources=_sources(sources), bus=bus_url, store_url=store_url, workers=workers, prefix=prefix,
                         window=_window_config(window_ms, slide_ms, rolling, lateness_ms, min_size),
                         pace=_pace(click.get_current_context(), speed, rate, fast))
    stop = threading.Event()
    with _stop_on_signals(stop.set):
        result = run_stack(config, stop)
    stats, report = result.stats, result.firehose.report
    late = int(stats.get("late_events", 0) or 0)
    click.echo(f"{result.windows} windows stored in {_shown(store_url)} · {result.firehose.produced:,} events in "
               f"{result.elapsed_s:.2f} s ({result.firehose.produced / max(result.elapsed_s, 1e-9):,.0f} events/s) "
               f"through {workers} worker(s) per stage · late {late}", err=True)
    _echo_report(report)
    if result.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if report.skipped or late:
        sys.exit(EXIT_SKIPPED)


@main.command()
@click.option("--bus", "bus_url", required=True, help="The Kafka cluster: kafka://HOST:PORT.", **_env("BUS"))
@click.option("--topics", "prefix", default="pulse", show_default=True, help="Topic name prefix of the pipeline.",
              **_env("TOPICS"))
@click.option("--store", "store_url", default=None, callback=_store_url,
              help="Also show the last window stored there.", **_env("STORE"))
@click.option("--json", "as_json", is_flag=True, default=False, help="Print one JSON object instead of lines.")
def status(bus_url: str, prefix: str, store_url: str | None, as_json: bool) -> None:
    """Where each stage of the Kafka pipeline stands: consumer lag per stage (messages not yet committed by its
    group), the merger's watermark per origin and closed-until time, and the last window stored.

    Lag growing while the input rate is steady means that stage needs more workers (venturi, forest: up to their
    topic's partitions) or has hit its ceiling (merger, persister: one each).
    """
    import json

    from networkpulse.cli import _iso
    from networkpulse.services.status import status as read_status

    got = read_status(bus_url, prefix, store_url)
    if as_json:
        click.echo(json.dumps(got, default=str))
        return
    for stage, s in got["stages"].items():
        lag = "topic missing" if s["lag"] is None else f"lag {s['lag']:,}"
        click.echo(f"{stage:<10} {s['group']:<14} {s['topic']}: {lag}")
    merger = got.get("merger")
    if merger and "watermarks_ms" in merger:
        marks = ", ".join(f"{o}: {_iso(t)}" for o, t in sorted(merger["watermarks_ms"].items()))
        closed = merger["closed_until_ms"]
        click.echo(f"merger     windows closed until {_iso(closed) if closed is not None else '-'}; "
                   f"{merger['origins']} origins, watermarks {marks or '-'}; {merger['events']:,} events")
    elif merger:
        click.echo(f"merger     no state yet ({merger.get('error', 'nothing committed')})")
    else:
        click.echo("merger     no state yet")
    if store_url:
        last = got.get("last_window")
        click.echo(f"store      {got.get('stored_events', 0):,} events; last window "
                   f"{last['start'] + ' – ' + last['end'] if last else '-'}"
                   f"{' (provisional)' if last and last.get('provisional') else ''}")
