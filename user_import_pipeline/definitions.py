"""The code location: the one ``Definitions`` object Dagster loads."""

from __future__ import annotations

import dagster as dg

from user_import_pipeline.db.connection import PostgresResource
from user_import_pipeline.jobs.import_users import import_users
from user_import_pipeline.settings import ImportSettings

defs = dg.Definitions(
    jobs=[import_users],
    resources={
        "postgres": PostgresResource(dsn=dg.EnvVar("DATABASE_URL")),
        "import_settings": ImportSettings(),
    },
)
