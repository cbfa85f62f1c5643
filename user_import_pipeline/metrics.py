"""Prometheus metrics of the imports, read from ``import_jobs`` at each scrape: every process
that serves them reports the same numbers, and nothing is lost when one restarts.

- ``user_import_jobs{status}``: import jobs by status (gauge; every status, 0 included).
- ``user_import_rows_total{outcome}``: rows by outcome over every import, the counts of
  CONTRACT §4 (imported, updated, unchanged, skipped, failed).
- ``user_import_duration_seconds{status}``: finished imports by ``finished_at - started_at``
  (histogram; succeeded and failed).

Dry runs are left out: they write nothing, and their counts are what an import would do.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import INF, floatToGoString

from user_import_pipeline.db.client import Database

STATUSES = ("queued", "running", "succeeded", "failed")
FINISHED = ("succeeded", "failed")
OUTCOMES = ("imported", "updated", "unchanged", "skipped", "failed")
# Seconds: a 10-user file takes about 2 s end to end, 1M users 20-35 s (docs/BENCHMARKS.md).
DURATION_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


class ImportJobsCollector(Collector):
    """Collects the metrics of the module docstring from one database, with two statements."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def collect(self) -> Iterator[Metric]:
        with self._database.session() as session:
            by_status = {row["status"]: row for row in session.execute("count_import_jobs").dicts()}
            buckets = session.execute(
                "bucket_import_durations", {"bounds": list(DURATION_BUCKETS)}
            ).dicts()

        jobs = GaugeMetricFamily("user_import_jobs", "Import jobs by status.", labels=["status"])
        for status in STATUSES:
            jobs.add_metric([status], by_status[status]["jobs"] if status in by_status else 0)
        yield jobs

        rows = CounterMetricFamily(
            "user_import_rows", "Rows of every import by outcome.", labels=["outcome"]
        )
        for outcome in OUTCOMES:
            rows.add_metric([outcome], sum(found[outcome] for found in by_status.values()))
        yield rows

        durations = HistogramMetricFamily(
            "user_import_duration_seconds",
            "Finished imports by how long they took, from start to finish.",
            labels=["status"],
        )
        for status in FINISHED:
            # One row per bound, in order, for a status with finished imports; none otherwise.
            # Every bound is reported either way, so series do not come and go with the jobs.
            mine = [bucket for bucket in buckets if bucket["status"] == status]
            cumulative = [bucket["cumulative"] for bucket in mine] or [0] * len(DURATION_BUCKETS)
            bounds = [floatToGoString(le) for le in DURATION_BUCKETS]
            durations.add_metric(
                [status],
                [
                    *zip(bounds, cumulative, strict=True),
                    (floatToGoString(INF), mine[0]["count"] if mine else 0),
                ],
                sum_value=mine[0]["sum"] if mine else 0.0,
            )
        yield durations


def registry(database: Database) -> CollectorRegistry:
    """A registry holding only the import metrics (no metrics of the serving process)."""
    found = CollectorRegistry(auto_describe=False)
    found.register(ImportJobsCollector(database))
    return found
