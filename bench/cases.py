"""What is measured: the files, the scratch databases on the server, the floors, and one
``user-import run`` (wall time, peak RSS, WAL and the phases of its Dagster run)."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, LiteralString

import ijson
import psycopg
from dagster import DagsterEventType
from dagster_postgres import PostgresEventLogStorage
from psycopg import sql

from user_import_pipeline.db.client import Database
from user_import_pipeline.db.migrate import migrate
from user_import_pipeline.environment import with_database
from user_import_pipeline.generate import generate_users
from user_import_pipeline.ingest.stream import iter_items
from user_import_pipeline.ingest.validate import RowError, validate_user

REPO = Path(__file__).resolve().parents[1]
CHANGE_EVERY, CHANGE_OFFSET = 10, 7  # users 7, 17, 27, ... changed: 10%
COPY_TABLES = (
    ("users", "id, external_id, name, email, phone_number"),
    ("addresses", "user_id, position, street, city, state, zip_code, country"),
)
ADDRESS_FIELDS = ("street", "city", "state", "zip_code", "country")
SETTINGS_QUERY = """SELECT name, current_setting(name) FROM pg_settings WHERE name IN (
    'shared_buffers', 'work_mem', 'maintenance_work_mem', 'max_wal_size', 'checkpoint_timeout',
    'wal_level', 'synchronous_commit', 'fsync', 'data_checksums',
    'max_parallel_workers_per_gather')"""


def log(message: str) -> None:
    """Progress, on stderr, with the time of day."""
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


@dataclass
class Sample:
    """One measurement of one case. ``phases``: seconds by phase name (report.py)."""

    seconds: float
    wal: int | None = None  # bytes, server-wide
    rss: int | None = None  # bytes, peak of the process
    phases: dict[str, float] = field(default_factory=dict)


class Server:
    """The PostgreSQL server measured, and the scratch databases made on it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"bench_{os.getpid()}"
        self.created: list[str] = []
        self.admin = psycopg.connect(url, autocommit=True)

    def value(self, query: LiteralString, *params: object, db: str | None = None) -> Any:
        """The first value of the first row (or None) of one autocommitted statement, in
        database ``db`` when given."""
        with contextlib.ExitStack() as stack:
            conn = self.admin
            if db is not None:
                conn = stack.enter_context(psycopg.connect(self.url_of(db), autocommit=True))
            cursor = conn.execute(query, params or None)
            row = cursor.fetchone() if cursor.description else None
        return row[0] if row else None

    def url_of(self, db: str) -> str:
        return with_database(self.url, db)

    def create(self, label: str, *, migrated: bool = True) -> str:
        """A new database ``bench_<pid>_<label>``, with the real migrations applied."""
        name = f"{self.prefix}_{label}"
        self.drop(name)
        self.admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        if migrated:
            migrate(Database(self.url_of(name)))
        return name

    def drop(self, name: str) -> None:
        query = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        self.admin.execute(query.format(sql.Identifier(name)))
        if name in self.created:
            self.created.remove(name)

    def checkpoint(self) -> None:
        with contextlib.suppress(psycopg.Error):  # refused without the right: go on
            self.admin.execute("CHECKPOINT")

    def lsn(self) -> str:
        return str(self.value("SELECT pg_current_wal_lsn()"))

    def wal_since(self, lsn: str) -> int:
        """Bytes of WAL the whole server wrote since ``lsn``."""
        return int(self.value("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)::bigint", lsn))

    def other_clients(self) -> int:
        return int(
            self.value(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
                " AND pid <> pg_backend_pid() AND datname NOT LIKE %s",
                f"{self.prefix}%",
            )
        )

    def describe(self) -> dict[str, str]:
        settings = self.admin.execute(SETTINGS_QUERY).fetchall()
        return {
            "PostgreSQL": str(self.value("SELECT version()")),
            "server settings": ", ".join(f"{name} {value}" for name, value in sorted(settings)),
        }

    def close(self) -> None:
        for name in list(self.created):
            with contextlib.suppress(psycopg.Error):
                self.drop(name)
        self.admin.close()


@dataclass
class Files:
    """A generated file, its 10%-changed copy, and its rows as TSV for the COPY floor."""

    json: Path
    changed: Path
    users_tsv: Path
    addresses_tsv: Path
    users: int = 0  # counted while writing the copy and the TSV
    addresses: int = 0
    changed_users: int = 0
    bytes: int = 0


