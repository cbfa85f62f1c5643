"""Run workers started warm: forked from a process that has imported Dagster already.

Dagster's default launcher asks the code server to start a run, and the code server
spawns a new interpreter for it, which imports Dagster, SQLAlchemy, dagster-postgres and
the code location before the first op: about two seconds of CPU per run. Ten runs taken
from the queue together spend twenty CPU-seconds on two cores before any of them reads a
row. This launcher starts the same run worker (Dagster's ``start_run_in_subprocess``, the
function the code server runs) in a process forked from a server that imported those
libraries once (multiprocessing's forkserver). The code location is not preloaded: each
run worker imports it, so a location reloaded in the UI runs its new code.

Runs whose code server uses another Python than the daemon (a workspace entry with its own
``executable_path``) are started by the code server, as Dagster does.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import dagster as dg
from dagster._core.errors import DagsterLaunchFailedError
from dagster._core.launcher import LaunchRunContext
from dagster._grpc.impl import IPCErrorMessage, StartRunInSubprocessSuccessful
from dagster._grpc.impl import start_run_in_subprocess as run_worker
from dagster._grpc.types import ExecuteExternalJobArgs
from dagster._grpc.utils import default_grpc_timeout
from dagster._serdes import serialize_value
from dagster._utils import get_run_crash_explanation
from dagster._utils.hosted_user_process import recon_job_from_origin

if TYPE_CHECKING:  # only a type: Dagster exports the launcher, not its config record
    from multiprocessing.context import ForkServerProcess
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Event

    from dagster._serdes import ConfigurableClassData

_log = logging.getLogger(__name__)

# Which run worker a run has, for terminating it from another process (the webserver).
WORKER_TAG = "user_import/run_worker"

# What every run imports, imported once by the fork server. Not the code location.
PRELOADED = (
    "dagster",
    "dagster._grpc.impl",
    "dagster._core.execution.api",
    "dagster._core.executor.in_process",
    "dagster_postgres",
    "sqlalchemy",
    "psycopg",
    "ijson",
)

STARTED_POLL_SECONDS = 0.05
# How often a dead worker is looked for: the code server's own interval.
WATCH_SECONDS = 0.5


@dataclass
class _Worker:
    process: ForkServerProcess
    events: Queue[Any]
    stop: Event


class ForkedRunLauncher(dg.DefaultRunLauncher):
    """Dagster's default launcher, with run workers forked from a warm process."""

    def __init__(self, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(inst_data=inst_data)
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(PRELOADED))
        # The daemon launches from several threads at once.
        self._lock = threading.Lock()
        self._workers: dict[str, _Worker] = {}
        self._watcher: threading.Thread | None = None

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> Self:
        return cls(inst_data=inst_data)

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        origin = run.job_code_origin
        if origin is None or origin.executable_path != sys.executable:
            super().launch_run(context)
            return
        self._start_watching()
        args = ExecuteExternalJobArgs(
            job_origin=run.remote_job_origin,  # type: ignore[arg-type]
            run_id=run.run_id,
            instance_ref=self._instance.get_ref(),
        )
        events, stop = self._context.Queue(), self._context.Event()
        process = self._context.Process(
            target=run_worker,
            args=[serialize_value(args), recon_job_from_origin(origin), events, stop],
            name=f"run worker {run.run_id}",
        )
        worker = _Worker(process, events, stop)
        process.start()
        with self._lock:
            self._workers[run.run_id] = worker
            self._run_ids.add(run.run_id)
        self._instance.add_run_tags(
            run.run_id,
            {WORKER_TAG: json.dumps({"host": socket.gethostname(), "pid": process.pid})},
        )
        self._wait_until_started(run.run_id, worker)

    def _start_watching(self) -> None:
        with self._lock:
            if self._watcher is None:
                self._watcher = threading.Thread(
                    target=self._watch_workers, name="run worker watch", daemon=True
                )
                self._watcher.start()

    def _wait_until_started(self, run_id: str, worker: _Worker) -> None:
        """Return once the worker runs the run (it has loaded the run and its instance);
        raise, as the code server would answer, if it failed to, died or took too long."""
        # The deadline the daemon gives a code server to start a run: the variable
        # DAGSTER_GRPC_TIMEOUT_SECONDS, 180 s in our deployments (ten workers loading at once
        # on two busy cores).
        timeout = default_grpc_timeout()
        deadline = time.monotonic() + timeout
        while True:
            if not worker.events.empty():
                message = worker.events.get()
                if isinstance(message, StartRunInSubprocessSuccessful):
                    return
                if isinstance(message, IPCErrorMessage):
                    raise DagsterLaunchFailedError(
                        message.message, serializable_error_info=message.serializable_error_info
                    )
            elif not worker.process.is_alive():
                raise DagsterLaunchFailedError(
                    f"the run worker of {run_id} exited with {worker.process.exitcode} "
                    "before it started the run"
                )
            elif time.monotonic() > deadline:
                worker.process.kill()
                raise DagsterLaunchFailedError(
                    f"the run worker of {run_id} did not start the run within {timeout} s"
                )
            else:
                time.sleep(STARTED_POLL_SECONDS)

    def _watch_workers(self) -> None:
        """Report the run of a worker that died without finishing it failed, as the code
        server does for the workers it spawns (Dagster's run retry then resumes it). A
        worker whose run cannot be reported now (the database away) is tried again."""
        while True:
            time.sleep(WATCH_SECONDS)
            with self._lock:
                dead = {r: w for r, w in self._workers.items() if not w.process.is_alive()}
            for run_id, worker in dead.items():
                try:
                    self._report_if_unfinished(run_id, worker)
                except Exception:
                    _log.exception("could not report the run of dead worker %s", run_id)
                    continue
                with self._lock:
                    del self._workers[run_id]

    def _report_if_unfinished(self, run_id: str, worker: _Worker) -> None:
        worker.process.join()
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return
        explanation = get_run_crash_explanation(
            prefix=f"Run execution process for {run_id}", exit_code=worker.process.exitcode or 0
        )
        self._instance.report_engine_event(explanation, run, cls=type(self))
        self._instance.report_run_failed(run)

    def terminate(self, run_id: str) -> bool:
        """Interrupt the run's worker as the code server would (SIGINT, which Dagster turns
        into a cancelled run); from a process other than the launching one, by its pid."""
        run = self._instance.get_run_by_id(run_id)
        if run is None or WORKER_TAG not in run.tags:
            return super().terminate(run_id)
        if run.is_finished:
            return False
        worker = json.loads(run.tags[WORKER_TAG])
        if worker["host"] != socket.gethostname():
            return False
        self._instance.report_run_canceling(run)
        with self._lock:
            launched_here = self._workers.get(run_id)
        if launched_here is not None:
            launched_here.stop.set()
            return True
        pid = int(worker["pid"])
        if not _forked_by_a_fork_server(pid):
            return False
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            return False
        return True


def _forked_by_a_fork_server(pid: int) -> bool:
    """Whether ``pid`` is still a process forked by a fork server, not another process
    that took the pid of a worker gone unnoticed; assumed where there is no /proc."""
    try:
        return b"multiprocessing.forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()
