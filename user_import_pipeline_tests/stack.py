"""A real Dagster deployment for end-to-end tests: webserver and daemon as separate processes.

``dagster_stack(...)`` gives each test module (or test) its own databases (the import
database, migrated, and Dagster's storage), its own ``DAGSTER_HOME`` holding a copy of the
repository's ``dagster.yaml`` and its own ``IMPORT_BASE_DIR``, then starts
``dagster-webserver`` and ``dagster-daemon`` on 127.0.0.1 from the repository root, exactly
as a user starts them. Tests submit through the webserver's GraphQL API and read run
statuses from a ``DagsterInstance`` on the same storage. Everything is stopped and dropped
in ``finally``; the processes' output goes to log files whose tails are shown on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import dagster as dg
import psycopg
import requests
import yaml
from dagster_graphql import DagsterGraphQLClient
from psycopg import conninfo
from psycopg.rows import dict_row

from user_import_pipeline.db.client import Database
from user_import_pipeline.db.migrate import migrate
from user_import_pipeline.generate import generate_users
from user_import_pipeline_tests.conftest import create_database, drop_database

REPO = Path(__file__).resolve().parents[1]
# By its absolute path, so that the processes may run in another folder: the code location
# is a module of the installed package, found from any working directory.
WORKSPACE = REPO / "workspace.yaml"
BIN = Path(sys.executable).parent
LOCATION = "user_import_pipeline"
JOB = "import_users"
ACTIVE = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
FINISHED = {
    dg.DagsterRunStatus.SUCCESS,
    dg.DagsterRunStatus.FAILURE,
    dg.DagsterRunStatus.CANCELED,
}
END_EVENTS = {
    dg.DagsterEventType.RUN_SUCCESS,
    dg.DagsterEventType.RUN_FAILURE,
    dg.DagsterEventType.RUN_CANCELED,
}

T = TypeVar("T")

# Stacks currently up, so that a failing test can show their logs (see e2e/conftest.py).
LIVE: list[Stack] = []


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def psycopg2_url(dsn: str) -> str:
    """The ``postgresql+psycopg2://`` URL Dagster's storage needs for a psycopg DSN."""
    params = conninfo.conninfo_to_dict(dsn)
    user = quote(str(params.get("user") or "postgres"), safe="")
    password = params.get("password")
    auth = f"{user}:{quote(str(password), safe='')}" if password else user
    host = params.get("host") or "127.0.0.1"
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql+psycopg2://{auth}@{host}{port}/{params['dbname']}"


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables of this process for a while."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def wait_until(
    check: Callable[[], T | None],
    *,
    timeout: float,
    what: str | Callable[[], str],
    interval: float = 0.5,
) -> T:
    """Poll ``check`` until it returns something truthy; fail saying ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {detail}")
        time.sleep(interval)


def tag_prefix(tag: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", tag).strip("-")


def users_json(count: int, seed: int, tag: str) -> bytes:
    """``generate_users(count, seed=seed)`` with ids and emails made unique to ``tag``.

    Generated files of the same size share external ids (``ext-0000001``...), so two of
    them would update each other's users; tests that share a database use a tag per file
    so that each file's users are new to it and every one is counted ``imported``.
    """
    prefix = tag_prefix(tag)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "users.json"
        generate_users(path, count, seed=seed)
        users = json.loads(path.read_bytes())
    for user in users:
        if user.get("id") not in (None, ""):
            user["id"] = f"{prefix}-{user['id']}"
        user["email"] = f"{prefix}.{user['email']}"
    return json.dumps(users, ensure_ascii=False).encode()


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass
class Stack:
    """One deployment: two databases, a DAGSTER_HOME, a base directory and two processes."""

    root: Path
    server_url: str
    import_workers: str | None = None
    lease_seconds: int | None = None
    instance_overrides: Mapping[str, Any] = field(default_factory=dict)
    # IMPORT_BASE_DIR when it is not the local base_dir (an s3:// URL), more variables for
    # the processes (e.g. AWS_*), and their working directory (default the repository).
    import_base_dir: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    workdir: Path = REPO
    port: int = 0
    dsn: str = ""
    dagster_dsn: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _instance: dg.DagsterInstance | None = None

    @property
    def home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def base_dir(self) -> Path:
        return self.root / "files"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment of every process of this deployment (and of CLI calls to it)."""
        env = {
            **os.environ,
            "DATABASE_URL": self.dsn,
            "DAGSTER_PG_URL": psycopg2_url(self.dagster_dsn),
            "DAGSTER_HOME": str(self.home),
            "IMPORT_BASE_DIR": self.import_base_dir or str(self.base_dir),
            "DAGSTER_DISABLE_TELEMETRY": "1",
            "PYTHONUNBUFFERED": "1",
            # The daemon's StartRun call waits until the run worker has loaded the code;
            # ten of them starting together on a busy 2-CPU machine can take longer than
            # Dagster's default 60 s, and the run is then failed at launch (and retried).
            "DAGSTER_GRPC_TIMEOUT_SECONDS": "180",
            **self.extra_env,
        }
        env.pop("IMPORT_WORKERS", None)
        env.pop("IMPORT_JOB_LEASE_SECONDS", None)
        if self.import_workers is not None:
            env["IMPORT_WORKERS"] = self.import_workers
        if self.lease_seconds is not None:
            env["IMPORT_JOB_LEASE_SECONDS"] = str(self.lease_seconds)
        return env

    # --- life cycle -------------------------------------------------------------------

    def prepare(self) -> None:
        """Databases, DAGSTER_HOME and base directory; Dagster's tables created up front so
        the two processes do not race to create them."""
        self.dsn = create_database(self.server_url)
        self.dagster_dsn = create_database(self.server_url)
        migrate(Database(self.dsn))
        self.home.mkdir(parents=True, exist_ok=True)
        if self.import_base_dir is None:
            (self.base_dir / "incoming").mkdir(parents=True, exist_ok=True)
        config = yaml.safe_load((REPO / "dagster.yaml").read_text())
        config = _deep_merge(config, self.instance_overrides)
        (self.home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        self.instance.get_runs(limit=1)

    def start(self, timeout: float = 180) -> None:
        """Start webserver and daemon; return once both serve (code location loaded, every
        daemon heartbeating)."""
        self.port = free_port()
        LIVE.append(self)
        self._spawn(
            "webserver",
            [
                str(BIN / "dagster-webserver"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-w",
                str(WORKSPACE),
            ],
        )
        self._spawn("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(WORKSPACE)])
        started = time.monotonic()
        wait_until(
            self._location_loaded,
            timeout=timeout,
            what=lambda: f"the webserver on {self.url} to load {LOCATION}",
        )
        wait_until(
            self._daemons_healthy,
            timeout=max(10.0, timeout - (time.monotonic() - started)),
            what=lambda: f"every daemon to heartbeat: {self._daemon_summary()}",
        )

    def stop(self) -> None:
        """SIGTERM each process group (daemon first, so nothing new launches), then SIGKILL."""
        for name in ("daemon", "webserver"):
            process = self.processes.get(name)
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for name in ("daemon", "webserver"):
            process = self.processes.pop(name, None)
            if process is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            # Code servers and run workers are in the same group; make sure none survives.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        if self in LIVE:
            LIVE.remove(self)

    def close(self) -> None:
        """Stop the processes and drop both databases."""
        try:
            self.stop()
        finally:
            if self._instance is not None:
                with contextlib.suppress(Exception):
                    self._instance.dispose()
                self._instance = None
            try:
                if self.dsn:
                    drop_database(self.server_url, self.dsn)
            finally:
                if self.dagster_dsn:
                    drop_database(self.server_url, self.dagster_dsn)

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.root / f"{name}.log").open("ab")
        try:
            self.processes[name] = subprocess.Popen(
                command,
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(f"dagster {name} exited with {process.returncode}")

    def _location_loaded(self) -> bool:
        self._check_alive()
        query = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
            name loadStatus locationOrLoadError { __typename
              ... on PythonError { message } } } } } }"""
        try:
            data = self.graphql(query)
        except (requests.RequestException, AssertionError):
            return False
        entries = data["workspaceOrError"].get("locationEntries", [])
        for entry in entries:
            loaded = entry["locationOrLoadError"] or {}
            if loaded.get("__typename") == "PythonError":
                raise AssertionError(f"{LOCATION} failed to load: {loaded['message']}")
        return any(
            entry["name"] == LOCATION
            and entry["loadStatus"] == "LOADED"
            and (entry["locationOrLoadError"] or {}).get("__typename") == "RepositoryLocation"
            for entry in entries
        )

    def _daemons_healthy(self) -> bool:
        self._check_alive()
        with patched_environ(self._instance_env()):
            statuses = self.instance.get_daemon_statuses()
        return bool(statuses) and all(status.healthy for status in statuses.values())

    def _daemon_summary(self) -> str:
        with patched_environ(self._instance_env()):
            statuses = self.instance.get_daemon_statuses()
        return ", ".join(f"{name}={status.healthy}" for name, status in statuses.items())

    # --- logs -------------------------------------------------------------------------

    def log_tails(self, lines: int = 60) -> str:
        parts = []
        for name in ("webserver", "daemon"):
            path = self.root / f"{name}.log"
            text = path.read_text(errors="replace") if path.exists() else "(no log)"
            tail = "\n".join(text.splitlines()[-lines:])
            parts.append(f"----- last {lines} lines of {path} -----\n{tail}")
        return "\n".join(parts)

    # --- Dagster ----------------------------------------------------------------------

    def _instance_env(self) -> dict[str, str | None]:
        env = self.env
        keys = ("DAGSTER_PG_URL", "DAGSTER_HOME", "IMPORT_WORKERS", "DATABASE_URL")
        return {key: env.get(key) for key in keys}

    @property
    def instance(self) -> dg.DagsterInstance:
        """The deployment's instance, loaded from its DAGSTER_HOME in this process."""
        if self._instance is None:
            with patched_environ(self._instance_env()):
                instance = dg.DagsterInstance.from_config(str(self.home))
                # Components are built lazily; build them while the variables are set.
                instance.get_required_daemon_types()
            self._instance = instance
        return self._instance

    def client(self) -> DagsterGraphQLClient:
        return DagsterGraphQLClient("127.0.0.1", port_number=self.port, timeout=60)

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = requests.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=30
        )
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors: {body['errors']}")
        return body["data"]

    def submit(self, source_path: str, **tags: str) -> str:
        """Submit an import of ``source_path`` through GraphQL, tagged as every launcher
        tags it; returns the run id (the run is QUEUED)."""
        return self.client().submit_job_execution(
            JOB,
            run_config={"ops": {"claim_import": {"config": {"source_path": source_path}}}},
            tags={"import_file": source_path, **tags},
        )

    def runs(self, **tags: str) -> list[dg.DagsterRun]:
        filters = dg.RunsFilter(tags=tags) if tags else None
        return list(self.instance.get_runs(filters=filters))

    def run(self, run_id: str) -> dg.DagsterRun:
        run = self.instance.get_run_by_id(run_id)
        assert run is not None, f"run {run_id} does not exist"
        return run

    def created_at(self, run_id: str) -> float:
        record = self.instance.get_run_record_by_id(run_id)
        assert record is not None, f"run {run_id} does not exist"
        return record.create_timestamp.timestamp()

    def wait_for_runs(self, run_ids: list[str], timeout: float = 180) -> list[dg.DagsterRun]:
        """Wait until every run has finished; returns them in the order given."""

        def finished() -> list[dg.DagsterRun] | None:
            self._check_alive()
            # One query for all of them: the benchmark's waits share the two cores with
            # the runs they time.
            found = {run.run_id: run for run in self.instance.get_runs(dg.RunsFilter(run_ids))}
            runs = [found[run_id] for run_id in run_ids if run_id in found]
            done = len(runs) == len(run_ids) and all(run.status in FINISHED for run in runs)
            return runs if done else None

        def pending() -> str:
            states = {run_id[:8]: self.run(run_id).status.value for run_id in run_ids}
            return f"runs to finish: {states}"

        return wait_until(finished, timeout=timeout, what=pending)

    def failure_messages(self, run_id: str, last: int = 15) -> str:
        """What happened to a run that went wrong: its failure, error and engine events (with
        their error), for assertion messages."""
        messages = []
        for entry in self.instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                if isinstance(entry.level, int) and entry.level >= 40:
                    messages.append(entry.user_message)
                continue
            if event.is_failure or event.event_type == dg.DagsterEventType.ENGINE_EVENT:
                text = f"{event.event_type_value}: {event.message}"
                error = getattr(event.event_specific_data, "error", None)
                if error is not None:
                    text += f"\n    {error.to_string().strip()[-1500:]}"
                messages.append(text)
        return "\n".join(messages[-last:]) or "(no failure events)"

    def run_span(self, run_id: str) -> tuple[float, float]:
        """When the run held a slot of the queue: its RUN_STARTING and its end event."""
        start = end = None
        for entry in self.instance.all_logs(run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type == dg.DagsterEventType.RUN_STARTING and start is None:
                start = entry.timestamp
            elif event.event_type == dg.DagsterEventType.RUN_START and start is None:
                start = entry.timestamp  # `dagster job execute` skips STARTING
            elif event.event_type in END_EVENTS:
                end = entry.timestamp
        assert start is not None and end is not None, f"run {run_id} has no start or end event"
        return start, end

    def active_run_count(self) -> int:
        return self.instance.get_runs_count(filters=dg.RunsFilter(statuses=ACTIVE))

    def sensor_ticks(self, sensor: str) -> list[dict[str, Any]]:
        """The sensor's recent ticks, newest first (timestamp, status, run ids)."""
        query = """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) {
            __typename ... on Sensor { sensorState { ticks(limit: 50) {
              timestamp status runIds skipReason error { message } } } } } }"""
        selector = {
            "repositoryLocationName": LOCATION,
            "repositoryName": "__repository__",
            "sensorName": sensor,
        }
        data = self.graphql(query, {"s": selector})["sensorOrError"]
        assert data["__typename"] == "Sensor", data
        return data["sensorState"]["ticks"]

    def wait_for_ticks(self, sensor: str, count: int, after: float, timeout: float = 90) -> None:
        """Wait until ``count`` ticks of the sensor have completed after time ``after``."""

        def enough() -> bool:
            self._check_alive()
            done = [
                tick
                for tick in self.sensor_ticks(sensor)
                if tick["timestamp"] > after and tick["status"] != "STARTED"
            ]
            return len(done) >= count

        wait_until(enough, timeout=timeout, what=f"{count} ticks of {sensor}", interval=1)

    # --- files and the import database --------------------------------------------------

    def write_users(self, source_path: str, count: int, seed: int, tag: str | None = None) -> Path:
        """A file of ``count`` valid users under the base directory, appearing complete at once
        (see ``users_json``); returns its path."""
        path = self.base_dir / source_path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(users_json(count, seed, tag or source_path))
        os.replace(tmp, path)
        return path

    def import_jobs(self, *source_paths: str) -> list[dict[str, Any]]:
        """The import_jobs rows of these source paths, oldest first."""
        with psycopg.connect(self.dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                "SELECT * FROM import_jobs WHERE source_path = ANY(%s) ORDER BY created_at",
                (list(source_paths),),
            ).fetchall()

    def job_of_run(self, run_id: str) -> dict[str, Any] | None:
        with psycopg.connect(self.dsn) as conn, conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(
                "SELECT * FROM import_jobs WHERE dagster_run_id = %s", (run_id,)
            ).fetchone()

    def users_tagged(self, tag: str) -> int:
        """How many users came from files written with ``tag`` (see ``users_json``)."""
        prefix = tag_prefix(tag)
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(
                "SELECT count(*) FROM users WHERE email LIKE %s", (f"{prefix}.%",)
            ).fetchone()
        assert row is not None
        return int(row[0])


@contextlib.contextmanager
def dagster_stack(
    server_url: str,
    root: Path,
    *,
    import_workers: str | None = None,
    lease_seconds: int | None = None,
    instance_overrides: Mapping[str, Any] | None = None,
    before_start: Callable[[Stack], None] | None = None,
    import_base_dir: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    workdir: Path = REPO,
) -> Iterator[Stack]:
    """A running deployment for the duration of the ``with`` block, torn down after.

    ``before_start`` runs once the databases and folders exist but before any Dagster
    process does (e.g. to queue an import job while Dagster is down). ``import_base_dir``,
    ``extra_env`` and ``workdir``: see ``Stack``.
    """
    stack = Stack(
        root=root,
        server_url=server_url,
        import_workers=import_workers,
        lease_seconds=lease_seconds,
        instance_overrides=instance_overrides or {},
        import_base_dir=import_base_dir,
        extra_env=extra_env or {},
        workdir=workdir,
    )
    try:
        stack.prepare()
        if before_start is not None:
            before_start(stack)
        stack.start()
        yield stack
    except Exception:
        # Shown with the failing test's captured output.
        print(stack.log_tails())
        raise
    finally:
        stack.close()
