"""The notification series of `/metrics`: how deliveries went, per channel, and what waits.

`lookout_notifications_total{channel,result}` counts outcomes since start (see
core.alerts.health.RESULTS), every result of every channel from 0, so a rate()
over a channel that never failed is 0, not absent; `lookout_notifications_pending`
is the backlog a dead receiver builds up.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from core.alerts.health import RESULTS, NotificationStats
from core.sanitize import clean_line


def notification_metrics(stats: NotificationStats) -> Iterator[Metric]:
    total = CounterMetricFamily(
        "lookout_notifications",
        "Alert notification deliveries by channel and result (delivered, retried, failed, refused, resent).",
        labels=["channel", "result"],
    )
    pending = GaugeMetricFamily(
        "lookout_notifications_pending", "Notifications waiting for their channel.", labels=["channel"]
    )
    for channel in sorted(stats.pending):
        label = clean_line(channel, None)
        for result in RESULTS:
            total.add_metric([label, result], stats.counts.get((channel, result), 0))
        pending.add_metric([label], stats.pending[channel])
    yield from (total, pending)