def prepare_files(workdir: Path, count: int, seed: int) -> Files:
    """Generate ``count`` users; in one pass over them write the changed copy (every 10th
    user's name, email or address list, in turn) and the TSV (not timed)."""
    json_file, changed_file, users_tsv, addresses_tsv = (
        workdir / name.format(count)
        for name in ("users_{}.json", "users_{}_changed.json", "users_{}.tsv", "addresses_{}.tsv")
    )
    files = Files(json_file, changed_file, users_tsv, addresses_tsv)
    generate_users(files.json, count, seed=seed)
    files.bytes = files.json.stat().st_size
    rng = random.Random(f"bench-{seed}")
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with (
        files.json.open("rb") as src,
        files.changed.open("w", encoding="utf-8") as changed,
        files.users_tsv.open("w", encoding="utf-8") as users,
        files.addresses_tsv.open("w", encoding="utf-8") as addresses,
    ):
        changed.write("[")
        for index, user in enumerate(ijson.items(src, "item", use_float=True)):
            user_id = uuid.UUID(int=rng.getrandbits(128), version=4)  # as random as any id
            external = None if user.get("id") in (None, "") else str(user["id"]).strip()
            row = (user_id, external, user["name"], user["email"], user.get("phone_number"))
            users.write(_tsv(row))
            for position, a in enumerate(user.get("addresses") or ()):
                addresses.write(_tsv((user_id, position, *(a[k] for k in ADDRESS_FIELDS))))
                files.addresses += 1
            if index % CHANGE_EVERY == CHANGE_OFFSET:
                _change(user, index)
                files.changed_users += 1
            changed.write((",\n" if index else "\n") + encode(user))
            files.users += 1
        changed.write("\n]\n")
    return files


def _change(user: dict[str, Any], index: int) -> None:
    kind = (index // CHANGE_EVERY) % 3
    if kind == 0:
        user["name"] = f"{user['name']} Jr"
    elif kind == 1:
        user["email"] = f"changed.{user['email']}"
    elif user.get("addresses"):
        user["addresses"][0]["street"] += " B"
    else:
        values = (f"{index} Changed Street", "Springfield", "IL", "62701", "US")
        user["addresses"] = [dict(zip(ADDRESS_FIELDS, values, strict=True))]


def _tsv(values: tuple[object, ...]) -> str:
    def field(value: object) -> str:
        if value is None:
            return "\\N"
        text = str(value).replace("\\", "\\\\")
        return text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")

    return "\t".join(map(field, values)) + "\n"


def parse_floor(files: Files) -> Sample:
    """ijson's C backend over the file, counting users and addresses."""
    items = ijson.get_backend("yajl2_c").items
    started = time.perf_counter()
    users = addresses = 0
    with files.json.open("rb") as f:
        for user in items(f, "item"):
            users += 1
            addresses += len(user.get("addresses") or ())
    sample = Sample(time.perf_counter() - started)
    if (users, addresses) != (files.users, files.addresses):
        raise RuntimeError(f"parse floor: counted {users} users, {addresses} addresses")
    return sample


def validation(files: Files) -> Sample:
    """The Python side of stage_users without the database: our parser and validation."""
    started = time.perf_counter()
    rows = 0
    with files.json.open("rb") as f:
        for item in iter_items(f, files.json.name):
            with contextlib.suppress(RowError):
                validate_user(item)
            rows += 1
    sample = Sample(time.perf_counter() - started)
    if rows != files.users:
        raise RuntimeError(f"parse + validation: counted {rows} rows")
    return sample


def copy_floor(server: Server, db: str, files: Files) -> Sample:
    """TRUNCATE and CHECKPOINT (not timed), COPY users, commit, COPY addresses, commit;
    then VACUUM ANALYZE (not timed), or autovacuum would write WAL during a later case."""
    with psycopg.connect(server.url_of(db), autocommit=True) as conn:
        conn.execute("TRUNCATE users, addresses RESTART IDENTITY CASCADE")
        server.checkpoint()
        start = server.lsn()
        phases = {}
        for (table, columns), path in zip(
            COPY_TABLES, (files.users_tsv, files.addresses_tsv), strict=True
        ):
            started = time.perf_counter()
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
                path.open("rb") as f,
            ):
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            phases[table] = time.perf_counter() - started
        sample = Sample(sum(phases.values()), wal=server.wal_since(start), phases=phases)
        conn.execute("VACUUM ANALYZE users, addresses")
    return sample


