"""Rules of the tree that no other test would notice being broken: SQL lives in ``sql/``, one
statement per file, each file used; lock keys are named in one place; the environment is
read in one module; and the repository stands alone (nothing points outside it)."""

from __future__ import annotations

import io
import re
import subprocess
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "user_import_pipeline"
SQL = REPO / "sql"
STATEMENT_FILES = sorted(SQL.glob("*.sql"))
PYTHON_FILES = sorted(PACKAGE.rglob("*.py"))
SQL_START = re.compile(
    r"\s*(SELECT|WITH|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s|DROP\s|ALTER\s"
    r"|TRUNCATE\s|ANALYZE\s|COPY\s)",  # our SQL is written in capitals
)


def strings_of(path: Path) -> list[str]:
    """The string literals of a Python file."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    return [token.string for token in tokens if token.type == tokenize.STRING]


def without_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


def test_every_sql_file_holds_one_statement() -> None:
    several = [
        path.name
        for path in STATEMENT_FILES
        if ";" in without_comments(path.read_text(encoding="utf-8")).strip().rstrip(";")
    ]
    assert several == []


def test_no_sql_is_written_in_python() -> None:
    found = [
        f"{path.relative_to(REPO)}: {literal[:60]}"
        for path in PYTHON_FILES
        for literal in strings_of(path)
        if SQL_START.match(literal.lstrip("rbfRBF").strip("\"'"))
    ]
    assert found == []


def test_every_sql_file_is_used_by_the_package() -> None:
    names = {literal.strip("\"'") for path in PYTHON_FILES for literal in strings_of(path)}
    unused = [path.stem for path in STATEMENT_FILES if path.stem not in names]
    assert unused == []


def test_advisory_lock_keys_are_named_only_in_db_locks() -> None:
    literal_keys = [
        path.name
        for path in STATEMENT_FILES
        if "advisory" in path.read_text() and re.search(r"\d{6,}", path.read_text())
    ]
    assert literal_keys == []
    keys = re.findall(r"= (\d[\d_]{8,})", (PACKAGE / "db" / "locks.py").read_text())
    assert len(keys) == len(set(keys)) >= 3


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = [
        str(path.relative_to(REPO))
        for path in PYTHON_FILES
        if path.name != "settings.py"
        and re.search(
            r"os\.environ\.get|os\.getenv|environ\[\"[A-Z_]+\"\]\s*[^=\s]", path.read_text()
        )
    ]
    assert readers == []


def test_nothing_in_the_repository_points_outside_it() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    pointing = [
        name
        for name in tracked
        if name.endswith((".py", ".md", ".sql", ".sh", ".yaml", ".yml", ".toml"))
        and (REPO / name).exists()
        and re.search(r"shared[/]|SPEC[.]md|SPEC[ ]§", (REPO / name).read_text(errors="replace"))
    ]
    assert pointing == []
