"""The run queue: at most ``IMPORT_WORKERS`` (1-10, default 10) import runs at once.

YAML cannot clamp a number, and the limit must hold however Dagster is started (``dagster
dev``, a separate daemon, compose), so ``dagster.yaml`` names this coordinator instead of
Dagster's own. It is Dagster's ``QueuedRunCoordinator`` with every key of its config passed
through as written, except ``max_concurrent_runs``, which comes from ``IMPORT_WORKERS`` when
the instance loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

import dagster as dg

from user_import_pipeline import settings

if TYPE_CHECKING:  # only a type: Dagster exports the coordinator, not its config record
    from dagster._serdes import ConfigurableClassData


class ImportRunCoordinator(dg.QueuedRunCoordinator):
    """Dagster's queued run coordinator with the run limit from IMPORT_WORKERS."""

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> Self:
        config = {**config_value, "max_concurrent_runs": settings.import_workers()}
        return cls(inst_data=inst_data, **config)