class Importer:
    """``user-import run FILE`` in a subprocess, on the scratch database it is given; the
    runs are recorded in a scratch Dagster database, whose event log gives the phases."""

    def __init__(self, server: Server, cli: str, workdir: Path) -> None:
        self.server, self.cli, self.workdir = server, cli, workdir
        dagster_url = server.url_of(server.create("dagster", migrated=False))
        self.dagster_url = dagster_url.replace("postgresql://", "postgresql+psycopg2://", 1)
        home = workdir / "dagster_home"
        home.mkdir(exist_ok=True)
        shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")
        self.env = {
            **os.environ,
            "DAGSTER_PG_URL": self.dagster_url,
            "DAGSTER_HOME": str(home),
            "IMPORT_BASE_DIR": str(workdir),
            "DAGSTER_DISABLE_TELEMETRY": "1",
        }
        self._events: PostgresEventLogStorage | None = None

    def run(self, db: str, file: Path) -> tuple[Sample, dict[str, Any]]:
        """One import right after a CHECKPOINT; the sample and the run's JSON summary."""
        env = {**self.env, "DATABASE_URL": self.server.url_of(db)}
        out, err = self.workdir / "run.out", self.workdir / "run.err"
        self.server.checkpoint()
        start = self.server.lsn()
        with out.open("w") as stdout, err.open("w") as stderr:
            started = time.perf_counter()
            command = [self.cli, "run", file.name]
            proc = subprocess.Popen(
                command, cwd=self.workdir, env=env, stdout=stdout, stderr=stderr
            )
            _, status, usage = os.wait4(proc.pid, 0)  # the rusage of this child alone
            seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        wal = self.server.wal_since(start)
        lines = out.read_text().strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise RuntimeError(
                f"user-import run {file.name} exited {proc.returncode}:\n"
                f"{out.read_text()[-2000:]}\n{err.read_text()[-3000:]}"
            )
        summary: dict[str, Any] = json.loads(lines[-1])
        phases = self.phases(db, summary["job_id"])
        phases["outside the Dagster run"] = seconds - phases.pop("run", seconds)
        return Sample(seconds, wal=wal, rss=usage.ru_maxrss * 1024, phases=phases), summary

    def phases(self, db: str, job_id: str) -> dict[str, float]:
        """From the run's Dagster event log: the run's length ("run"), each op's ("op X"),
        what is left between ops, and the ops' ``seconds_<step>`` metadata ("X: step")."""
        query = "SELECT dagster_run_id FROM import_jobs WHERE id = %s"
        run_id = self.server.value(query, job_id, db=db)
        if self._events is None:  # made by then by the first run: not created here
            self._events = PostgresEventLogStorage(self.dagster_url, should_autocreate_tables=False)
        phases: dict[str, float] = {}
        started, written_by_stage_users = None, False
        for entry in self._events.get_logs_for_run(run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type == DagsterEventType.RUN_START:
                started = entry.timestamp
            elif event.event_type == DagsterEventType.RUN_SUCCESS and started is not None:
                phases["run"] = entry.timestamp - started
            elif event.event_type == DagsterEventType.STEP_SUCCESS:
                phases[f"op {event.step_key}"] = event.step_success_data.duration_ms / 1000
            elif event.event_type == DagsterEventType.STEP_OUTPUT:
                for key, value in event.step_output_data.metadata.items():
                    # A first import into empty tables is done by stage_users (DECISIONS).
                    if key == "users_written" and value.value:
                        written_by_stage_users = True
                    if key == "already_done" and value.value and not written_by_stage_users:
                        raise RuntimeError(f"{event.step_key} found its work done already")
                    if key.startswith("seconds_"):
                        step = key.removeprefix("seconds_")
                        phases[f"{event.step_key}: {step}"] = float(value.value)  # type: ignore[arg-type]
        ops = sum(v for k, v in phases.items() if k.startswith("op "))
        phases["between ops"] = max(0.0, phases.get("run", ops) - ops)
        return phases


def check(case: str, files: Files, summary: dict[str, Any]) -> None:
    """The counts each import must report: a benchmark of a wrong import is worthless. Of
    the changed users, one whose email changed and who has no external id becomes new."""
    n, changed = files.users, files.changed_users
    new, updated, unchanged = (
        summary.get(f"{k}_count") for k in ("imported", "updated", "unchanged")
    )
    expected = {"first": (n, 0, 0), "identical": (0, 0, n), "changed": (changed, n - changed)}
    got = (new, updated, unchanged) if case != "changed" else (new + updated, unchanged)  # type: ignore[operator]
    if summary.get("status") != "succeeded" or summary.get("failed_count") or got != expected[case]:
        raise RuntimeError(f"{case} import of {n} users reported unexpected counts: {summary}")
