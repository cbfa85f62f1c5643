"""An import in a child process that dies (SIGKILL) or holds at a chosen point.

A crash is a process that vanishes: no exception handler runs, nothing is marked failed and
the job keeps its lease until it expires (or another run sees its heartbeat connection is
gone). That cannot happen inside pytest, so the tests run the import here, in a child
process, with a listener on the import's checkpoints (user_import_pipeline/checkpoints.py):

- ``--at users_staged`` (``addresses_staged``, ``users_merged``, ``addresses_replaced``,
  ``claimed``, ``succeeded``): right after that phase committed;
- ``--at step:<sql file>``: right before that statement runs, inside its phase's open
  transaction;
- ``--at streaming``: while the users are streamed into staging, right after a progress
  report (every ``IMPORT_CHUNK_SIZE`` rows), inside the staging transaction.

There the child either SIGKILLs itself (``--action kill``) or writes ``<marker>.reached`` and
waits for ``<marker>.release`` (``--action hold``), still holding its lease. The import runs
either as a Dagster run of ``import_users`` on the instance in ``--instance-dir`` (so its
runs can be re-executed afterwards), or as ``user-import run`` (``--via cli``):

    python -m user_import_pipeline_tests.crashing --at users_merged --action kill \\
        --instance-dir DIR '{"source_path": "users.json"}'

The database, base directory and lease come from the environment like in any run
(``DATABASE_URL``, ``IMPORT_BASE_DIR``, ``IMPORT_JOB_LEASE_SECONDS``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from user_import_pipeline import checkpoints
from user_import_pipeline.definitions import defs

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def import_job() -> dg.JobDefinition:
    """The code location's ``import_users`` with its resources (DATABASE_URL, IMPORT_*),
    reconstructable so that ``dg.execute_job`` can run and re-execute it."""
    return defs.resolve_job_def("import_users")


def matches(at: str) -> Callable[[checkpoints.Point], bool]:
    """Whether a checkpoint is the point ``at`` (see the module docstring)."""
    if at.startswith("step:"):
        step = at.removeprefix("step:")
        return lambda point: point.kind == "statement" and point.name == step
    if at == "streaming":
        return lambda point: point.kind == "progress"
    return lambda point: point.kind == "phase" and point.name == at


def hook(at: str, act: Callable[[], None]) -> checkpoints.Listener:
    """A checkpoint listener that calls ``act`` at the point ``at``."""
    is_it = matches(at)

    def listener(point: checkpoints.Point) -> None:
        if is_it(point):
            act()

    return listener


def kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def hold(marker: Path) -> Callable[[], None]:
    def act() -> None:
        marker.with_suffix(".reached").touch()
        release = marker.with_suffix(".release")
        while not release.exists():
            time.sleep(0.05)

    return act


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("config", help="claim_import's config as JSON")
    parser.add_argument("--at", required=True)
    parser.add_argument("--action", choices=("kill", "hold"), default="kill")
    parser.add_argument("--marker", type=Path, help="hold: <marker>.reached / .release")
    parser.add_argument("--instance-dir", help="the Dagster instance (not with --via cli)")
    parser.add_argument("--via", choices=("dagster", "cli"), default="dagster")
    args = parser.parse_args(argv)
    checkpoints.listen(hook(args.at, kill if args.action == "kill" else hold(args.marker)))
    config = json.loads(args.config)
    if args.via == "cli":
        from user_import_pipeline.cli.main import cli

        return int(cli.main(["run", config["source_path"]], standalone_mode=False) or 0)
    # Not this __main__ module: a pointer to it could not be followed by another process.
    from user_import_pipeline_tests.crashing import import_job as importable_job

    with dg.DagsterInstance.from_config(args.instance_dir) as instance:
        result = dg.execute_job(
            dg.reconstructable(importable_job),
            instance,
            run_config={"ops": {"claim_import": {"config": config}}},
        )
    print(json.dumps({"run_id": result.run_id, "success": result.success}))
    return 0 if result.success else 1


@dataclass
class Child:
    """A started child run, seen from the test."""

    process: subprocess.Popen[bytes]
    marker: Path

    def wait_reached(self, timeout: float = 60) -> None:
        """Wait until a holding child has reached its point (and fail if it died first)."""
        deadline = time.monotonic() + timeout
        while not self.marker.with_suffix(".reached").exists():
            if self.process.poll() is not None:
                raise AssertionError(f"child ended before its hold point: {self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError("child did not reach its hold point in time")
            time.sleep(0.05)

    def release(self) -> None:
        self.marker.with_suffix(".release").touch()

    def wait(self, timeout: float = 60) -> int:
        return self.process.wait(timeout)

    def log(self) -> str:
        """Everything the child printed (Dagster's event log goes to stderr)."""
        log = self.marker.with_suffix(".log")
        return log.read_text(errors="replace") if log.exists() else ""

    def output(self) -> str:
        """Exit code and the end of the child's output, for assertion messages."""
        return f"exit {self.process.poll()}\n{self.log()[-4000:]}"

    def stop(self) -> None:
        """Kill the child if it still runs (test teardown)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


def start(
    config: Mapping[str, str],
    *,
    dsn: str,
    base_dir: Path,
    lease_seconds: int,
    at: str,
    instance_dir: str | None = None,
    action: str = "kill",
    marker: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Child:
    """Start a child import with the hook at ``at``: a Dagster run on the instance in
    ``instance_dir``, or ``user-import run`` when there is none. ``env`` adds to the
    environment (e.g. IMPORT_CHUNK_SIZE)."""
    marker = marker or base_dir / "child.marker"
    env = {
        **os.environ,
        **(env or {}),
        "DATABASE_URL": dsn,
        "IMPORT_BASE_DIR": str(base_dir),
        "IMPORT_JOB_LEASE_SECONDS": str(lease_seconds),
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])
        ),
    }
    command = [sys.executable, "-m", "user_import_pipeline_tests.crashing", json.dumps(config)]
    command += ["--at", at, "--action", action, "--marker", str(marker)]
    if instance_dir is None:
        command += ["--via", "cli"]
        env.pop("DAGSTER_HOME", None)
    else:
        command += ["--instance-dir", instance_dir]
    # Output to a file, not a pipe: a child that holds must never block on a full pipe.
    with open(marker.with_suffix(".log"), "wb") as log:
        process = subprocess.Popen(
            command, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    return Child(process, marker)


if __name__ == "__main__":
    sys.exit(main())
