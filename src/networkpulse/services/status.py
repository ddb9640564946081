"""``pulse status``: where every stage of the Kafka pipeline stands — consumer lag per group, the merger's
watermarks, and the last window stored.

Lag is the broker's view: per partition, the end offset minus the group's committed offset (the persister
commits its offsets to its group after each store transaction, for this view; its exact positions are in the
store). O(partitions) metadata requests.
"""

from __future__ import annotations

from typing import Any

from networkpulse.bus import BusUrl

# stage → the topic (suffix) its group reads
READS = {"venturi": "raw", "forest": "interactions", "merger": "panes", "persister": "windows"}


def group_lag(url: str, group: str, timeout_s: float = 10.0) -> dict[int, int] | None:
    """Lag per partition of ``group`` on the topic of ``url`` (a group that never committed lags by the whole
    partition); None if the topic does not exist."""
    import confluent_kafka as ck

    from networkpulse.bus.kafka import _servers

    bus = BusUrl.parse(url)
    consumer = ck.Consumer({**_servers(bus), "group.id": group, "enable.auto.commit": False})
    try:
        topic = consumer.list_topics(bus.topic, timeout=timeout_s).topics.get(bus.topic)
        if topic is None or topic.error is not None:
            return None
        partitions = [ck.TopicPartition(bus.topic, p) for p in sorted(topic.partitions)]
        committed = consumer.committed(partitions, timeout=timeout_s)
        lag = {}
        for tp in committed:
            low, high = consumer.get_watermark_offsets(ck.TopicPartition(bus.topic, tp.partition), timeout=timeout_s)
            lag[tp.partition] = high - (tp.offset if tp.offset >= 0 else low)
        return lag
    finally:
        consumer.close()


def status(bus_url: str, prefix: str, store_url: str | None = None) -> dict[str, Any]:
    """Every stage's lag, the merger's state in brief and (with ``store_url``) the last stored window."""
    from networkpulse.services.components import merger_state
    from networkpulse.services.stack import group_names, topic_urls

    topics, groups = topic_urls(bus_url, prefix), group_names(prefix)
    out: dict[str, Any] = {"stages": {}}
    for stage, suffix in READS.items():
        group = groups[stage]
        lag = group_lag(topics[suffix], group)
        out["stages"][stage] = {"group": group, "topic": topics[suffix],
                                "lag": None if lag is None else sum(lag.values()), "lag_by_partition": lag}
    try:
        out["merger"] = merger_state(topics["windows"])
    except Exception as exc:  # the state topic may not exist yet
        out["merger"] = {"error": str(exc)}
    if store_url:
        from networkpulse.store import open_store

        with open_store(store_url, readonly=True) as store:
            latest = store.latest(max_clusters=0)
            out["last_window"] = None if latest is None else {
                k: latest[k] for k in ("id", "start", "end", "provisional") if k in latest}
            out["stored_events"] = store.stats().get("events")
    return out
