"""``merge_users`` and ``replace_addresses``: staged rows into the real tables, once."""

import dagster as dg

from user_import_pipeline.ops.outcomes import AFTER, DONE, metadata, run_of, settle
from user_import_pipeline.resources import ImportCoreResource


@dg.op(ins=AFTER, out=DONE)
def merge_users(context: dg.OpExecutionContext, importer: ImportCoreResource) -> None:
    """Upsert users by external id with email fallback; only changed users are written."""
    run = run_of(context)
    job_id = settle(context, importer.service.job_of(run))
    outcome = importer.service.merge_users(job_id, run, on_wait=context.log.info)
    merged = settle(context, outcome)
    context.log.info(
        f"users: {merged.imported} new, {merged.updated} updated, {merged.unchanged} unchanged"
        + (
            " (recorded before: by an earlier attempt, or by stage_users)"
            if merged.already_done
            else ""
        )
    )
    context.add_output_metadata(metadata(merged))


@dg.op(ins=AFTER, out=DONE)
def replace_addresses(context: dg.OpExecutionContext, importer: ImportCoreResource) -> None:
    """Replace the address lists that changed, for the users this import applied."""
    run = run_of(context)
    job_id = settle(context, importer.service.job_of(run))
    replaced = settle(context, importer.service.replace_addresses(job_id, run))
    context.log.info(
        f"addresses: {replaced.users} lists replaced with {replaced.addresses} addresses"
    )
    context.add_output_metadata(metadata(replaced))
