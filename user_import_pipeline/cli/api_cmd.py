"""``user-import api``: the HTTP API (CONTRACT §6.4) served by uvicorn."""

from __future__ import annotations

import logging

import click

from user_import_pipeline import environment, settings
from user_import_pipeline.db.client import Database
from user_import_pipeline.db.migrate import migrate


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    envvar="PORT",
    default=8080,
    show_default="$PORT or 8080",
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
def api(host: str, port: int) -> None:
    """Serve the HTTP API: queue imports, read jobs, their failed rows and users, /healthz,
    /metrics.

    Files are resolved in IMPORT_BASE_DIR (default: the current folder); runs are launched
    through the Dagster webserver at DAGSTER_WEBSERVER_URL (default http://127.0.0.1:3000).
    """
    import uvicorn

    from user_import_pipeline.api.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    dsn = environment.prepare()
    migrate(Database(dsn))
    try:
        app = create_app(dsn, settings.base_dir(), settings.dagster_webserver_url())
    except ValueError as exc:
        raise click.UsageError(f"DAGSTER_WEBSERVER_URL: {exc}") from exc
    uvicorn.run(app, host=host, port=port, server_header=False, log_level="info")
