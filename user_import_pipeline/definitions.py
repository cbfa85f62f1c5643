"""The code location: the one ``Definitions`` object Dagster loads."""

from __future__ import annotations

import dagster as dg

from user_import_pipeline.db.connection import PostgresResource
from user_import_pipeline.jobs.import_users import import_users
from user_import_pipeline.sensors.incoming_files import incoming_files_sensor
from user_import_pipeline.sensors.reaper import import_jobs_reaper
from user_import_pipeline.settings import ImportSettings

defs = dg.Definitions(
    jobs=[import_users],
    sensors=[incoming_files_sensor, import_jobs_reaper],
    resources={
        "postgres": PostgresResource(dsn=dg.EnvVar("DATABASE_URL")),
        "import_settings": ImportSettings(),
    },
)
