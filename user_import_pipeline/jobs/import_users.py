"""The ``import_users`` job: claim → stage users → stage addresses → merge → replace → finish."""

import dagster as dg

from user_import_pipeline.ops.claim_import import claim_import
from user_import_pipeline.ops.finish import finish_import
from user_import_pipeline.ops.merge import merge_users, replace_addresses
from user_import_pipeline.ops.stage import stage_addresses, stage_users


@dg.job(
    # One process for the whole run: the import core (and the heartbeat that keeps the run's
    # lease) lives from the claim to the last op. The ops run one after another anyway.
    executor_def=dg.in_process_executor,
    description="Import users and their addresses from a JSON file (see README).",
)
def import_users() -> None:
    finish_import(replace_addresses(merge_users(stage_addresses(stage_users(claim_import())))))
