"""``stage_users`` and ``stage_addresses``: the file into the job's staging tables."""

import time

import dagster as dg

from user_import_pipeline.ops.outcomes import ProgressLog, metadata, run_of, settle
from user_import_pipeline.resources import ImportCoreResource

JOB_ID = dg.Out(str, description="The import job's id")


@dg.op(out=JOB_ID)
def stage_users(context: dg.OpExecutionContext, job_id: str, importer: ImportCoreResource) -> str:
    """Stream the file through validation into UNLOGGED staging (COPY), in one transaction."""
    started = time.perf_counter()
    outcome = importer.service.stage_users(job_id, run_of(context), ProgressLog(context))
    staged = settle(context, outcome)
    seconds = time.perf_counter() - started
    if staged.already_done:
        context.log.info("users already staged by an earlier attempt")
    else:
        context.log.info(
            f"staged {staged.rows_processed} rows ({staged.row_errors} invalid) "
            f"from {staged.bytes_total} bytes in {seconds:.1f}s"
        )
    context.add_output_metadata(metadata(staged, seconds))
    return job_id


@dg.op(out=JOB_ID)
def stage_addresses(
    context: dg.OpExecutionContext, job_id: str, importer: ImportCoreResource
) -> str:
    """Spread the staged address lists into one staging row per address."""
    started = time.perf_counter()
    staged = settle(context, importer.service.stage_addresses(job_id, run_of(context)))
    seconds = time.perf_counter() - started
    context.log.info(f"staged {staged.addresses} addresses in {seconds:.1f}s")
    context.add_output_metadata(metadata(staged, seconds))
    return job_id
