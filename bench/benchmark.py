"""Benchmark: ``user-import run`` against PostgreSQL's own floors (issue 5).

One command, from the repository root, with the dev venv active::

    python bench/benchmark.py --users 100000,1000000 --repeat 3 --out docs/BENCHMARKS.md

Options:

``--users N,M``   file sizes in users (default ``100000,1000000``); the targets are judged
                  at the largest size, and RSS(largest) / RSS(smallest) is the growth ratio.
``--repeat R``    how many times each case is measured (default 3): median, min and max.
                  ``R1,R2`` gives one count per size (smallest first), e.g. ``3,1`` when
                  the largest size would not fit in the time there is; the report says so.
                  The 10-user latency is measured with the first count.
``--out FILE``    the Markdown report to write (default ``docs/BENCHMARKS.md``).
``--smoke``       tiny sizes (300,3000), one repeat, no profile, no report written: for CI.
``--no-profile``  skip the ``auto_explain`` profiling pass (done by default when not smoke).
``--profile-min-ms MS``  statements the profile keeps plans of (default 1000).
``--seed S``      seed of ``user-import generate`` (default 1).
``--workdir DIR`` where the generated files go (default: a temporary folder, removed after).

The server is ``DATABASE_URL`` when set, else the embedded server
(``user_import_pipeline.environment.prepare()``). The benchmark never touches the
database it is given: every case runs in scratch databases it creates on that server and
drops at the end (``bench_<pid>_...``), Dagster's storage included.

What one run measures, each case ``--repeat`` times, interleaved (one round of every case,
then the next round), every timed case right after a ``CHECKPOINT``:

- **parse floor**: ijson (C backend, ``ijson.items(f, "item")``) over the file, counting
  users and addresses, in this process.
- **our parse + validation**: the Python side of ``stage_users`` without the database
  (``iter_items`` and ``validate_user`` over the file), in this process: what staging
  costs before a row reaches PostgreSQL.
- **COPY floor**: the same rows flattened to TSV beforehand (not timed), then ``COPY``
  (psycopg ``cursor.copy``) of users, committed, then addresses, committed, into empty
  ``users``/``addresses`` made by the real migrations (so the same columns, keys, indexes
  and foreign key), truncated before each round and vacuumed after it (not timed), so
  that autovacuum does not write their WAL during a later case.
- **our import**, ``user-import run FILE`` in a subprocess with ``DATABASE_URL`` on a fresh
  migrated scratch database per round: (a) first import into empty tables, (b) re-import
  of the identical file, (c) re-import of a copy of the file where every 10th user
  (index % 10 == 7) has its name, email or address list changed, in turn. ``VACUUM
  ANALYZE`` of users/addresses runs between the imports (not timed), as autovacuum would
  have done by the time a file is re-imported. The counts every run reports are checked.
  Per case: wall time of the process, per-phase times from the run's Dagster event log
  (step durations and the ops' ``seconds_*`` metadata), WAL (``pg_current_wal_lsn()``
  before/after: the whole server), and the peak RSS of the ``user-import`` process
  (``getrusage(RUSAGE_CHILDREN)`` in a wrapper process around it).
- **small file latency**: a 10-user file through ``user-import run``, wall time.

WAL is server-wide, so other sessions' writes are counted too. When the server's
``pg_wal`` is readable from here and a case wrote less than 256 MB, ``pg_waldump`` of the
range also gives the WAL of the benchmark's own databases (records on their relations
plus those of their transactions); a temporary physical replication slot keeps that WAL
until it is read. The identical re-import's WAL target is judged on that figure when it
exists.

The profiling pass (embedded server only: it reads the server log) repeats the three
imports at the largest size in a database with ``auto_explain`` (``log_analyze``,
``log_buffers``, statements over 1 s) set for that database only, and writes the plans
of the slowest statements to the report. Its timings include ``auto_explain``'s overhead
and are not used for the table.

After the tables, ``bench/bounds.py`` sets each time-ratio target's budget against the
parts of the run a staged import cannot skip (printed, and in the report).

The exit code is 0 when every measurement ran (whether or not the targets are met).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

# Run as a script, Python puts bench/ first on sys.path, where its modules would shadow
# others (bench/data.py any "data"): import them from the package ``bench`` instead.
if __package__ in (None, ""):
    _BENCH = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH]
    sys.path.insert(0, str(_BENCH.parent))

import ijson

from bench import REPO, log
from bench.benchmarks_md import write_report
from bench.bounds import bounds_section
from bench.cases import measure_latency, measure_size
from bench.data import prepare_files
from bench.databases import Server, server_url
from bench.importer import Importer
from bench.measure import Conditions, loadavg, machine
from bench.profiling import profile
from bench.report import Report, evaluate, print_summary

SMOKE_SIZES = (300, 3000)
PROFILE_MIN_DURATION_MS = 1000
NO_PROFILE_NOTE = (
    "No profile: auto_explain's plans go to the server log, which "
    "only the embedded server's is known to the benchmark."
)
NO_WALDUMP_NOTE = (
    "pg_waldump could not read the server's WAL: WAL figures are "
    "server-wide only and include other sessions' writes."
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options, with ``sizes``, ``repeats``, ``do_profile`` and ``out`` resolved."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="100000,1000000")
    parser.add_argument("--repeat", default="3")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "BENCHMARKS.md")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--profile-min-ms", type=int, default=PROFILE_MIN_DURATION_MS)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes = list(SMOKE_SIZES)
        args.repeats, args.do_profile, args.out = [1] * len(args.sizes), False, None
        return args
    args.sizes = sorted(int(x) for x in args.users.split(",") if x.strip())
    args.do_profile = not args.no_profile
    try:
        repeats = [int(x) for x in str(args.repeat).split(",")]
    except ValueError:
        parser.error("--repeat: a count, or one count per size")
    if len(repeats) == 1:
        repeats *= len(args.sizes)
    if len(repeats) != len(args.sizes):
        parser.error("--repeat: a count, or one count per size")
    if not args.sizes or min(repeats) < 1:
        parser.error("need at least one size and --repeat >= 1")
    args.repeats = repeats
    return args


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run, as the report shows it."""
    if args.smoke:
        return "python bench/benchmark.py --smoke"
    repeats = args.repeats
    repeat_arg = ",".join(map(str, repeats)) if len(set(repeats)) > 1 else str(repeats[0])
    return (
        f"python bench/benchmark.py --users {','.join(str(n) for n in args.sizes)} "
        f"--repeat {repeat_arg} --out "
        + (os.path.relpath(args.out, REPO) if args.out else "-")
        + (" --no-profile" if args.no_profile else "")
        + (
            f" --profile-min-ms {args.profile_min_ms}"
            if args.profile_min_ms != PROFILE_MIN_DURATION_MS
            else ""
        )
    )


