"""``user-import db`` and ``user-import migrate``: the database behind every command."""

from __future__ import annotations

import click

from user_import_pipeline import environment
from user_import_pipeline.db.client import Database
from user_import_pipeline.db.embedded import EmbeddedServer
from user_import_pipeline.db.migrate import migrate as apply_migrations


@click.command()
def migrate() -> None:
    """Apply pending SQL migrations (safe to run twice, or twice at once)."""
    applied = apply_migrations(Database(environment.prepare()))
    click.echo(f"applied {', '.join(applied)}" if applied else "schema up to date")


@click.group()
def db() -> None:
    """Manage the embedded PostgreSQL used when DATABASE_URL is unset."""


@db.command()
def start() -> None:
    """Start the embedded server, or reuse the running one."""
    server = EmbeddedServer.from_settings()
    was_running = server.is_running()
    server.start()
    click.echo(f"{'already running' if was_running else 'started'}: {server.url()}")


@db.command()
def stop() -> None:
    """Stop the embedded server."""
    stopped = EmbeddedServer.from_settings().stop()
    click.echo("stopped" if stopped else "not running")


@db.command()
def status() -> None:
    """Exit 0 when the embedded server runs, 3 when it does not."""
    server = EmbeddedServer.from_settings()
    running = server.is_running()
    click.echo(f"running: {server.url()}" if running else "not running")
    raise SystemExit(0 if running else 3)


@db.command()
def url() -> None:
    """Print DATABASE_URL as commands will use it (starting the embedded server if needed)."""
    click.echo(environment.prepare())
