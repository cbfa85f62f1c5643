"""SQL kept in the repository's ``sql/`` folder, loaded by name once per process."""

from __future__ import annotations

import functools
from pathlib import Path

from psycopg import sql

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


@functools.cache
def load(name: str) -> str:
    """The text of ``sql/<name>.sql``."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def statement(name: str, **identifiers: str) -> sql.Composed | sql.SQL:
    """``sql/<name>.sql`` with ``{placeholders}`` filled by quoted identifiers."""
    text = sql.SQL(load(name))  # type: ignore[arg-type]
    if not identifiers:
        return text
    return text.format(**{key: sql.Identifier(value) for key, value in identifiers.items()})
