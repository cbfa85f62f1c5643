"""``stage_users`` and ``stage_addresses``: the file into the job's staging tables."""

import time

import dagster as dg

from user_import_pipeline.ops.outcomes import AFTER, DONE, ProgressLog, metadata, run_of, settle
from user_import_pipeline.resources import ImportCoreResource


@dg.op(ins=AFTER, out=DONE)
def stage_users(context: dg.OpExecutionContext, importer: ImportCoreResource) -> None:
    """Stream the file through validation into UNLOGGED staging (COPY), in one transaction."""
    run = run_of(context)
    job_id = settle(context, importer.service.job_of(run))
    started = time.perf_counter()
    staged = settle(context, importer.service.stage_users(job_id, run, ProgressLog(context)))
    seconds = time.perf_counter() - started
    if staged.already_done:
        context.log.info("users already staged by an earlier attempt")
    elif staged.users_written:
        context.log.info(
            f"first import into empty tables: wrote {staged.users_written} users while "
            f"reading {staged.rows_processed} rows ({staged.row_errors} invalid) from "
            f"{staged.bytes_total} bytes, merged the {staged.rows_staged} rows staged, "
            f"in {seconds:.1f}s"
        )
    else:
        context.log.info(
            f"staged {staged.rows_processed} rows ({staged.row_errors} invalid) "
            f"from {staged.bytes_total} bytes in {seconds:.1f}s"
        )
    context.add_output_metadata(metadata(staged, seconds))


@dg.op(ins=AFTER, out=DONE)
def stage_addresses(context: dg.OpExecutionContext, importer: ImportCoreResource) -> None:
    """Spread the staged address lists into one staging row per address."""
    run = run_of(context)
    job_id = settle(context, importer.service.job_of(run))
    started = time.perf_counter()
    staged = settle(context, importer.service.stage_addresses(job_id, run))
    seconds = time.perf_counter() - started
    context.log.info(f"staged {staged.addresses} addresses in {seconds:.1f}s")
    context.add_output_metadata(metadata(staged, seconds))
