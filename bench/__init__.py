"""The benchmark of ``user-import run`` against PostgreSQL's own floors (issue 5).

Run it as ``python bench/benchmark.py``; that script's docstring says what it measures.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def log(message: str) -> None:
    """Progress, on stderr, with the time of day."""
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
