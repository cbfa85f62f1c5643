"""The built wheel, installed in a venv of its own, works away from the checkout.

Why: the SQL lives in the top-level ``sql/`` folder, which the wheel ships as the package
``user_import_pipeline.sql`` (pyproject.toml). Once a wheel install found no migrations:
``user-import migrate`` printed "schema up to date" and exited 0, and ``user-import run``
then died on a missing table. Every other test imports the package from the checkout,
where the files are always there, so only this one can see the wheel go wrong.

It builds the wheel, checks that it holds every SQL file of the checkout, installs it
(not editable) into a fresh venv and, from a folder outside the checkout, migrates an
empty database and imports a small file with the installed ``user-import``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from user_import_pipeline_tests.conftest import create_database, drop_database

REPO = Path(__file__).resolve().parents[1]
SQL_DIR = REPO / "sql"
SQL_IN_WHEEL = "user_import_pipeline/sql/"
INSTALL_TIMEOUT = 900  # seconds; the first install downloads Dagster and its dependencies
COMMAND_TIMEOUT = 300

# Three valid users with addresses and one row with an invalid email (failed, not imported).
USERS = [
    {
        "id": "w-1",
        "name": "Ana Lima",
        "email": "ana@example.com",
        "phone_number": "+55 11 5555 0101",
        "addresses": [
            {
                "street": "Rua A 1",
                "city": "São Paulo",
                "state": "SP",
                "zip_code": "01000-000",
                "country": "BR",
            }
        ],
    },
    {
        "id": "w-2",
        "name": "Björn Müller",
        "email": "bjorn@example.org",
        "addresses": [
            {
                "street": "Hauptstraße 5",
                "city": "Berlin",
                "state": "Berlin",
                "zip_code": "10115",
                "country": "DE",
            },
            {
                "street": "Leopoldstraße 9",
                "city": "München",
                "state": "Bayern",
                "zip_code": "80802",
                "country": "DE",
            },
        ],
    },
    {
        "name": "Yuki Tanaka",
        "email": "yuki@example.net",
        "addresses": [
            {
                "street": "千代田区丸の内1",
                "city": "東京",
                "state": "東京都",
                "zip_code": "100-0005",
                "country": "JP",
            }
        ],
    },
    {"id": "w-4", "name": "No Email", "email": "not-an-email", "addresses": []},
]
VALID_USERS = 3
VALID_ADDRESSES = 4


def checkout_sql_files() -> set[str]:
    """``sql/*.sql`` and ``sql/migrations/*.sql``, relative to ``sql/``."""
    files = [*SQL_DIR.glob("*.sql"), *SQL_DIR.glob("migrations/*.sql")]
    return {path.relative_to(SQL_DIR).as_posix() for path in files}


def migration_versions() -> list[str]:
    return sorted(path.stem for path in SQL_DIR.glob("migrations/*.sql"))


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without anything that points at the checkout or at the
    test setup (no PYTHONPATH, no DAGSTER_HOME, no project settings), plus ``settings``."""
    dropped_prefixes = ("PYTHON", "DAGSTER_", "IMPORT_", "EMBEDDED_PG_")
    dropped = {"DATABASE_URL", "TEST_DATABASE_URL", "VIRTUAL_ENV", "PORT"}
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in dropped and not key.startswith(dropped_prefixes)
    }
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    env["DAGSTER_DISABLE_TELEMETRY"] = "1"
    env.update(settings)
    return env


def run(
    args: list[str], *, env: dict[str, str], cwd: Path, timeout: int = COMMAND_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def succeeded(done: subprocess.CompletedProcess[str]) -> bool:
    """True when ``done`` exited 0; prints its output otherwise, for the failure report."""
    if done.returncode != 0:
        print(f"$ {' '.join(done.args)}\n{done.stdout[-5000:]}\n{done.stderr[-5000:]}")
    return done.returncode == 0


def build_wheel(out: Path) -> Path:
    """Build the checkout's wheel into ``out``.

    setuptools builds in ``<source>/build`` and ships whatever it finds there, stale files
    included; the extra config moves that folder out of the checkout, so a SQL file removed
    since an earlier build cannot reach the wheel, and the checkout is left untouched.
    """
    scratch = out / "setuptools"
    scratch.mkdir(parents=True)
    config = out / "setuptools.cfg"
    config.write_text(
        f"[build]\nbuild_base = {scratch / 'build'}\n[egg_info]\negg_base = {scratch}\n"
    )
    env = {**os.environ, "DIST_EXTRA_CONFIG": str(config)}
    args = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), str(REPO)]
    assert succeeded(run(args, env=env, cwd=out, timeout=INSTALL_TIMEOUT))
    (wheel,) = out.glob("user_import_pipeline-*.whl")
    return wheel


def sql_files_in(wheel: Path) -> set[str]:
    """The ``.sql`` files under ``user_import_pipeline/sql/`` in the wheel, relative to it."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    return {
        name.removeprefix(SQL_IN_WHEEL)
        for name in names
        if name.startswith(SQL_IN_WHEEL) and name.endswith(".sql")
    }


def install_in_new_venv(wheel: Path, venv: Path) -> Path:
    """A fresh venv with ``wheel`` (and its dependencies) installed; returns its bin folder."""
    assert succeeded(
        run([sys.executable, "-m", "venv", str(venv)], env=clean_env(), cwd=venv.parent)
    )
    python = venv / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "--quiet", str(wheel)]
    assert succeeded(run(install, env=clean_env(), cwd=venv.parent, timeout=INSTALL_TIMEOUT))
    return venv / "bin"


def installed_package_file(bin_dir: Path, env: dict[str, str], cwd: Path) -> tuple[Path, Path]:
    """Where the venv's python imports ``user_import_pipeline`` from, and its site-packages."""
    code = (
        "import sysconfig, user_import_pipeline; "
        "print(user_import_pipeline.__file__); print(sysconfig.get_paths()['purelib'])"
    )
    done = run([str(bin_dir / "python"), "-c", code], env=env, cwd=cwd)
    assert succeeded(done)
    package_file, site_packages = done.stdout.strip().splitlines()
    return Path(package_file).resolve(), Path(site_packages).resolve()


def last_line_json(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(summary, dict)
    return summary


def count_rows(dsn: str, table: str) -> int:
    with psycopg.connect(dsn) as conn:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.mark.slow
def test_wheel_ships_every_sql_file_of_the_checkout(wheel: Path) -> None:
    expected = checkout_sql_files()
    assert "migrations/0001_users_and_addresses.sql" in expected  # the glob found the files
    assert sql_files_in(wheel) == expected


@pytest.mark.slow
def test_installed_wheel_migrates_and_imports_outside_the_checkout(
    wheel: Path, server_url: str, tmp_path: Path
) -> None:
    bin_dir = install_in_new_venv(wheel, tmp_path / "venv")
    workdir = tmp_path / "work"
    workdir.mkdir()
    assert not workdir.resolve().is_relative_to(REPO)
    assert not (workdir / "dagster.yaml").exists()

    dsn = create_database(server_url)
    try:
        env = clean_env(DATABASE_URL=dsn, IMPORT_BASE_DIR=str(workdir))

        package_file, site_packages = installed_package_file(bin_dir, env, workdir)
        assert site_packages.is_relative_to((tmp_path / "venv").resolve())
        assert package_file.is_relative_to(site_packages), package_file

        migrated = run([str(bin_dir / "user-import"), "migrate"], env=env, cwd=workdir)
        assert succeeded(migrated)
        for version in migration_versions():
            assert version in migrated.stdout, migrated.stdout

        (workdir / "users.json").write_text(json.dumps(USERS), encoding="utf-8")
        imported = run([str(bin_dir / "user-import"), "run", "users.json"], env=env, cwd=workdir)
        assert succeeded(imported)
        summary = last_line_json(imported)
        assert summary["status"] == "succeeded", summary
        assert summary["progress_processed"] == len(USERS), summary
        assert summary["imported_count"] == VALID_USERS, summary
        assert (summary["updated_count"], summary["unchanged_count"]) == (0, 0), summary
        # Skipped: every row not applied; failed: those that are errors (CONTRACT §4).
        assert (summary["skipped_count"], summary["failed_count"]) == (1, 1), summary

        assert count_rows(dsn, "users") == VALID_USERS
        assert count_rows(dsn, "addresses") == VALID_ADDRESSES
    finally:
        drop_database(server_url, dsn)
