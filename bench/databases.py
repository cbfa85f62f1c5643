"""The PostgreSQL server measured, and the scratch databases the benchmark makes on it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import LiteralString

import psycopg
from psycopg import sql

from bench import log
from bench.measure import find_waldump, waldump_shares
from user_import_pipeline import environment
from user_import_pipeline.db.client import Database

SETTINGS = (
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "max_wal_size",
    "checkpoint_timeout",
    "wal_level",
    "synchronous_commit",
    "fsync",
    "data_checksums",
    "max_parallel_workers_per_gather",
)


def server_url() -> tuple[str, Path | None]:
    """DATABASE_URL, or the embedded server (started if needed) and its log file."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], None
    from user_import_pipeline.db.embedded import EmbeddedServer

    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "DAGSTER_PG_URL", "DAGSTER_HOME")}
    url = environment.prepare()
    for key, value in saved.items():  # prepare() exports them; the runs get their own
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    return url, EmbeddedServer.from_settings().log_file


class Server:
    """The PostgreSQL server measured, and the scratch databases made on it."""

    def __init__(self, url: str, embedded_log: Path | None) -> None:
        self.url = url
        self.embedded_log = embedded_log
        self.prefix = f"bench_{os.getpid()}"
        self.created: list[str] = []
        self.admin = psycopg.connect(url, autocommit=True)
        self.slot: str | None = None
        self.waldump = find_waldump(self.admin)

    def db_url(self, name: str, scheme: str = "postgresql") -> str:
        """A URL (not key=value: Dagster's storage takes URLs only) for ``name``."""
        url = environment.with_database(self.url, name)
        return url.replace("postgresql://", f"{scheme}://", 1)

    def create(self, label: str) -> str:
        name = f"{self.prefix}_{label}"
        self.drop(name)
        self.admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        self.admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if name in self.created:
            self.created.remove(name)

    def migrate(self, name: str) -> None:
        from user_import_pipeline.db.migrate import migrate

        migrate(Database(self.db_url(name)))

    def execute_in(self, name: str, statement: LiteralString) -> None:
        """One statement, autocommitted, in database ``name``."""
        with psycopg.connect(self.db_url(name), autocommit=True) as conn:
            conn.execute(statement)

    def oid(self, name: str) -> int:
        row = self.admin.execute("SELECT oid FROM pg_database WHERE datname = %s", (name,))
        return int(row.fetchone()[0])

    def checkpoint(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.admin.execute("CHECKPOINT")

    def lsn(self) -> str:
        return str(self.admin.execute("SELECT pg_current_wal_lsn()").fetchone()[0])

    def wal_between(self, start: str, end: str) -> int:
        row = self.admin.execute("SELECT pg_wal_lsn_diff(%s, %s)::bigint", (end, start))
        return int(row.fetchone()[0])

    def other_clients(self) -> int:
        row = self.admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
            " AND pid <> pg_backend_pid() AND datname NOT LIKE %s",
            (f"{self.prefix}%",),
        )
        return int(row.fetchone()[0])

    def describe(self) -> dict[str, str]:
        version = self.admin.execute("SELECT version()").fetchone()[0]
        rows = self.admin.execute(
            "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)", (list(SETTINGS),)
        ).fetchall()
        settings = {n: _pretty_setting(s, u) for n, s, u in rows}
        return {"version": version, **{n: settings.get(n, "?") for n in SETTINGS}}

    # WAL of our own databases, from pg_waldump (best effort).

    def hold_wal(self) -> None:
        """A temporary physical slot: keeps WAL from now on until it is read."""
        if self.waldump is None or self.slot is not None:
            return
        name = f"{self.prefix}_slot"
        try:
            self.admin.execute(
                "SELECT pg_create_physical_replication_slot(%s, true, true)", (name,)
            )
            self.slot = name
        except psycopg.Error as exc:
            log(f"no replication slot ({exc}); WAL may be recycled before it is read")

    def release_wal(self) -> None:
        if self.slot is not None:
            with contextlib.suppress(psycopg.Error):
                self.admin.execute("SELECT pg_drop_replication_slot(%s)", (self.slot,))
            self.slot = None

    def wal_of_databases(
        self, start: str, end: str, oids: set[int]
    ) -> tuple[dict[int, int], int] | None:
        """Per database of ``oids``, the bytes of WAL between start and end that are
        theirs, and how many of those bytes are full-page images (``waldump_shares``)."""
        if self.waldump is None:
            return None
        # Commits are flushed, but read no further than what is surely on disk.
        flushed = str(self.admin.execute("SELECT pg_current_wal_flush_lsn()").fetchone()[0])
        if self.wal_between(end, flushed) < 0:
            end = flushed
        binary, wal_dir = self.waldump
        return waldump_shares(binary, wal_dir, start, end, oids)

    def close(self) -> None:
        self.release_wal()
        for name in list(self.created):
            with contextlib.suppress(Exception):
                self.drop(name)
        self.admin.close()


def _pretty_setting(setting: str, unit: str | None) -> str:
    if unit in ("8kB", "kB", "MB") and setting.isdigit():
        factor = {"8kB": 8192, "kB": 1024, "MB": 1 << 20}[unit]
        value = int(setting) * factor
        return f"{value / (1 << 30):g} GB" if value >= 1 << 30 else f"{value / (1 << 20):g} MB"
    if unit == "s" and setting.isdigit():
        return f"{setting} s"
    return setting