def user_import_cli() -> str:
    beside = Path(sys.executable).with_name("user-import")
    if beside.exists():
        return str(beside)
    found = shutil.which("user-import")
    if not found:
        raise SystemExit("user-import is not installed in this environment")
    return found


def measure(
    args: argparse.Namespace,
    server: Server,
    cli: str,
    workdir: Path,
    start: tuple[datetime, float, tuple[float, float, float]],
) -> Report:
    """Every case at every size, the latency and the profile; the report of them.
    ``start``: when the run started (UTC, ``perf_counter``) and the load averages then."""
    started_at, started, load_before = start
    conditions, notes = Conditions(), []
    pg, mach = server.describe(), machine()
    log(f"server {pg['version'].split(',')[0]}; files in {workdir}")
    importer = Importer(server, cli, workdir, server.create("dagster"))
    all_files = [prepare_files(cli, workdir, n, args.seed) for n in args.sizes]
    latency, latency_rss = measure_latency(
        server, importer, cli, workdir, args.repeats[0], args.seed
    )
    results = [
        measure_size(server, importer, f, r, conditions)
        for f, r in zip(all_files, args.repeats, strict=True)
    ]
    plans = {}
    if args.do_profile and server.embedded_log is None:
        notes.append(NO_PROFILE_NOTE)
    elif args.do_profile:
        plans = profile(server, importer, all_files[-1], args.profile_min_ms)
    load_after = loadavg()
    if not any(r.cases["identical"].wal_own.values for r in results):
        notes.append(NO_WALDUMP_NOTE)
    return Report(
        command=command_line(args),
        started=started_at,
        elapsed=time.perf_counter() - started,
        machine=mach,
        pg=pg,
        load=(load_before, load_after),
        conditions=conditions,
        targets=evaluate(results, latency),
        sizes=results,
        latency=latency,
        latency_rss=latency_rss,
        plans=plans,
        repeats=args.repeats,
        notes=notes,
        profile_min_ms=args.profile_min_ms,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if ijson.backend != "yajl2_c":
        log(f"warning: ijson's default backend is {ijson.backend}; the parse floor uses yajl2_c")
    start = (datetime.now(UTC), time.perf_counter(), loadavg())
    cli = user_import_cli()
    server = Server(*server_url())
    own_workdir = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="uip-bench-")) if own_workdir else args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        report = measure(args, server, cli, workdir, start)
        print_summary(report)
        print("\n".join(bounds_section(report.sizes[-1])))
        if args.out is not None:
            write_report(args.out, report)
            log(f"wrote {args.out}")
    finally:
        server.close()
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
