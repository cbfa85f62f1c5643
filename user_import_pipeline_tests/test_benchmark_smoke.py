"""``bench/benchmark.py --smoke``: the benchmark still runs end to end (issue 5).

Not a timed test: it only checks that every measurement runs and that the targets table
is printed whole. The figures at smoke sizes mean nothing.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

TARGET_ROWS = (
    "first import / COPY floor",
    "identical re-import / first import",
    "identical re-import WAL",
    "10%-changed re-import / first import",
    "peak RSS of user-import",
    "RSS(largest) / RSS(smallest)",
    "10-user file, end to end",
)
FIGURE_ROWS = (
    "parse floor (ijson)",
    "COPY floor",
    "import (a) first, empty tables",
    "import (b) identical re-import",
    "import (c) 10% changed re-import",
    "small file, `user-import run`",
)
# bench/bounds.py: one line per time-ratio target, under its heading.
BOUND_LINES = (
    "## Why the time-ratio targets are where they are",
    "- **First import / COPY floor**: ",
    "- **Identical re-import / first import**: ",
    "- **10%-changed re-import / first import**: ",
)


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
    before = report.stat().st_mtime_ns if report.exists() else None
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "benchmark.py"), "--smoke"],
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
        assert matching, f"target row {row!r} missing:\n{done.stdout}"
        assert matching[0].rstrip().endswith(("| met |", "| **MISSED** |", "| n/a |"))
    for row in FIGURE_ROWS:
        assert any(row in line for line in lines), f"figure row {row!r} missing"
    for bound in BOUND_LINES:
        assert any(line.startswith(bound) for line in lines), f"bound {bound!r} missing"
    # --smoke writes no report.
    assert (report.stat().st_mtime_ns if report.exists() else None) == before
