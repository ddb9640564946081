"""``pulse firehose`` and ``pulse venturi``: the first stages of the Kafka pipeline as commands (issue 6).

Registered on :data:`networkpulse.cli.main` by the import at the end of ``cli.py``. Exit status as ``pulse run``:
0 = done, nothing skipped; 3 = done, some input skipped; 1 = a fatal error; 130 = stopped by a signal (firehose;
a service that runs until stopped exits 0 on SIGTERM or Ctrl-C, its work committed).
"""

from __future__ import annotations

import socket
import sys
import threading

import click

from networkpulse.cli import EXIT_INTERRUPTED, EXIT_SKIPPED, _env, _pace, _sources, _stop_on_signals, main
from networkpulse.errors import ConfigError


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
def firehose(sources: tuple[str, ...], to: str, producers: int, speed: str | None, rate: str | None, fast: bool,
             loops: int, partitions: int, max_line_bytes: int) -> None:
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
    with _stop_on_signals(stop.set):
        result = run_firehose(config, stop)
    report = result.report
    click.echo(f"{result.produced:,} events produced to {to} in {result.elapsed_s:.2f} s "
               f"({result.events_per_s:,.0f} events/s) by {min(producers, len(config.sources))} producer(s), "
               f"{result.loops} loop(s) at {pace}; skipped {report.skipped}", err=True)
    click.echo(report.summary(), err=True)
    for message in report.messages[:10]:
        click.echo(f"  skipped {message}", err=True)
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
def venturi(source: str, sink: str, group: str, worker: str | None, partitions: int, max_batch: int,
            idle_s: float | None) -> None:
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

    with _stop_on_signals(stop.set):
        result = run_venturi(source, sink, group=group, worker=worker, partitions=partitions, idle_s=idle_s,
                             stop=stop, max_batch=max_batch, on_ready=ready)
    r, f = result.relay, result.filters
    click.echo(f"venturi worker {worker} of {group}: {r.consumed:,} messages consumed, {r.produced:,} batches "
               f"produced, {r.dead_letters} dead letters, {r.commits} commits, {r.aborts} aborts; "
               f"{f.interactions:,} interactions from {f.events:,} events (filtered {f.filtered_share:.1%})", err=True)
