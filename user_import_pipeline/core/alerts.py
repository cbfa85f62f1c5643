"""Telling someone: a failed import, or one whose share of bad rows is over the threshold,
is POSTed as JSON to a webhook (``IMPORT_ALERT_WEBHOOK_URL``).

The message: ``{"job_id", "source_path", "dry_run", "outcome", "error", "bad_row_rate",
"run_url"}`` with ``outcome`` ``"failed"`` or ``"too_many_bad_rows"``. Posting is best
effort: an unreachable receiver is logged and never fails or delays the import by more
than ``TIMEOUT_SECONDS``.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5


def bad_row_rate(job: dict[str, Any]) -> float:
    """The share of the file's rows that were bad (CONTRACT §4: failed / processed)."""
    processed = job["progress_processed"] or 0
    return (job["failed_count"] or 0) / processed if processed else 0.0


@dataclass(frozen=True)
class Webhook:
    """Where alerts go, and how a run is linked (the Dagster webserver's URL)."""

    url: str
    dagster_url: str | None = None

    def failed(self, job: dict[str, Any], run_id: str, error: str) -> None:
        self._post(job, run_id, "failed", error)

    def check_bad_rows(self, job: dict[str, Any], run_id: str, threshold: float) -> None:
        """Alert when the finished job's bad-row rate is over ``threshold``."""
        rate = bad_row_rate(job)
        if rate > threshold:
            error = f"{rate:.1%} of the rows were bad, more than the threshold of {threshold:.1%}"
            self._post(job, run_id, "too_many_bad_rows", error)

    def _post(self, job: dict[str, Any], run_id: str, outcome: str, error: str) -> None:
        message = {
            "job_id": str(job["id"]),
            "source_path": job["source_path"],
            "dry_run": job["dry_run"],
            "outcome": outcome,
            "error": error,
            "bad_row_rate": round(bad_row_rate(job), 6),
            "run_url": f"{self.dagster_url.rstrip('/')}/runs/{run_id}"
            if self.dagster_url
            else None,
        }
        request = urllib.request.Request(
            self.url,
            data=json.dumps(message).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS):
                pass
        except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts, a bad URL
            log.warning("alert for import job %s not delivered to %s: %s", job["id"], self.url, exc)
