"""``merge_users`` and ``replace_addresses``: staged rows into the real tables, once."""

import dagster as dg

from user_import_pipeline.ops.outcomes import metadata, run_of, settle
from user_import_pipeline.ops.stage import JOB_ID
from user_import_pipeline.resources import ImportCoreResource


@dg.op(out=JOB_ID)
def merge_users(context: dg.OpExecutionContext, job_id: str, importer: ImportCoreResource) -> str:
    """Upsert users by external id with email fallback; only changed users are written."""
    outcome = importer.service.merge_users(job_id, run_of(context), on_wait=context.log.info)
    merged = settle(context, outcome)
    context.log.info(
        f"users: {merged.imported} new, {merged.updated} updated, {merged.unchanged} unchanged"
        + (" (recorded by an earlier attempt)" if merged.already_done else "")
    )
    context.add_output_metadata(metadata(merged))
    return job_id


@dg.op(out=JOB_ID)
def replace_addresses(
    context: dg.OpExecutionContext, job_id: str, importer: ImportCoreResource
) -> str:
    """Replace the address lists that changed, for the users this import applied."""
    replaced = settle(context, importer.service.replace_addresses(job_id, run_of(context)))
    context.log.info(
        f"addresses: {replaced.users} lists replaced with {replaced.addresses} addresses"
    )
    context.add_output_metadata(metadata(replaced))
    return job_id
