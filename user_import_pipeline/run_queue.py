"""The run queue: at most ``IMPORT_WORKERS`` (1-10, default 10) import runs at once.

YAML cannot clamp a number, and the limit must hold however Dagster is started (``dagster
dev``, a separate daemon, compose), so ``dagster.yaml`` names this coordinator instead of
Dagster's own: it is Dagster's QueuedRunCoordinator with ``max_concurrent_runs`` taken
from the environment when the instance loads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator
from dagster._serdes.config_class import ConfigurableClassData

MAX_IMPORT_WORKERS = 10


def import_workers(environ: Mapping[str, str] = os.environ) -> int:
    """IMPORT_WORKERS as a run limit: unset → 10, above 10 → 10, anything else an error."""
    raw = environ.get("IMPORT_WORKERS", "").strip()
    if not raw:
        return MAX_IMPORT_WORKERS
    try:
        workers = int(raw)
    except ValueError:
        raise ValueError(
            f"IMPORT_WORKERS must be a whole number from 1 to 10, got {raw!r}"
        ) from None
    if workers < 1:
        raise ValueError(f"IMPORT_WORKERS must be at least 1, got {workers}")
    return min(workers, MAX_IMPORT_WORKERS)


class ImportRunCoordinator(QueuedRunCoordinator):
    """Dagster's queued run coordinator with the run limit from IMPORT_WORKERS."""

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> ImportRunCoordinator:
        return cls(
            inst_data=inst_data,
            max_concurrent_runs=import_workers(),
            tag_concurrency_limits=config_value.get("tag_concurrency_limits"),
            dequeue_interval_seconds=config_value.get("dequeue_interval_seconds"),
            dequeue_use_threads=config_value.get("dequeue_use_threads"),
            dequeue_num_workers=config_value.get("dequeue_num_workers"),
            max_user_code_failure_retries=config_value.get("max_user_code_failure_retries"),
            user_code_failure_retry_delay=config_value.get("user_code_failure_retry_delay"),
        )
