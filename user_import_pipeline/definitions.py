"""The code location: the one ``Definitions`` object Dagster loads."""

from __future__ import annotations

import dagster as dg

from user_import_pipeline.assets import addresses, bad_row_rate_check, users
from user_import_pipeline.jobs.import_users import import_users
from user_import_pipeline.resources import resources
from user_import_pipeline.sensors.incoming_files import incoming_files_sensor
from user_import_pipeline.sensors.reaper import import_jobs_reaper

defs = dg.Definitions(
    assets=[users, addresses],
    asset_checks=[bad_row_rate_check],
    jobs=[import_users],
    sensors=[incoming_files_sensor, import_jobs_reaper],
    resources=resources(),
)
