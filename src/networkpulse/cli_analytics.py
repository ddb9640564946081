"""``pulse export clusters``: every stored cluster of every window with its life (issue 7), as JSON lines.

Registered on the ``export`` group of :data:`networkpulse.cli.main` by the import at the end of ``cli.py``.
Exit status as ``pulse export windows``: 0 = done, 1 = a fatal error (a missing or foreign store), 2 = a bad flag.
"""

from __future__ import annotations

import json

import click

from networkpulse.cli import _env, _output, _shown, _store_url, export


@export.command("clusters")
@click.option("--store", "store_url", default="sqlite:///pulse.db", show_default=True, callback=_store_url,
              **_env("STORE"))
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True,
              **_env("FORMAT"))
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="File to write (default: stdout).")
def export_clusters(store_url: str, fmt: str, output: str | None) -> None:
    """One line per stored cluster per window, oldest window first, largest cluster first: start, end (ISO 8601
    UTC), cluster_id, members (logins), event (born/grew/shrank/steady/merged/split), parents (the cluster ids it
    came from), articulation_points (logins), bridges (login pairs), then window_id, start_ms, end_ms,
    provisional, rank, size, activity, slope and trend. Windows stored without analytics give null ids, events
    and brokers; a window stored without pairs gives null brokers."""
    from networkpulse.store import open_store

    store = open_store(store_url, readonly=True)
    clusters = windows = 0
    try:
        with _output(output) as out:
            after = 0
            while page := store.window_clusters(after, limit=500):
                for w in page:
                    when = {k: w[k] for k in ("window_id", "start_ms", "end_ms", "provisional")}
                    for c in w["clusters"]:
                        first = {k: c[k] for k in ("cluster_id", "members", "event", "parents", "articulation_points",
                                                   "bridges")}
                        out.write(json.dumps({"start": w["start"], "end": w["end"], **first, **when, **c}) + "\n")
                    clusters += len(w["clusters"])
                windows += len(page)
                after = page[-1]["window_id"]
    finally:
        store.close()
    click.echo(f"{clusters} clusters of {windows} windows exported from {_shown(store_url)}", err=True)
