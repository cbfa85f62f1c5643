"""Spread the staged users' address lists into the job's ``stg_addresses`` table."""

from __future__ import annotations

from user_import_pipeline.db.client import Session
from user_import_pipeline.lifecycle.jobs import HeldJob, require_ours
from user_import_pipeline.staging.tables import StagingTables, recreate


def stage_addresses(session: Session, job: HeldJob) -> int:
    """Stage the addresses of every valid staged user; returns how many were staged."""
    tables = StagingTables.of(job.job_id)
    with session.transaction():
        session.execute("mark_import_transaction")
        recreate(session, tables.addresses, "stg_addresses")
        staged = session.execute("stage_addresses", **tables.names).rowcount
        session.execute("analyze_table", table=tables.addresses)
        recorded = session.execute(
            "record_addresses_staged",
            {"job_id": job.job_id, "owner": job.owner, "staged_addresses": staged},
        )
        require_ours(recorded.rowcount, job.job_id)
    return staged
