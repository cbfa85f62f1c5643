"""Every setting the project reads from the environment, read here and nowhere else.

Each function takes the environment as an argument (the process's own by default) and
returns plain values; the modules that need a setting get it passed in. Nothing is read at
import time: a Dagster run, a CLI command or a test reads the settings when it starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from user_import_pipeline.ingest.location import Base, parse_base

DEFAULT_LEASE_SECONDS = 60
DEFAULT_CHUNK_SIZE = 10_000
DEFAULT_BAD_ROW_THRESHOLD = 0.05
MAX_IMPORT_WORKERS = 10
DEFAULT_PORT = 8080
DEFAULT_DAGSTER_URL = "http://127.0.0.1:3000"
EMBEDDED_DIR_NAME = ".pgdata"

Environ = Mapping[str, str]


@dataclass(frozen=True)
class ImportSettings:
    """What an import needs besides its database: where files are, how it holds its job."""

    base_dir: Base  # a folder (absolute, resolved once) or an S3 prefix
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    chunk_size: int = DEFAULT_CHUNK_SIZE
    # Share of a file's rows that may be bad before the import is flagged (asset check,
    # alert); the import itself succeeds either way.
    bad_row_threshold: float = DEFAULT_BAD_ROW_THRESHOLD


def _env(environ: Environ | None) -> Environ:
    return os.environ if environ is None else environ


def database_url(environ: Environ | None = None) -> str | None:
    """``DATABASE_URL``; None when unset (the embedded server is used then)."""
    return _env(environ).get("DATABASE_URL") or None


def dagster_pg_url(environ: Environ | None = None) -> str | None:
    return _env(environ).get("DAGSTER_PG_URL") or None


def dagster_home(environ: Environ | None = None) -> str | None:
    return _env(environ).get("DAGSTER_HOME") or None


def base_dir(environ: Environ | None = None) -> Base:
    """``IMPORT_BASE_DIR`` (default: the current folder), resolved to an absolute path; or,
    given as ``s3://bucket/prefix/``, that S3 prefix (ValueError when it is malformed). The
    S3 endpoint and credentials are boto3's to read (``AWS_ENDPOINT_URL``, ...)."""
    try:
        return parse_base(_env(environ).get("IMPORT_BASE_DIR") or ".")
    except ValueError as exc:
        raise ValueError(f"IMPORT_BASE_DIR: {exc}") from None


def import_settings(environ: Environ | None = None) -> ImportSettings:
    """``IMPORT_BASE_DIR``, ``IMPORT_JOB_LEASE_SECONDS``, ``IMPORT_CHUNK_SIZE`` and
    ``IMPORT_BAD_ROW_THRESHOLD``; ValueError naming the variable when one is malformed."""
    env = _env(environ)
    return ImportSettings(
        base_dir=base_dir(env),
        lease_seconds=_positive(env, "IMPORT_JOB_LEASE_SECONDS", DEFAULT_LEASE_SECONDS),
        chunk_size=_positive(env, "IMPORT_CHUNK_SIZE", DEFAULT_CHUNK_SIZE),
        bad_row_threshold=_fraction(env, "IMPORT_BAD_ROW_THRESHOLD", DEFAULT_BAD_ROW_THRESHOLD),
    )


def alert_webhook_url(environ: Environ | None = None) -> str | None:
    """``IMPORT_ALERT_WEBHOOK_URL``: where failed or mostly-bad imports are reported."""
    return _env(environ).get("IMPORT_ALERT_WEBHOOK_URL") or None


def import_workers(environ: Environ | None = None) -> int:
    """``IMPORT_WORKERS`` as a run limit: unset → 10, above 10 → 10, anything else that is
    not a positive whole number is an error (Dagster then refuses to start)."""
    return min(_positive(_env(environ), "IMPORT_WORKERS", MAX_IMPORT_WORKERS), MAX_IMPORT_WORKERS)


def dagster_webserver_url(environ: Environ | None = None) -> str:
    """``DAGSTER_WEBSERVER_URL``: where runs are asked for (default the local webserver)."""
    return _env(environ).get("DAGSTER_WEBSERVER_URL") or DEFAULT_DAGSTER_URL


def api_port(environ: Environ | None = None) -> int:
    return _positive(_env(environ), "PORT", DEFAULT_PORT)


def embedded_server_dir(environ: Environ | None = None) -> Path:
    """``EMBEDDED_PG_DIR``, default ``.pgdata`` in the current folder, made absolute."""
    return Path(_env(environ).get("EMBEDDED_PG_DIR") or EMBEDDED_DIR_NAME).absolute()


def embedded_server_port(environ: Environ | None = None) -> int | None:
    """``EMBEDDED_PG_PORT``; None to derive the port from the data folder."""
    raw = _env(environ).get("EMBEDDED_PG_PORT", "").strip()
    return _positive(_env(environ), "EMBEDDED_PG_PORT", 0) if raw else None


def _fraction(environ: Environ, variable: str, default: float) -> float:
    raw = environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{variable} must be a number from 0 to 1, got {raw!r}") from None
    if not 0 <= value <= 1:
        raise ValueError(f"{variable} must be a number from 0 to 1, got {value}")
    return value


def _positive(environ: Environ, variable: str, default: int) -> int:
    raw = environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{variable} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{variable} must be positive, got {value}")
    return value
