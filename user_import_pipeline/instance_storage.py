"""Dagster's PostgreSQL storage, holding its connections instead of opening one per query.

dagster-postgres builds its engines with ``NullPool``: every query of the daemon, the code
server and each run worker opens a new PostgreSQL session and closes it. A run writes a few
dozen events and the daemon polls the queue every second, so a deployment opened about
fifteen sessions a second at rest and a hundred more per run, and each one costs the
server a backend start (about 10 ms of CPU here). On two cores shared with ten imports that
is CPU taken from the imports. Here each storage keeps a small pool, as Dagster's webserver
already does for itself (``optimize_for_webserver``, which the webserver still calls), and
closes it when the instance is disposed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import pg_url_from_config

if TYPE_CHECKING:  # only a type: Dagster exports the storage, not its config record
    from dagster._serdes import ConfigurableClassData

# As the webserver's pools: a connection is replaced after an hour, and up to 20 are
# opened beyond the one kept while threads query at the same moment (the daemon's ten
# dequeue threads launching at once, its sensor and monitoring threads), closed after.
POOL_RECYCLE_SECONDS = 3600
MAX_OVERFLOW = 20


class _HeldConnections:
    """Mixed into each storage: a pooled engine from construction, closed on dispose."""

    def _hold_connections(self) -> None:
        # No statement timeout (0): a run's storage must not fail a long query the
        # webserver would cut short.
        self.optimize_for_webserver(  # type: ignore[attr-defined]
            statement_timeout=0, pool_recycle=POOL_RECYCLE_SECONDS, max_overflow=MAX_OVERFLOW
        )

    def dispose(self) -> None:
        super().dispose()  # type: ignore[misc]
        self._engine.dispose()  # type: ignore[attr-defined]


class PooledRunStorage(_HeldConnections, PostgresRunStorage):
    pass


class PooledEventLogStorage(_HeldConnections, PostgresEventLogStorage):
    pass


class PooledScheduleStorage(_HeldConnections, PostgresScheduleStorage):
    pass


class PooledPostgresStorage(DagsterPostgresStorage):
    """``storage: postgres`` of dagster.yaml, with each of its three storages pooled."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
    ) -> None:
        # The attributes DagsterPostgresStorage.__init__ sets, with pooled storages: calling
        # it would build three more engines (and query for the tables) only to drop them.
        super(DagsterPostgresStorage, self).__init__()
        self.postgres_url = postgres_url
        self.should_autocreate_tables = should_autocreate_tables
        self._inst_data = inst_data
        self._run_storage = PooledRunStorage(postgres_url, should_autocreate_tables)
        self._event_log_storage = PooledEventLogStorage(postgres_url, should_autocreate_tables)
        self._schedule_storage = PooledScheduleStorage(postgres_url, should_autocreate_tables)
        for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
            storage._hold_connections()

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> Self:
        return cls(
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            inst_data=inst_data,
        )
