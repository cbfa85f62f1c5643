"""The tables an import writes, as Dagster assets: ``users`` and ``addresses`` are in the
asset catalog, each import that writes them records a materialization (its job, its counts
and the table's row count after it), and the check ``bad_row_rate`` on ``users`` says
whether the import's share of bad rows stayed within the threshold (a warning if not).

The job stays op-based: ``finish_import`` reports these events; the check can also be run
on its own from the catalog, on the last import.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from user_import_pipeline.core.alerts import bad_row_rate
from user_import_pipeline.db.errors import DatabaseError
from user_import_pipeline.lifecycle.jobs import COUNT_FIELDS
from user_import_pipeline.resources import ImportCoreResource, ImportSettingsResource

USERS = dg.AssetKey("users")
ADDRESSES = dg.AssetKey("addresses")
BAD_ROW_RATE = "bad_row_rate"

users = dg.AssetSpec(
    USERS,
    description="The users table: one row per user, matched by external id or email.",
    group_name="user_import",
    kinds={"postgres"},
)
addresses = dg.AssetSpec(
    ADDRESSES,
    description="The addresses table: each user's address list, in order.",
    group_name="user_import",
    deps=[USERS],
    kinds={"postgres"},
)


def bad_row_evaluation(job: dict[str, Any], threshold: float) -> dg.AssetCheckEvaluation:
    """The check of one import: passed while its bad-row rate is at most ``threshold``."""
    rate = bad_row_rate(job)
    return dg.AssetCheckEvaluation(
        asset_key=USERS,
        check_name=BAD_ROW_RATE,
        passed=rate <= threshold,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "job_id": str(job["id"]),
            "bad_row_rate": rate,
            "threshold": threshold,
            "failed": job["failed_count"],
            "processed": job["progress_processed"],
        },
    )


@dg.asset_check(
    asset=USERS,
    name=BAD_ROW_RATE,
    description="The last import's share of bad rows is at most the threshold "
    "(IMPORT_BAD_ROW_THRESHOLD, default 5%); every import reports it too.",
)
def bad_row_rate_check(
    importer: ImportCoreResource, import_settings: ImportSettingsResource
) -> dg.AssetCheckResult:
    job = importer.service.latest_import()
    if job is None:
        return dg.AssetCheckResult(passed=True, metadata={"imports": 0})
    evaluation = bad_row_evaluation(job, import_settings.resolve().bad_row_threshold)
    return dg.AssetCheckResult(
        passed=evaluation.passed, severity=evaluation.severity, metadata=evaluation.metadata
    )


def report_import(
    context: dg.OpExecutionContext, importer: ImportCoreResource, job: dict[str, Any]
) -> None:
    """Materializations of both tables and the bad-row check, for an import that wrote
    them (a dry run wrote nothing)."""
    if job["dry_run"]:
        return
    counts = {name: job[name] for name in COUNT_FIELDS}
    try:
        rows = importer.service.row_counts()
    except DatabaseError as exc:  # the import has succeeded: say so, do not fail the run
        context.log.warning(f"no materializations recorded for import {job['id']}: {exc}")
        return
    for key, table in ((USERS, "users"), (ADDRESSES, "addresses")):
        context.log_event(
            dg.AssetMaterialization(
                asset_key=key,
                description=f"import job {job['id']} of {job['source_path']}",
                metadata={"job_id": str(job["id"]), **counts, "row_count": rows[table]},
            )
        )
    threshold = importer.import_settings.resolve().bad_row_threshold
    # log_event takes check evaluations too; its annotation does not say so yet.
    context.log_event(bad_row_evaluation(job, threshold))  # type: ignore[arg-type]
