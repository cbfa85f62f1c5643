"""``user-import dg``: Dagster's dg CLI with the environment prepared, reading the project
from ``[tool.dg]`` in pyproject.toml."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = str(Path(sys.executable).with_name("user-import"))
REPO = Path(__file__).resolve().parents[2]


def test_dg_check_defs_loads_the_code_location_without_warnings(dsn: str) -> None:
    env = {**os.environ, "DATABASE_URL": dsn}
    for name in ("DAGSTER_HOME", "DAGSTER_PG_URL", "VIRTUAL_ENV"):
        env.pop(name, None)
    checked = subprocess.run(
        [CLI, "dg", "check", "defs"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = checked.stdout + checked.stderr
    assert checked.returncode == 0, output
    assert "All definitions loaded successfully" in output
    assert "Warning" not in output, output
