"""The cases measured at each size, one round after another: the parse floor, our parse
and validation, the COPY floor, the three imports; and the 10-user file's latency."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import ijson
import psycopg

from bench import log
from bench.data import Files, generate
from bench.databases import Server
from bench.importer import Importer, Run
from bench.measure import Conditions, Stat
from user_import_pipeline.ingest.stream import iter_items
from user_import_pipeline.ingest.validate import RowError, validate_user

LATENCY_USERS = 10
CASES = ("first", "identical", "changed")
CASE_TITLES = {
    "parse": "parse floor (ijson)",
    "validate": "our parse + validation, no database",
    "copy": "COPY floor",
    "first": "import (a) first, empty tables",
    "identical": "import (b) identical re-import",
    "changed": "import (c) 10% changed re-import",
}
COPY_TABLES = (
    ("users", "id, external_id, name, email, phone_number"),
    ("addresses", "user_id, position, street, city, state, zip_code, country"),
)


@dataclass
class CaseStats:
    seconds: Stat = field(default_factory=Stat)
    wal: Stat = field(default_factory=Stat)
    wal_own: Stat = field(default_factory=Stat)
    wal_data: Stat = field(default_factory=Stat)
    wal_fpi: Stat = field(default_factory=Stat)
    rss: Stat = field(default_factory=Stat)
    # phase name -> seconds over the repeats
    phases: dict[str, Stat] = field(default_factory=lambda: defaultdict(Stat))

    def add(self, run: Run) -> None:
        self.seconds.add(run.wall)
        self.wal.add(run.wal)
        if run.wal_own is not None:
            self.wal_own.add(run.wal_own)
            self.wal_data.add(run.wal_data)
            self.wal_fpi.add(run.wal_fpi)
        self.rss.add(run.maxrss)
        for name, seconds in run.phases.items():
            self.phases[name].add(seconds)


@dataclass
class SizeResult:
    files: Files
    parse: Stat = field(default_factory=Stat)
    validate: Stat = field(default_factory=Stat)
    copy: Stat = field(default_factory=Stat)
    copy_users: Stat = field(default_factory=Stat)
    copy_addresses: Stat = field(default_factory=Stat)
    copy_wal: Stat = field(default_factory=Stat)
    cases: dict[str, CaseStats] = field(default_factory=lambda: {c: CaseStats() for c in CASES})


def parse_floor(path: Path) -> tuple[float, int, int]:
    backend = ijson.get_backend("yajl2_c")
    started = time.perf_counter()
    users = addresses = 0
    with path.open("rb") as f:
        for user in backend.items(f, "item"):
            users += 1
            addresses += len(user.get("addresses") or ())
    return time.perf_counter() - started, users, addresses


def parse_and_validate(path: Path) -> tuple[float, int]:
    """The Python side of stage_users without the COPY: our parser and validation."""
    started = time.perf_counter()
    rows = 0
    with path.open("rb") as f:
        for item in iter_items(f, path.name):
            with contextlib.suppress(RowError):
                validate_user(item)
            rows += 1
    return time.perf_counter() - started, rows


def copy_floor(server: Server, dsn: str, files: Files) -> tuple[float, float, float, int]:
    """TRUNCATE (not timed), CHECKPOINT, then COPY users and addresses, each committed."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE users, addresses RESTART IDENTITY CASCADE")
        server.checkpoint()
        start_lsn = server.lsn()
        started = time.perf_counter()
        parts = []
        for (table, columns), path in zip(
            COPY_TABLES, (files.users_tsv, files.addresses_tsv), strict=True
        ):
            part_started = time.perf_counter()
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
                path.open("rb") as f,
            ):
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
            parts.append(time.perf_counter() - part_started)
        seconds = time.perf_counter() - started
        wal = server.wal_between(start_lsn, server.lsn())
    return seconds, parts[0], parts[1], wal


