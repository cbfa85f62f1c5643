"""Running real imports from tests: write a file, run the Dagster job in-process, look."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
from psycopg.rows import dict_row

from user_import_pipeline.db.connection import PostgresResource
from user_import_pipeline.jobs.import_users import import_users
from user_import_pipeline.lifecycle import jobs
from user_import_pipeline.settings import ImportSettings
from user_import_pipeline.staging import stage_users


def pause_staging(monkeypatch: Any, pause: Callable[[int], object], every: int = 1000) -> None:
    """Makes stage_users call ``pause(n)`` after every ``every``-th item it reads (``n``
    counts the items), so that a test can act while the file is still streaming, however
    fast the machine reads it."""
    read_items = stage_users.iter_items

    def paused(*args: Any, **kwargs: Any) -> Iterator[object]:
        for n, item in enumerate(read_items(*args, **kwargs), 1):
            yield item
            if n % every == 0:
                pause(n)

    monkeypatch.setattr(stage_users, "iter_items", paused)


@dataclass
class Outcome:
    """A finished run and the import_jobs row it worked on (None if it never claimed one)."""

    result: dg.ExecuteInProcessResult
    job: dict[str, Any] | None

    @property
    def counts(self) -> dict[str, Any]:
        assert self.job is not None, "the run claimed no job"
        return {name: self.job[name] for name in jobs.COUNT_FIELDS}


@dataclass
class Importer:
    """Imports files of one base directory into one test database."""

    dsn: str
    base_dir: Path
    lease_seconds: int = 60

    def write(self, name: str, users: Any) -> str:
        """Write ``users`` as JSON under the base directory; returns the source_path."""
        path = self.base_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(users, ensure_ascii=False), encoding="utf-8")
        return name

    def run(
        self,
        source_path: str | None = None,
        *,
        job_id: str | None = None,
        instance: dg.DagsterInstance | None = None,
    ) -> Outcome:
        config = {
            key: value
            for key, value in {"source_path": source_path, "job_id": job_id}.items()
            if value is not None
        }
        result = import_users.execute_in_process(
            run_config={"ops": {"claim_import": {"config": config}}},
            resources={
                "postgres": PostgresResource(dsn=self.dsn),
                "import_settings": ImportSettings(
                    base_dir=str(self.base_dir), lease_seconds=self.lease_seconds
                ),
            },
            instance=instance,
            raise_on_error=False,
        )
        return Outcome(result, self.job_of_run(result.run_id))

    def import_users(self, users: Any, name: str = "users.json") -> Outcome:
        return self.run(self.write(name, users))

    def job_of_run(self, run_id: str) -> dict[str, Any] | None:
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(
                "SELECT id FROM import_jobs WHERE dagster_run_id = %s", (run_id,)
            ).fetchone()
            return None if row is None else jobs.read_job(conn, str(row[0]))

    def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
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
