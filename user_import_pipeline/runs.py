"""How every launcher (the sensors, the HTTP API, ``submit``) asks Dagster for an import
run - its config and the tags the queue and the reaper use - and what Dagster says of runs."""

from __future__ import annotations

from typing import Any

import dagster as dg

# Tags read by the run queue (one run per file) and by the reaper (is a job being run?).
FILE_TAG = "import_file"
JOB_TAG = "import_job_id"
COUNTS_TAG_PREFIX = "import/"

ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]


def run_config(
    source_path: str, job_id: str | None = None, dry_run: bool = False
) -> dict[str, Any]:
    config = {"source_path": source_path, "job_id": job_id, "dry_run": dry_run}
    return {"ops": {"claim_import": {"config": {k: v for k, v in config.items() if v}}}}


def run_tags(source_path: str, job_id: str | None = None) -> dict[str, str]:
    tags = {FILE_TAG: source_path}
    if job_id is not None:
        tags[JOB_TAG] = job_id
    return tags


def count_tags(job: dict[str, Any]) -> dict[str, str]:
    """A finished import's counts as run tags (``import/imported`` …), shown in the Runs
    list next to the run; a dry run says so."""
    tags = {
        f"{COUNTS_TAG_PREFIX}{name.removesuffix('_count')}": str(job[name])
        for name in ("imported_count", "updated_count", "unchanged_count", "failed_count")
    }
    if job["dry_run"]:
        tags[f"{COUNTS_TAG_PREFIX}dry_run"] = "true"
    return tags


def has_active_run(instance: dg.DagsterInstance, job_id: str, source_path: str) -> bool:
    """True when a queued or running Dagster run is (or will be) working on the job: one
    tagged with the job, or any run of its file (a run retry keeps the tags of the run it
    retries, which may name only the file; and the queue would hold a new run behind it)."""
    return any(
        instance.get_run_records(
            filters=dg.RunsFilter(tags=tags, statuses=ACTIVE_STATUSES), limit=1
        )
        for tags in ({JOB_TAG: job_id}, {FILE_TAG: source_path})
    )
