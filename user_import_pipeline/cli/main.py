"""The ``user-import`` command line."""

import gc
import importlib

import click

# Command name -> the module of user_import_pipeline.cli that defines it under that name.
COMMANDS = {
    "api": "api_cmd",
    "dagster": "dagster_cmd",
    "db": "db_cmd",
    "dg": "dagster_cmd",
    "errors": "errors_cmd",
    "generate": "generate_cmd",
    "migrate": "db_cmd",
    "run": "run_cmd",
    "status": "submit_cmd",
    "submit": "submit_cmd",
}


class _Commands(click.Group):
    """Imports a command's module only when that command is used: most commands need
    neither Dagster nor the HTTP API's packages, and importing every module would add about
    half a second to each call of any of them."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = getattr(importlib.import_module(f"user_import_pipeline.cli.{module}"), cmd_name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_Commands)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Import users and addresses from JSON files into PostgreSQL."""
    # Python's shutdown runs a full collection over every object still alive: with Dagster
    # loaded, 0.6-0.8 s of a 3 s `user-import run` here, spent on objects the exit frees
    # anyway. Frozen, they are left out of it; the command's files are closed by then.
    ctx.call_on_close(gc.freeze)
