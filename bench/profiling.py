"""The profiling pass: the three imports once more with ``auto_explain`` on, and the
plans of their slowest statements read back from the embedded server's log."""

from __future__ import annotations

import re

from psycopg import sql

from bench import log
from bench.cases import CASES, vacuum
from bench.data import Files
from bench.databases import Server
from bench.importer import Importer

# Set for the profile's database only; log_min_duration comes from --profile-min-ms.
AUTO_EXPLAIN = (
    ("session_preload_libraries", "auto_explain"),
    ("auto_explain.log_analyze", "on"),
    ("auto_explain.log_buffers", "on"),
    ("auto_explain.log_timing", "on"),
    ("auto_explain.log_triggers", "on"),
    ("auto_explain.log_nested_statements", "on"),
)
_PLAN_START = re.compile(r"LOG:\s+duration: ([\d.]+) ms\s+plan:")


def profile(
    server: Server, importer: Importer, files: Files, min_ms: int
) -> dict[str, list[tuple[float, str]]]:
    """The three imports once more with auto_explain on (this database only); returns the
    plans of each case's slowest statements, read back from the server log."""
    log_file = server.embedded_log
    if log_file is None or not log_file.exists():
        return {}
    db = server.create(f"profile_{files.users}")
    server.migrate(db)
    for name, value in (*AUTO_EXPLAIN, ("auto_explain.log_min_duration", int(min_ms))):
        server.admin.execute(
            sql.SQL("ALTER DATABASE {} SET {} = {}").format(
                sql.Identifier(db), sql.SQL(name), sql.Literal(value)
            )
        )
    plans: dict[str, list[tuple[float, str]]] = {}
    for case in CASES:
        if case != "first":
            vacuum(server, db)
        log(f"profile: {files.users} users, import {case} with auto_explain")
        offset = log_file.stat().st_size
        importer.run(db, files.for_case(case), measure_wal=False)
        with log_file.open("r", encoding="utf-8", errors="replace") as f:
            f.seek(offset)
            plans[case] = plans_in_log(f.read())
    server.drop(db)
    return plans


def plans_in_log(text: str) -> list[tuple[float, str]]:
    """auto_explain entries: a 'duration: N ms  plan:' line and its tab-indented lines;
    the slowest first."""
    found: list[tuple[float, str]] = []
    current: list[str] | None = None
    duration = 0.0
    for line in text.splitlines():
        match = _PLAN_START.search(line)
        if match:
            if current is not None:
                found.append((duration, "\n".join(current)))
            current, duration = [], float(match.group(1))
            continue
        if current is not None:
            if line.startswith("\t"):
                current.append(line[1:])
            else:
                found.append((duration, "\n".join(current)))
                current = None
    if current is not None:
        found.append((duration, "\n".join(current)))
    return sorted(found, key=lambda item: -item[0])


def query_text(plan: str) -> str:
    """The statement of an auto_explain entry, on one line, without its comments."""
    text = []
    in_query = False
    for line in plan.splitlines():
        if line.startswith("Query Text:"):
            in_query = True
            line = line.removeprefix("Query Text:")
        elif re.search(r"\(cost=|\(actual ", line):
            break
        if in_query:
            text.append(re.sub(r"--.*$", "", line).strip())
    joined = " ".join(" ".join(text).split())
    return joined.replace("|", "\\|").replace("`", "'")
