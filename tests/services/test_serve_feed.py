"""`pulse serve`'s live feed over PostgreSQL is driven by LISTEN/NOTIFY: with every timeout far away, a committed
window still reaches a subscriber at once (only a notification can wake the feed). Needs the server of
scripts/postgres.sh (PULSE_TEST_POSTGRES)."""

from __future__ import annotations

import asyncio
import time

import pytest

from networkpulse.serve import live
from networkpulse.serve.reader import StoreReader
from networkpulse.store import open_store
from tests.serve.helpers import LOGINS, STATS, window

pytestmark = pytest.mark.postgres

FAR_S = 600.0  # no timeout or poll of the feed may fire within the test


def test_a_commit_wakes_the_feed_at_once_and_nothing_else_does(store_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "LISTEN_WAIT_S", FAR_S)
    writer = open_store(store_url)
    writer.write([window(0)], LOGINS, STATS)

    async def scenario() -> list[float]:
        reader = StoreReader(store_url, workers=1)
        broadcaster = live.Broadcaster(reader, poll_interval_s=FAR_S)
        feed = asyncio.create_task(broadcaster.run())
        delays = []
        try:
            await asyncio.wait_for(broadcaster.ready.wait(), 30)
            sub = broadcaster.subscribe(max_clusters=5)
            await asyncio.sleep(0.5)  # the feed is now blocked in its LISTEN wait
            for k in range(1, 4):
                started = time.monotonic()
                (wid,) = await asyncio.to_thread(writer.write, [window(k)], LOGINS, STATS)
                item = await asyncio.wait_for(sub.next(), 10)
                assert item is not None and item[0] == wid
                delays.append(time.monotonic() - started)
            # Nothing committed, nothing sent: the feed does not wake on its own.
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(sub.next(), 2)
        finally:
            broadcaster.close()
            feed.cancel()
            reader.close()
        return delays

    try:
        delays = asyncio.run(scenario())
    finally:
        writer.close()
    assert max(delays) < 5, delays
