"""Where each process finds PostgreSQL and the Dagster instance.

With ``DATABASE_URL`` set, that server is used as it is. Without it, the embedded server
is started (or reused) and ``DATABASE_URL`` is exported so that every child process -
Dagster daemon, webserver, code servers, run workers - reaches the same database.
Dagster's own storage lives in a database next to ours (``<db>_dagster``) unless
``DAGSTER_PG_URL`` says otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote, urlencode

from psycopg import conninfo

from user_import_pipeline import settings
from user_import_pipeline.db.client import Database
from user_import_pipeline.db.embedded import EmbeddedServer
from user_import_pipeline.db.errors import TerminalDatabaseError


def prepare() -> str:
    """Make sure both databases exist and the environment names them, for this process and
    every process it starts; returns DATABASE_URL."""
    url = settings.database_url()
    if url is None:
        server = EmbeddedServer.from_settings()
        server.start()
        url = server.url()
        os.environ["DATABASE_URL"] = url
    ensure_database(url)
    if settings.dagster_pg_url() is None:
        dagster_url = with_database(url, f"{_database_name(url)}_dagster")
        ensure_database(dagster_url)
        os.environ["DAGSTER_PG_URL"] = dagster_url.replace(
            "postgresql://", "postgresql+psycopg2://", 1
        )
    if settings.dagster_home() is None and Path("dagster.yaml").exists():
        os.environ["DAGSTER_HOME"] = str(Path.cwd())
    # Resolved once, here: Dagster's processes (daemon, code servers, run workers) may run
    # in other folders and must all find the files in the same place.
    os.environ["IMPORT_BASE_DIR"] = str(settings.base_dir())
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    # Ten run workers starting at once on a small host can take longer than Dagster's
    # default 60 s gRPC deadline for StartRun, which fails the run before it begins.
    os.environ.setdefault("DAGSTER_GRPC_TIMEOUT_SECONDS", "180")
    return url


def ensure_database(url: str) -> None:
    """Create the database named in ``url`` when it does not exist yet."""
    try:
        with Database(url, connect_timeout=10).session():
            return
    except TerminalDatabaseError as exc:
        if "does not exist" not in str(exc):
            raise
    maintenance = Database(with_database(url, "postgres"))
    with maintenance.session() as session:
        try:
            session.execute("create_database", database=_database_name(url))
        except TerminalDatabaseError as exc:
            if "DuplicateDatabase" not in str(exc):  # another process was first: fine
                raise


def _database_name(url: str) -> str:
    return str(conninfo.conninfo_to_dict(url).get("dbname") or "postgres")


def with_database(url: str, database: str) -> str:
    params = conninfo.conninfo_to_dict(url)
    params["dbname"] = database
    return _to_url(params)


def _to_url(params: Mapping[str, object]) -> str:
    # Dagster's storage takes URLs only, so rebuild one rather than a key=value string.
    user = quote(str(params.get("user", "")), safe="")
    password = params.get("password")
    auth = f"{user}:{quote(str(password), safe='')}@" if password else (f"{user}@" if user else "")
    host = params.get("host", "")
    port = params.get("port")
    address = f"{host}:{port}" if port else str(host)
    extras = {
        key: value
        for key, value in params.items()
        if key not in {"user", "password", "host", "port", "dbname"}
    }
    query = urlencode(extras)
    return f"postgresql://{auth}{address}/{params['dbname']}" + (f"?{query}" if query else "")
