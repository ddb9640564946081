"""A relay worker for the kill -9 tests: raw-event Avro in, each event decoded and re-encoded out, exactly once.

    python tests/bus/crash_worker.py SOURCE_URL SINK_URL GROUP WORKER [--batch N] [--delay S]

Prints ``step N`` before sending each batch and waits ``--delay`` after sending it (the test kills it after a
random step); on SIGTERM it finishes its batch, commits, and prints one JSON line with its
:class:`~networkpulse.bus.RelayStats`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from networkpulse import bus
from networkpulse.bus.raw_event import decode_raw_event, encode_raw_event


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("source", "sink", "group", "worker"):
        parser.add_argument(name)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between sending a batch and committing it")
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    link = bus.open_link(args.source, args.sink, group=args.group, worker=args.worker)
    steps = 0

    def step(events: Sequence[dict[str, Any]]) -> Iterator[tuple[bytes | None, bytes]]:
        nonlocal steps
        steps += 1
        print(f"step {steps}", flush=True)
        for event in events:
            yield None, encode_raw_event(event)
        # After the sends, before the commit: without transactions a kill here duplicates the batch.
        time.sleep(args.delay)

    stats = bus.relay(link, decode_raw_event, step, max_batch=args.batch, stop=stop)
    link.close()
    print(json.dumps(dataclasses.asdict(stats)), flush=True)


if __name__ == "__main__":
    main()
