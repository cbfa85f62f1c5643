"""The Dagster resources: where the database is, the import settings, and the import core
they make, for the ops and sensors of the code location.

Nothing here reads the environment when the code location loads: ``DATABASE_URL`` is wired
with ``EnvVar`` (resolved when a run starts, never shown in the UI), and settings left
unset fall back to the environment at run time (user_import_pipeline/settings.py).
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field, PrivateAttr

from user_import_pipeline import settings
from user_import_pipeline.core.alerts import Webhook
from user_import_pipeline.core.service import ImportService
from user_import_pipeline.db.client import Database
from user_import_pipeline.ingest.location import parse_base


class PostgresResource(dg.ConfigurableResource):
    """The PostgreSQL database that holds users, addresses and import jobs."""

    dsn: str = Field(description="libpq connection URL, e.g. postgresql://user@host:5432/db")

    def database(self) -> Database:
        return Database(self.dsn)


class ImportSettingsResource(dg.ConfigurableResource):
    """Where import files live, how an import reports and holds its job, and when its bad
    rows are too many; unset fields fall back to IMPORT_BASE_DIR, IMPORT_JOB_LEASE_SECONDS,
    IMPORT_CHUNK_SIZE, IMPORT_BAD_ROW_THRESHOLD and IMPORT_ALERT_WEBHOOK_URL."""

    base_dir: str | None = Field(
        default=None,
        description="Folder, or s3://bucket/prefix/, every source_path is resolved in; "
        "default $IMPORT_BASE_DIR or '.'",
    )
    lease_seconds: int | None = Field(
        default=None,
        description="Lease on an import job, renewed while the run works; "
        f"default $IMPORT_JOB_LEASE_SECONDS or {settings.DEFAULT_LEASE_SECONDS}",
    )
    chunk_size: int | None = Field(
        default=None,
        description="Rows between progress updates while streaming; "
        f"default $IMPORT_CHUNK_SIZE or {settings.DEFAULT_CHUNK_SIZE}",
    )
    bad_row_threshold: float | None = Field(
        default=None,
        description="Share of bad rows (0-1) above which the users asset check warns and an "
        f"alert is sent; default $IMPORT_BAD_ROW_THRESHOLD or {settings.DEFAULT_BAD_ROW_THRESHOLD}",
    )
    alert_webhook_url: str | None = Field(
        default=None,
        description="URL that failed imports and imports over the bad-row threshold are "
        "POSTed to as JSON; default $IMPORT_ALERT_WEBHOOK_URL, none when unset",
    )

    def resolve(self) -> settings.ImportSettings:
        from_env = settings.import_settings()
        return settings.ImportSettings(
            base_dir=parse_base(self.base_dir) if self.base_dir else from_env.base_dir,
            lease_seconds=self.lease_seconds or from_env.lease_seconds,
            chunk_size=self.chunk_size or from_env.chunk_size,
            bad_row_threshold=from_env.bad_row_threshold
            if self.bad_row_threshold is None
            else self.bad_row_threshold,
        )

    def alerts(self) -> Webhook | None:
        url = self.alert_webhook_url or settings.alert_webhook_url()
        return None if url is None else Webhook(url, settings.dagster_webserver_url())


class ImportCoreResource(dg.ConfigurableResource):
    """The import core (core/service.py) for the ops of one run: made when the run starts,
    closed when it ends, so the run's heartbeat lasts from its claim to its last op."""

    postgres: PostgresResource
    import_settings: ImportSettingsResource
    _service: ImportService | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # The core's warnings (staging lost and restaged, retries) go to the run's log.
        self._service = ImportService(
            self.postgres.database(),
            self.import_settings.resolve(),
            log=context.log,
            alerts=self.import_settings.alerts(),
        )

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._service is not None:
            self._service.close()

    @property
    def service(self) -> ImportService:
        assert self._service is not None, "the resource is set up when a run starts"
        return self._service


def resources(
    dsn: str = dg.EnvVar("DATABASE_URL"),
    *,
    base_dir: str | None = None,
    lease_seconds: int | None = None,
    chunk_size: int | None = None,
    bad_row_threshold: float | None = None,
) -> dict[str, dg.ConfigurableResource]:
    """The resources of the code location; tests pass their own DSN and settings."""
    postgres = PostgresResource(dsn=dsn)
    chosen = ImportSettingsResource(
        base_dir=base_dir,
        lease_seconds=lease_seconds,
        chunk_size=chunk_size,
        bad_row_threshold=bad_row_threshold,
    )
    return {
        "postgres": postgres,
        "import_settings": chosen,
        "importer": ImportCoreResource(postgres=postgres, import_settings=chosen),
    }
