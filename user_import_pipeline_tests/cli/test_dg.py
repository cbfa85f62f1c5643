"""``user-import dg``: Dagster's dg CLI with the environment prepared, reading the project
from ``[tool.dg]`` in pyproject.toml."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from user_import_pipeline_tests.s3_server import S3Server

CLI = str(Path(sys.executable).with_name("user-import"))
REPO = Path(__file__).resolve().parents[2]


def dg_check_defs(settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``user-import dg check defs`` from the repository, with ``settings`` in its
    environment and no Dagster instance or virtualenv of the caller's."""
    env = {**os.environ, **settings}
    for name in ("DAGSTER_HOME", "DAGSTER_PG_URL", "VIRTUAL_ENV"):
        env.pop(name, None)
    return subprocess.run(
        [CLI, "dg", "check", "defs"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_dg_check_defs_loads_the_code_location_without_warnings(dsn: str) -> None:
    checked = dg_check_defs({"DATABASE_URL": dsn})
    output = checked.stdout + checked.stderr
    assert checked.returncode == 0, output
    assert "All definitions loaded successfully" in output
    assert "Warning" not in output, output


def test_dg_with_an_s3_base_starts_without_a_folder_to_make(dsn: str, s3: S3Server) -> None:
    """The incoming folder is made for a local base only: an S3 prefix has no folders."""
    base = s3.new_prefix("imports/")
    checked = dg_check_defs({**s3.env, "DATABASE_URL": dsn, "IMPORT_BASE_DIR": str(base)})
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert not (REPO / "s3:").exists()
