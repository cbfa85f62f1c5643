"""Running real imports from tests: write a file, run the import core (or the Dagster job
in-process), look at what it left."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
from psycopg.rows import dict_row

from user_import_pipeline import checkpoints
from user_import_pipeline.core.outcomes import Done, Failed, Outcome, RunInfo, Stopped
from user_import_pipeline.core.service import ImportService
from user_import_pipeline.db.client import Database
from user_import_pipeline.ingest.location import Base
from user_import_pipeline.ingest.s3 import S3Prefix
from user_import_pipeline.jobs.import_users import import_users
from user_import_pipeline.lifecycle import jobs
from user_import_pipeline.resources import resources
from user_import_pipeline.runs import run_config
from user_import_pipeline.settings import DEFAULT_CHUNK_SIZE, ImportSettings


@contextmanager
def pause_staging(pause: Callable[[], object]) -> Iterator[None]:
    """Calls ``pause()`` at each progress report while users stream into staging (every
    ``chunk_size`` rows), so that a test can act while the file is still streaming, however
    fast the machine reads it."""

    def listener(point: checkpoints.Point) -> None:
        if point.kind == "progress":
            pause()

    with checkpoints.listening(listener):
        yield


def counts_of(job: dict[str, Any] | None) -> dict[str, Any]:
    """The counts of a finished import's job row (CONTRACT §4)."""
    assert job is not None, "the run claimed no job"
    return {name: job[name] for name in jobs.COUNT_FIELDS}


@dataclass
class ImportOutcome:
    """An import run by the core, and the import_jobs row it worked on (None if it never
    claimed one)."""

    result: Outcome[dict[str, Any]]
    job: dict[str, Any] | None

    @property
    def succeeded(self) -> bool:
        return isinstance(self.result, Done)

    @property
    def message(self) -> str | None:
        """Why it failed or stopped; None when it succeeded."""
        return self.result.message if isinstance(self.result, Failed | Stopped) else None

    @property
    def counts(self) -> dict[str, Any]:
        return counts_of(self.job)


@dataclass
class DagsterOutcome:
    """A finished Dagster run of ``import_users`` and the import_jobs row it worked on."""

    result: dg.ExecuteInProcessResult | dg.ExecutionResult
    job: dict[str, Any] | None

    @property
    def succeeded(self) -> bool:
        return self.result.success

    @property
    def counts(self) -> dict[str, Any]:
        return counts_of(self.job)


@dataclass
class Importer:
    """Imports files of one base directory (or S3 prefix) into one test database."""

    dsn: str
    base_dir: Path
    lease_seconds: int = 60
    chunk_size: int = DEFAULT_CHUNK_SIZE
    # When set, the base is this S3 prefix instead of base_dir (conftest's s3_importer).
    objects: S3Prefix | None = None

    @property
    def database(self) -> Database:
        return Database(self.dsn)

    @property
    def base(self) -> Base:
        return self.objects or self.base_dir.resolve()

    @property
    def settings(self) -> ImportSettings:
        return ImportSettings(
            base_dir=self.base,
            lease_seconds=self.lease_seconds,
            chunk_size=self.chunk_size,
        )

    def service(self) -> ImportService:
        return ImportService(self.database, self.settings)

    def write(self, name: str, users: Any) -> str:
        """Write ``users`` as JSON under the base directory (or upload them under the S3
        prefix); returns the source_path."""
        data = json.dumps(users, ensure_ascii=False).encode("utf-8")
        if self.objects is not None:
            bucket, key = self.objects.bucket, self.objects.prefix + name
            self.objects.client.put_object(Bucket=bucket, Key=key, Body=data)
            return name
        path = self.base_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return name

    def run(
        self,
        source_path: str | None = None,
        *,
        job_id: str | None = None,
        run: RunInfo | None = None,
        dry_run: bool = False,
    ) -> ImportOutcome:
        """Import with the core, in this thread (transient errors retried in place)."""
        run = run or RunInfo.first(str(uuid.uuid4()))
        service = self.service()
        try:
            result = service.run(run, source_path=source_path, job_id=job_id, dry_run=dry_run)
        finally:
            service.close()
        return ImportOutcome(result, self.job_of_run(run.run_id))

    def run_dagster(
        self,
        source_path: str,
        *,
        job_id: str | None = None,
        instance: dg.DagsterInstance | None = None,
        dry_run: bool = False,
    ) -> DagsterOutcome:
        """Import through the ``import_users`` job, in-process."""
        config = run_config(source_path, job_id, dry_run)["ops"]["claim_import"]["config"]
        result = import_users.execute_in_process(
            run_config={"ops": {"claim_import": {"config": config}}},
            resources=resources(
                self.dsn,
                base_dir=str(self.base),
                lease_seconds=self.lease_seconds,
                chunk_size=self.chunk_size,
            ),
            instance=instance,
            raise_on_error=False,
        )
        return DagsterOutcome(result, self.job_of_run(result.run_id))

    def import_users(self, users: Any, name: str = "users.json") -> ImportOutcome:
        return self.run(self.write(name, users))

    def job_of_run(self, run_id: str) -> dict[str, Any] | None:
        with self.database.session() as session:
            return jobs.job_of_run(session, run_id)

    def query(self, sql: Any, params: Any = None) -> list[dict[str, Any]]:
        with psycopg.connect(self.dsn) as conn, conn.cursor(row_factory=dict_row) as cursor:
            return cursor.execute(sql, params).fetchall()

    def users(self) -> dict[str, dict[str, Any]]:
        """Every user keyed by lower(email), with its address list in order."""
        users = {
            row["email"].lower(): {**row, "addresses": []}
            for row in self.query("SELECT * FROM users")
        }
        by_id = {user["id"]: user for user in users.values()}
        for address in self.query("SELECT * FROM addresses ORDER BY user_id, position"):
            by_id[address["user_id"]]["addresses"].append(
                {key: address[key] for key in ("street", "city", "state", "zip_code", "country")}
            )
        return users

    def comparable_users(self) -> dict[str, dict[str, Any]]:
        """``users()`` as two imports of the same rows leave it alike: no timestamps, and no
        id where it is a generated UUID rather than the external id."""
        users = {
            email: {k: v for k, v in user.items() if k not in ("created_at", "updated_at")}
            for email, user in self.users().items()
        }
        for user in users.values():
            if str(user["id"]) != user["external_id"]:
                user.pop("id")
        return users

    def errors(self, job_id: Any) -> dict[int, str]:
        """The job's row errors: row index → code."""
        rows = self.query(
            "SELECT row_index, code FROM import_job_errors WHERE job_id = %s ORDER BY row_index",
            (job_id,),
        )
        return {row["row_index"]: row["code"] for row in rows}

    def reset(self) -> None:
        """Empty users, addresses and jobs, so a test starts from a known state."""
        with psycopg.connect(self.dsn) as conn:
            conn.execute("TRUNCATE users, addresses, import_jobs, import_job_errors CASCADE")
