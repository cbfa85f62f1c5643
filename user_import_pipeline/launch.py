"""Queueing an import: record the ``import_jobs`` row, then ask Dagster for its run.

The row comes first, so an import is never lost: when the Dagster webserver cannot be
reached (or refuses the request) the job simply stays ``queued`` and the
``import_jobs_reaper`` sensor launches it once Dagster is back (CONTRACT §6.5).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from user_import_pipeline.db.client import Database
from user_import_pipeline.ingest import location
from user_import_pipeline.ingest.source import ImportFileError, InvalidSourceError, is_utf8
from user_import_pipeline.lifecycle import jobs
from user_import_pipeline.runs import run_config, run_tags

log = logging.getLogger(__name__)

JOB_NAME = "import_users"
# Seconds to wait for the webserver; an unreachable one fails at once (connection refused).
SUBMIT_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class DagsterEndpoint:
    """Where the Dagster webserver's GraphQL API is, split the way the client wants it."""

    host: str
    port: int | None
    use_https: bool
    path_prefix: str

    @classmethod
    def parse(cls, url: str) -> DagsterEndpoint:
        """``http(s)://host[:port][/prefix]``; ValueError for anything else."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"Dagster webserver URL must be http(s)://host[:port], got {url!r}")
        return cls(
            host=parts.hostname,
            port=parts.port,  # raises ValueError for a bad port
            use_https=parts.scheme == "https",
            path_prefix=parts.path.rstrip("/"),
        )

    @property
    def url(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"{'https' if self.use_https else 'http'}://{self.host}{port}{self.path_prefix}"

    def client(self) -> DagsterGraphQLClient:
        return DagsterGraphQLClient(
            self.host,
            port_number=self.port,
            use_https=self.use_https,
            path_prefix=self.path_prefix,
            timeout=SUBMIT_TIMEOUT_SECONDS,
        )


def check_source(source_path: str, base_dir: location.Base) -> str:
    """The path as it is stored and launched (``location.stored_path``), or
    InvalidSourceError.

    Besides what ``location.resolve`` refuses, a file that does not exist (or cannot be
    read) is refused here, at queue time: a job that can only fail is noise. An S3 object
    is looked up (HEAD), not read. The file can still vanish before its run starts; the run
    then fails the job with a file error. Paths that are not valid UTF-8 (lone surrogates)
    are refused too, since neither PostgreSQL nor Dagster tags can hold them.
    """
    if not is_utf8(source_path):
        raise InvalidSourceError("source_path must be valid UTF-8")
    try:
        location.resolve(source_path, base_dir)
    except InvalidSourceError:
        raise
    except ImportFileError as exc:
        raise InvalidSourceError(str(exc)) from exc
    return location.stored_path(source_path, base_dir)


def queue_import(
    database: Database,
    source_path: str,
    base_dir: location.Base,
    dagster_url: str,
    dry_run: bool = False,
) -> str:
    """Queue an import (a dry run when ``dry_run``) of ``source_path`` (inside
    ``base_dir``); returns the job id.

    Raises InvalidSourceError for a refused path and ValueError for a malformed
    ``dagster_url``, both before anything is written. The job row is committed before
    Dagster is asked, so the run always finds it; if Dagster cannot be asked, a warning is
    logged and the job stays ``queued`` for the reaper sensor.
    """
    endpoint = DagsterEndpoint.parse(dagster_url)
    stored = check_source(source_path, base_dir)
    with database.session() as session:
        job_id = jobs.create_job(session, stored, None, dry_run)
    submit_run(endpoint, stored, job_id)
    return job_id


def submit_run(endpoint: DagsterEndpoint, source_path: str, job_id: str) -> str | None:
    """Ask Dagster for a run of the job; the run id, or None (logged) when that failed."""
    try:
        run_id = endpoint.client().submit_job_execution(
            JOB_NAME,
            run_config=run_config(source_path, job_id),
            tags=run_tags(source_path, job_id),
        )
    except DagsterGraphQLClientError as exc:
        log.warning(
            "import job %s stays queued: Dagster at %s did not take the run (%s); "
            "the import_jobs_reaper sensor launches it once Dagster is reachable",
            job_id,
            endpoint.url,
            _reason(exc),
        )
        return None
    log.info("import job %s queued as Dagster run %s", job_id, run_id)
    return run_id


def _reason(exc: BaseException) -> str:
    """The innermost cause's message: the client's own one hides e.g. "connection refused"."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
