"""Commands that only read never change the schema: ``user-import status`` and ``errors`` on
a database that was never migrated say so and leave it as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

CLI = str(Path(sys.executable).with_name("user-import"))


@pytest.mark.parametrize("command", [["status"], ["errors", "--format", "csv"]])
def test_a_read_on_an_unmigrated_database_says_so_and_migrates_nothing(
    empty_dsn: str, command: list[str]
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": empty_dsn,
        # Set, so that the CLI does not create a Dagster database nobody drops.
        "DAGSTER_PG_URL": "postgresql+psycopg2://unused@127.0.0.1:1/unused",
    }
    shown = subprocess.run(
        [CLI, *command, str(uuid.uuid4())], env=env, capture_output=True, text=True, timeout=120
    )
    assert shown.returncode == 2, shown.stdout + shown.stderr
    assert "run `user-import migrate`" in shown.stderr
    with psycopg.connect(empty_dsn) as conn:
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchall() == []
