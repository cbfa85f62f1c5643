"""``claim_import``: the first op of every import run - which file, which job, the lease."""

import dagster as dg
from pydantic import Field

from user_import_pipeline.ops.outcomes import DONE, run_of, settle
from user_import_pipeline.resources import ImportCoreResource
from user_import_pipeline.runs import run_tags


class ImportConfig(dg.Config):
    """Which file to import; with job_id, the import_jobs row of that file to run (one
    queued already, e.g. through the HTTP API)."""

    source_path: str = Field(
        description="The file to import, relative to IMPORT_BASE_DIR (paths leading outside "
        "it are refused), e.g. 'incoming/users.json'",
    )
    job_id: str | None = Field(
        default=None, description="UUID of an existing import_jobs row of that file to run"
    )
    dry_run: bool = Field(
        default=False,
        description="Read, validate and plan the file and record the counts and row errors "
        "it would produce, without writing users or addresses",
    )


@dg.op(out=DONE)
def claim_import(
    context: dg.OpExecutionContext, config: ImportConfig, importer: ImportCoreResource
) -> None:
    """Create or take the import_jobs row (SELECT ... FOR UPDATE SKIP LOCKED) and lease it."""
    outcome = importer.service.claim(
        run_of(context),
        source_path=config.source_path,
        job_id=config.job_id,
        dry_run=config.dry_run,
    )
    claim = settle(context, outcome)
    # Tagged with its job, so the reaper sees the job is taken, and Dagster's retry of this
    # run (which inherits the tags) too.
    context.instance.add_run_tags(context.run_id, run_tags(claim.source_path, claim.job_id))
    took_over = f", taken over from run {claim.took_over}" if claim.took_over else ""
    context.log.info(
        f"{'dry run' if claim.dry_run else 'import'} {claim.job_id} of {claim.source_path}: "
        f"attempt {claim.attempts} of "
        f"{claim.max_attempts}, resuming from phase {claim.phase}{took_over}"
    )
    context.add_output_metadata({"job_id": claim.job_id, "source_path": claim.source_path})
