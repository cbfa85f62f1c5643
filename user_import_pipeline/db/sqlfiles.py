"""The SQL files, loaded by name once per process from the installed package.

The repository's top-level ``sql/`` is installed as ``user_import_pipeline.sql`` (see
pyproject.toml), so the same files are found in a checkout, an editable install and a
built wheel.
"""

from __future__ import annotations

import functools
from importlib import resources
from importlib.resources.abc import Traversable

from psycopg import sql

SQL_PACKAGE = "user_import_pipeline.sql"


def sql_root() -> Traversable:
    return resources.files(SQL_PACKAGE)


@functools.cache
def load(name: str) -> str:
    """The text of ``sql/<name>.sql`` (``name`` may name a subfolder: ``migrations/0001_x``)."""
    path = sql_root().joinpath(f"{name}.sql")
    if not path.is_file():
        raise LookupError(f"no SQL file {name}.sql in {SQL_PACKAGE}")
    return path.read_text(encoding="utf-8")


def statement(name: str, **identifiers: str) -> sql.Composed | sql.SQL:
    """``sql/<name>.sql`` with its ``{placeholders}`` filled by quoted identifiers."""
    text = sql.SQL(load(name))
    if not identifiers:
        return text
    return text.format(**{key: sql.Identifier(value) for key, value in identifiers.items()})
