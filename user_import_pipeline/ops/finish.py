"""``finish_import``: mark the job succeeded, drop its staging, show the final counts and
the failed rows."""

from typing import Any

import dagster as dg

from user_import_pipeline.assets import report_import
from user_import_pipeline.lifecycle.jobs import summary
from user_import_pipeline.ops.outcomes import run_of, settle
from user_import_pipeline.ops.row_errors_metadata import row_errors_metadata
from user_import_pipeline.resources import ImportCoreResource
from user_import_pipeline.runs import count_tags


@dg.op(out=dg.Out(dict, description="The finished job: id, status, counts"))
def finish_import(
    context: dg.OpExecutionContext, job_id: str, importer: ImportCoreResource
) -> dict[str, Any]:
    """The job's final row: status, counts and timing; the tables' materializations and the
    counts as tags of the run, where the Runs list shows them."""
    job = settle(context, importer.service.finish(job_id, run_of(context)))
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
    return finished
