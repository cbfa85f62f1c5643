"""The ``user-import`` console script, run as a user runs it: a separate process."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from user_import_pipeline_tests.conftest import create_database, drop_database

CLI = str(Path(sys.executable).with_name("user-import"))
REPO = Path(__file__).resolve().parents[2]


def _run(
    args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def cli_env(server_url: str, dsn: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """DATABASE_URL on this module's database and a Dagster instance of the test's own."""
    dagster_dsn = create_database(server_url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    base = tmp_path / "files"
    base.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "DAGSTER_PG_URL": _psycopg2_url(dagster_dsn),
        "DAGSTER_HOME": str(home),
        "IMPORT_BASE_DIR": str(base),
    }
    yield env
    drop_database(server_url, dagster_dsn)


def _psycopg2_url(dsn: str) -> str:
    from psycopg import conninfo

    p = conninfo.conninfo_to_dict(dsn)
    port = f":{p['port']}" if p.get("port") else ""
    return f"postgresql+psycopg2://{p.get('user', 'postgres')}@{p['host']}{port}/{p['dbname']}"


@pytest.mark.slow
def test_run_prints_the_job_as_json_on_the_last_line_and_exits_0(cli_env: dict[str, str]) -> None:
    base = Path(cli_env["IMPORT_BASE_DIR"])
    generated = _run(["generate", "200", "--out", str(base / "u.json"), "--seed", "3"], cli_env)
    assert generated.returncode == 0, generated.stderr
    done = _run(["run", "u.json"], cli_env)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded"
    assert summary["imported_count"] == 200
    assert summary["progress_processed"] == 200
    assert set(summary) >= {"job_id", "updated_count", "unchanged_count", "skipped_count"}
    assert set(summary) >= {"failed_count", "error_message"}


@pytest.mark.slow
def test_run_of_a_bad_file_exits_1_with_the_error(cli_env: dict[str, str]) -> None:
    (Path(cli_env["IMPORT_BASE_DIR"]) / "bad.json").write_text('[{"name": "x"')
    done = _run(["run", "bad.json"], cli_env)
    assert done.returncode == 1
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["status"] == "failed"
    assert "truncated" in summary["error_message"]


def test_migrate_twice_reports_up_to_date(cli_env: dict[str, str]) -> None:
    first = _run(["migrate"], cli_env)
    assert first.returncode == 0, first.stderr
    second = _run(["migrate"], cli_env)
    assert second.stdout.strip() == "schema up to date"


@pytest.mark.slow
def test_db_start_twice_reuses_the_server_and_stop_stops_it(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DAGSTER_PG_URL"}
    }
    env["EMBEDDED_PG_DIR"] = str(tmp_path / "pg")
    env["EMBEDDED_PG_PORT"] = "23999"
    try:
        first = _run(["db", "start"], env)
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith("started")
        second = _run(["db", "start"], env)
        assert second.stdout.startswith("already running")
        assert _run(["db", "status"], env).returncode == 0
        # A command with no DATABASE_URL works against it.
        migrated = _run(["migrate"], env)
        assert migrated.returncode == 0, migrated.stderr
        assert "applied" in migrated.stdout
        url = _run(["db", "url"], env).stdout.strip()
        assert url == "postgresql://postgres@127.0.0.1:23999/user_import"
    finally:
        stopped = _run(["db", "stop"], env)
    assert stopped.stdout.strip() == "stopped"
    assert _run(["db", "status"], env).returncode == 3


@pytest.mark.slow
def test_dagster_definitions_validate_passes_through_user_import_dagster(
    cli_env: dict[str, str],
) -> None:
    # PATH without the venv: `user-import dagster` must find its own dagster script.
    env = {**cli_env, "PATH": "/usr/bin:/bin"}
    done = _run(["dagster", "definitions", "validate", "-w", "workspace.yaml"], env, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful" in done.stdout + done.stderr


def test_every_command_is_listed_and_a_command_imports_only_what_it_needs(
    tmp_path: Path,
) -> None:
    # Each command's module is imported when the command is used: `generate` must not pay
    # for Dagster, the HTTP API or boto3, and every listed command must still resolve.
    script = """
import sys
from click.testing import CliRunner
from user_import_pipeline.cli.main import COMMANDS, cli

done = CliRunner().invoke(cli, ["generate", "3", "--out", sys.argv[1]])
assert done.exit_code == 0, done.output
heavy = sorted(m for m in ("dagster", "starlette", "boto3", "dagster_graphql") if m in sys.modules)
print(heavy)
listed = CliRunner().invoke(cli, ["--help"])  # imports every command, for its short help
assert listed.exit_code == 0, listed.output
for name in COMMANDS:
    helped = CliRunner().invoke(cli, [name, "--help"])
    assert helped.exit_code == 0, (name, helped.output)
    assert name in listed.output, name
"""
    out = tmp_path / "three.json"
    done = subprocess.run(
        [sys.executable, "-c", script, str(out)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "[]"
    assert len(json.loads(out.read_text())) == 3