def check(case: str, files: Files, summary: dict) -> None:
    """The counts each run must report: a benchmark of a wrong import is worthless."""
    n, changed = files.users, files.changed_users
    got = {k: summary.get(k) for k in ("imported_count", "updated_count", "unchanged_count")}
    ok = summary.get("status") == "succeeded" and summary.get("failed_count") == 0
    if case == "first":
        ok = ok and got == {"imported_count": n, "updated_count": 0, "unchanged_count": 0}
    elif case == "identical":
        ok = ok and got == {"imported_count": 0, "updated_count": 0, "unchanged_count": n}
    else:
        ok = (
            ok
            and got["imported_count"] + got["updated_count"] == changed
            and got["unchanged_count"] == n - changed
        )
    if not ok:
        raise RuntimeError(f"{case} import of {n} users reported unexpected counts: {summary}")


def measure_size(
    server: Server, importer: Importer, files: Files, repeat: int, conditions: Conditions
) -> SizeResult:
    """``repeat`` rounds of every case at one size, each round in fresh databases."""
    result = SizeResult(files)
    copy_db = server.create(f"copy_{files.users}")
    server.migrate(copy_db)
    for round_ in range(1, repeat + 1):
        label = f"{files.users} users, round {round_}/{repeat}"
        _measure_floors(server, server.db_url(copy_db), result, conditions, label)
        # Autovacuum would otherwise visit the freshly loaded COPY tables during a later
        # case and write ~300 MB of WAL there, drowning the re-imports' server-wide WAL.
        vacuum(server, copy_db)
        db = server.create(f"import_{files.users}")
        server.migrate(db)
        for case in CASES:
            if case != "first":
                vacuum(server, db)
            log(f"{label}: import {case}")
            conditions.sample(server)
            run = importer.run(db, files.for_case(case))
            check(case, files, run.summary)
            result.cases[case].add(run)
        server.drop(db)
    server.drop(copy_db)
    return result


def _measure_floors(
    server: Server, copy_dsn: str, result: SizeResult, conditions: Conditions, label: str
) -> None:
    files = result.files
    log(f"{label}: parse floor")
    conditions.sample(server)
    seconds, users, addresses = parse_floor(files.json)
    if (users, addresses) != (files.users, files.addresses):
        raise RuntimeError(f"parse floor counted {users}/{addresses} rows")
    result.parse.add(seconds)

    log(f"{label}: parse + validation")
    seconds, rows = parse_and_validate(files.json)
    if rows != files.users:
        raise RuntimeError(f"parse + validation counted {rows} rows")
    result.validate.add(seconds)

    log(f"{label}: COPY floor")
    conditions.sample(server)
    total, users_s, addresses_s, wal = copy_floor(server, copy_dsn, files)
    result.copy.add(total)
    result.copy_users.add(users_s)
    result.copy_addresses.add(addresses_s)
    result.copy_wal.add(wal)


def vacuum(server: Server, db: str) -> None:
    """What autovacuum would have done by the time a file is re-imported (not timed)."""
    server.execute_in(db, "VACUUM ANALYZE users, addresses")


def measure_latency(
    server: Server, importer: Importer, cli: str, workdir: Path, repeat: int, seed: int
) -> tuple[Stat, Stat]:
    """Wall time and peak RSS of a 10-user file through ``user-import run``."""
    path = workdir / f"users_{LATENCY_USERS}.json"
    generate(cli, LATENCY_USERS, path, seed)
    db = server.create("latency")
    server.migrate(db)
    importer.run(db, path, measure_wal=False)  # warm-up: caches, Dagster schema; not counted
    wall, rss = Stat(), Stat()
    for round_ in range(1, repeat + 1):
        log(f"10-user file, round {round_}/{repeat}")
        server.execute_in(db, "TRUNCATE users, addresses CASCADE")
        run = importer.run(db, path, measure_wal=False)
        if run.summary.get("imported_count") != LATENCY_USERS:
            raise RuntimeError(f"10-user import reported {run.summary}")
        wall.add(run.wall)
        rss.add(run.maxrss)
    server.drop(db)
    return wall, rss
