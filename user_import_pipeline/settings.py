"""Import settings as a Dagster resource, defaulting to the environment at run time."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

DEFAULT_LEASE_SECONDS = 60
DEFAULT_CHUNK_SIZE = 10_000


class ImportSettings(dg.ConfigurableResource):
    """Where import files live and how an import reports and holds its job.

    Unset fields fall back to IMPORT_BASE_DIR, IMPORT_JOB_LEASE_SECONDS and
    IMPORT_CHUNK_SIZE, read when a run starts (not when the code location loads).
    """

    base_dir: str | None = Field(
        default=None,
        description="Folder every source_path is resolved in; default $IMPORT_BASE_DIR or '.'",
    )
    lease_seconds: int | None = Field(
        default=None,
        description="Lease on an import job, renewed while the run works; "
        f"default $IMPORT_JOB_LEASE_SECONDS or {DEFAULT_LEASE_SECONDS}",
    )
    chunk_size: int | None = Field(
        default=None,
        description="Rows between progress updates while streaming; "
        f"default $IMPORT_CHUNK_SIZE or {DEFAULT_CHUNK_SIZE}",
    )

    def resolved_base_dir(self) -> Path:
        return Path(self.base_dir or os.environ.get("IMPORT_BASE_DIR") or ".").resolve()

    def resolved_lease_seconds(self) -> int:
        return _positive(self.lease_seconds, "IMPORT_JOB_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)

    def resolved_chunk_size(self) -> int:
        return _positive(self.chunk_size, "IMPORT_CHUNK_SIZE", DEFAULT_CHUNK_SIZE)


def _positive(value: int | None, variable: str, default: int) -> int:
    if value is None:
        raw = os.environ.get(variable, "").strip()
        try:
            value = int(raw) if raw else default
        except ValueError:
            raise ValueError(f"{variable} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{variable} must be positive, got {value}")
    return value
