"""``finish_import``: mark the job succeeded, drop its staging, show the final counts and
the failed rows."""

import dagster as dg

from user_import_pipeline.assets import report_import
from user_import_pipeline.lifecycle.jobs import summary
from user_import_pipeline.ops.outcomes import AFTER, DONE, run_of, settle
from user_import_pipeline.ops.row_errors_metadata import row_errors_metadata
from user_import_pipeline.resources import ImportCoreResource
from user_import_pipeline.runs import count_tags


@dg.op(ins=AFTER, out=DONE)
def finish_import(context: dg.OpExecutionContext, importer: ImportCoreResource) -> None:
    """The job's final row: status, counts and timing; the tables' materializations and the
    counts as tags of the run, where the Runs list shows them."""
    run = run_of(context)
    job_id = settle(context, importer.service.job_of(run))
    job = settle(context, importer.service.finish(job_id, run))
    finished = summary(job)
    counts = {key: value for key, value in finished.items() if key.endswith("count")}
    context.log.info(
        f"{'dry run' if job['dry_run'] else 'import'} succeeded: "
        + ", ".join(f"{key} {value}" for key, value in counts.items())
    )
    context.instance.add_run_tags(context.run_id, count_tags(job))
    report_import(context, importer, job)
    context.add_output_metadata({k: v for k, v in finished.items() if v is not None})
    context.add_output_metadata(
        row_errors_metadata(importer.postgres.database(), job_id, context.log)
    )
