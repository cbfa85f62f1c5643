"""The ``import_users`` job: claim → stage users → stage addresses → merge → replace → finish."""

import dagster as dg

from user_import_pipeline.ops.claim_import import claim_import
from user_import_pipeline.ops.finish import finish_import
from user_import_pipeline.ops.merge import merge_users, replace_addresses
from user_import_pipeline.ops.stage import stage_addresses, stage_users


@dg.job(
    # The multiprocess executor costs seconds per op in process start-up; the ops run one
    # after another anyway.
    executor_def=dg.in_process_executor,
    description="Import users and their addresses from a JSON file (see README).",
)
def import_users() -> None:
    finish_import(replace_addresses(merge_users(stage_addresses(stage_users(claim_import())))))
