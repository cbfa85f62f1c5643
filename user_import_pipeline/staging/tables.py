"""The per-import UNLOGGED staging tables and the check that they survived.

UNLOGGED tables are emptied by crash recovery. Each phase records how many rows it staged
in the job row (a logged table); before merging, the staged tables are counted again and a
mismatch means a crash took them, so the import restages instead of merging a partial set.
The user merge also leaves the address lists it found changed in a third table, for the
address replacement after it (merge/replace_addresses.py), checked the same way; so are the
rows a re-import proved unchanged without staging them (staging/compare.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from user_import_pipeline.db.client import Session


class StagingLost(Exception):
    """The staged rows are not all there any more (PostgreSQL crashed or restarted)."""


@dataclass(frozen=True)
class StagingTables:
    users: str
    addresses: str
    address_changes: str
    proven: str

    @classmethod
    def of(cls, job_id: str) -> StagingTables:
        suffix = job_id.replace("-", "")
        return cls(
            users=f"stg_users_{suffix}",
            addresses=f"stg_addresses_{suffix}",
            address_changes=f"stg_address_changes_{suffix}",
            proven=f"stg_proven_{suffix}",
        )

    @property
    def names(self) -> dict[str, str]:
        """The placeholders the staging SQL files use."""
        return {
            "stg_users": self.users,
            "stg_addresses": self.addresses,
            "address_changes": self.address_changes,
            "stg_proven": self.proven,
        }

    def intact(self, session: Session, job: dict[str, Any], addresses: bool = True) -> bool:
        """True when the tables exist and hold as many rows as the job row says they got."""
        expected = {self.users: job["staged_users"]}
        if job["proven_users"]:
            expected[self.proven] = job["proven_users"]
        if addresses:
            expected[self.addresses] = job["staged_addresses"]
        return all(_holds(session, table, rows) for table, rows in expected.items())

    def address_changes_intact(self, session: Session, job: dict[str, Any]) -> bool:
        """True when the address changes the user merge recorded are all there."""
        return _holds(session, self.address_changes, job["address_changes"])

    def require_intact(self, session: Session, job: dict[str, Any]) -> None:
        if not self.intact(session, job):
            raise StagingLost(f"staged rows of import {job['id']} were lost; restaging")

    def drop_proven(self, session: Session) -> None:
        session.execute("drop_table", table=self.proven)

    def drop(self, session: Session) -> None:
        session.execute("drop_staging", **self.names)


def recreate(session: Session, table: str, template: str) -> None:
    """An empty UNLOGGED ``table`` shaped like the staging template ``template``."""
    session.execute("drop_table", table=table)
    session.execute("create_staging_table", table=table, template=template)


def _holds(session: Session, table: str, rows: int | None) -> bool:
    """True when ``table`` exists and has exactly ``rows`` rows."""
    if rows is None or not session.execute("table_exists", {"table": table}).scalar():
        return False
    return bool(session.execute("count_rows", table=table).scalar() == rows)
