"""``bench/benchmark.py --smoke``: the benchmark still runs end to end.

Not a timed test: it checks that every measurement runs, that the targets and figures
tables are printed whole, that the phases of each import were read from its Dagster run,
and that the report written is the one printed. The figures at smoke sizes mean nothing.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

TARGET_ROWS = (
    "first import / COPY floor",
    "identical re-import / COPY floor",
    "identical re-import WAL",
    "10%-changed re-import / COPY floor",
    "10 files of a tenth at once / the one file, through the queue",
    "seconds per user of a first import, largest size / this size",
    "peak RSS of user-import",
    "RSS(largest) / RSS(smallest)",
    "10-user file, end to end",
)
FIGURE_ROWS = (
    "parse floor (ijson)",
    "our parse + validation, no database",
    "COPY floor (users ",
    "import (a) first, empty tables",
    "import (b) identical re-import",
    "import (c) 10% changed re-import",
    "queue: the file alone (first import)",
    "queue: its 10 tenths at once (first imports)",
    "small file, `user-import run`",
)
OPS = (
    "claim_import",
    "stage_users",
    "stage_addresses",
    "merge_users",
    "replace_addresses",
    "finish_import",
)
SECONDS = r"\d+\.\d\d s"


@pytest.mark.slow
def test_benchmark_smoke_runs_and_prints_every_row(server_url: str, tmp_path: Path) -> None:
    # The benchmark makes and drops its own databases on the server it is given.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DAGSTER_PG_URL", "DAGSTER_HOME", "IMPORT_BASE_DIR"}
    }
    env["DATABASE_URL"] = server_url
    report = REPO / "docs" / "BENCHMARKS.md"
    before = report.read_bytes()
    written = tmp_path / "report.md"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "benchmark.py"), "--smoke", "--out", str(written)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    lines = done.stdout.splitlines()
    for row in TARGET_ROWS:
        matching = [line for line in lines if line.startswith(f"| {row} |")]
        assert len(matching) == 1, f"target row {row!r} missing:\n{done.stdout}"
        # The smoke sizes have nothing above the judged size (the largest) to grow to.
        judged = ("| n/a |",) if row.startswith("seconds per user") else ()
        assert matching[0].endswith(("| met |", "| **MISSED** |", *judged)), matching[0]
    for row in FIGURE_ROWS:
        matching = [line for line in lines if f"| {row}" in line]
        assert matching, f"figure row {row!r} missing:\n{done.stdout}"
        assert all(re.search(rf"\| {SECONDS}", line) for line in matching), matching
    # Where the time goes: every import's ops, with times, from its Dagster event log.
    assert "## Where the time goes: 3,000 users" in lines
    for case in ("(a) first", "(b) identical", "(c) 10% changed"):
        bullet = next((line for line in lines if line.startswith(f"- **import {case}")), "")
        assert re.search(rf"outside the Dagster run {SECONDS};", bullet), bullet
        for op in OPS:
            assert re.search(rf"\b{op} {SECONDS}", bullet), f"{op} missing: {bullet!r}"
    # Through the queue: each case's runs, their time queued and running, and their ops.
    for case in ("the file alone", "its 10 tenths at once"):
        bullet = next((line for line in lines if line.startswith(f"- **queue: {case}")), "")
        assert re.search(rf"waits {SECONDS} in the queue and runs {SECONDS};", bullet), bullet
        for op in OPS:
            assert re.search(rf"\b{op} {SECONDS}", bullet), f"{op} missing: {bullet!r}"
    assert written.read_text() == done.stdout.rstrip("\n") + "\n"
    # --smoke never writes docs/BENCHMARKS.md.
    assert report.read_bytes() == before
