"""``user-import run`` in a wrapper process: wall time, peak RSS, WAL and the per-phase
times of its Dagster run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from bench import REPO
from bench.databases import Server
from bench.measure import RUN_WRAPPER

if TYPE_CHECKING:
    from dagster import DagsterEvent

WALDUMP_LIMIT_BYTES = 256 << 20


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
            [sys.executable, "-c", RUN_WRAPPER, self.cli, "run", file.name],
            env=env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
        )
        end_lsn = self.server.lsn()
        result = _wrapper_result(done, file)
        summary = json.loads(result["stdout"].strip().splitlines()[-1])
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
                phases.update(_metadata_seconds(event))
        if run_start is not None and run_end is not None:
            phases["dagster run (start to end)"] = run_end - run_start
            phases["dagster between ops"] = max(0.0, run_end - run_start - steps_total)
        return phases


def _wrapper_result(done: subprocess.CompletedProcess, file: Path) -> dict:
    """The wrapper's JSON line; an error unless both it and ``user-import run`` succeeded."""
    if done.returncode != 0:
        raise RuntimeError(f"wrapper failed: {done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rc"] != 0 or not result["stdout"].strip().splitlines():
        raise RuntimeError(
            f"user-import run {file.name} exited {result['rc']}:\n"
            f"{result['stdout'][-2000:]}\n{result['stderr']}"
        )
    return result


def _metadata_seconds(event: DagsterEvent) -> dict[str, float]:
    """An op output's ``seconds*`` metadata, as "  <op>: <name>" phases."""
    phases = {}
    for key, value in event.step_output_data.metadata.items():
        number = getattr(value, "value", value)
        if key.startswith("seconds") and isinstance(number, int | float):
            name = key.removeprefix("seconds_") if key != "seconds" else "work"
            phases[f"  {event.step_key}: {name}"] = float(number)
    return phases
