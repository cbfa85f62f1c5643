"""Benchmark: ``user-import run`` against PostgreSQL's own floors.

From the repository root, with the dev venv active::

    python bench/benchmark.py --users 100000,1000000 --repeat 3 --out docs/BENCHMARKS.md

``--users`` the file sizes (targets are judged at 1,000,000 users when among them, else at
the largest; seconds per user and RSS grow from there and from the smallest to the
largest); ``--repeat R`` or one count per size (``3,3,1``); ``--out`` the report
(default docs/BENCHMARKS.md); ``--smoke`` 300 and 3,000 users once, nothing written
without ``--out`` (CI); ``--seed``; ``--workdir`` for the files (default: a temporary one).

The server is ``DATABASE_URL``, else the embedded server; the benchmark works only in
databases it creates there and drops at the end (``bench_<pid>_*``), Dagster's included.

Rounds of every case, one round after another, each timed case right after a CHECKPOINT:

- **parse floor**: ijson's C backend over the file, counting users and addresses.
- **our parse + validation**: ``iter_items`` and ``validate_user``, in this process.
- **COPY floor**: the same rows, as TSV made beforehand, COPYed into empty ``users`` and
  ``addresses`` made by the real migrations, each committed; vacuumed after (not timed).
- **imports**: ``user-import run FILE`` in a subprocess, on a fresh migrated database per
  round: (a) first, (b) the identical file again, (c) a copy with every 10th user's
  name, email or address list changed; ``VACUUM ANALYZE`` between them (not timed), as
  autovacuum would have done. Their reported counts are checked. Per import: wall time,
  peak RSS (``wait4``), the whole server's WAL (``pg_current_wal_lsn()``), and the
  phases of its Dagster run from the event log (op durations, ``seconds_<step>``).
- **small file**: a 10-user file through ``user-import run``, after a warm-up run.
- **through the queue** (``bench/concurrent.py``), at the judged size: the file alone,
  then its ten tenths at once, submitted through GraphQL to a real webserver and daemon.

Exit code 0 when every measurement ran, whether or not the targets are met.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

# Run as a script, Python puts bench/ first on sys.path, where its modules would shadow
# others of the same name: import them from the package ``bench`` instead.
if __package__ in (None, ""):
    _BENCH = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _BENCH]
    sys.path.insert(0, str(_BENCH.parent))

import ijson

from bench import cases, concurrent
from bench.cases import REPO, Importer, Sample, Server, log
from bench.report import IMPORTS, TARGET_USERS, Report, SizeResult, render
from user_import_pipeline import settings
from user_import_pipeline.generate import generate_users

SMOKE_SIZES = [300, 3000]
LATENCY_USERS = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options, with ``sizes``, ``repeats`` (one per size) and ``out`` resolved."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--users", default="100000,1000000")
    parser.add_argument("--repeat", default="3")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.repeats = SMOKE_SIZES, [1] * len(SMOKE_SIZES)
        return args
    args.out = args.out or REPO / "docs" / "BENCHMARKS.md"
    try:
        args.sizes = sorted(int(x) for x in args.users.split(","))
        args.repeats = [int(x) for x in args.repeat.split(",")]
    except ValueError:
        parser.error("--users and --repeat take whole numbers, separated by commas")
    if len(args.repeats) == 1:
        args.repeats *= len(args.sizes)
    if len(args.repeats) != len(args.sizes) or min(args.repeats) < 1:
        parser.error("--repeat: a count >= 1, or one per size")
    return args


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run."""
    if args.smoke:
        return "python bench/benchmark.py --smoke"
    repeat = args.repeats[0] if len(set(args.repeats)) == 1 else ",".join(map(str, args.repeats))
    return (
        f"python bench/benchmark.py --users {','.join(map(str, args.sizes))} --repeat {repeat}"
        + (f" --seed {args.seed}" if args.seed != 1 else "")
        + f" --out {os.path.relpath(args.out, REPO)}"
    )


def server_url() -> str:
    url = settings.database_url()
    if url is None:
        from user_import_pipeline.db.embedded import EmbeddedServer

        embedded = EmbeddedServer.from_settings()
        embedded.start()
        url = embedded.url("postgres")
    return url


def user_import_cli() -> str:
    """``user-import`` beside this interpreter (made absolute: the runs start elsewhere)."""
    beside = Path(sys.executable).absolute().with_name("user-import")
    found = str(beside) if beside.exists() else shutil.which("user-import")
    if found is None:
        raise SystemExit("user-import is not installed in this environment")
    return os.path.abspath(found)


def commit() -> str:
    """HEAD, and whether the import code (package, SQL) differs from it."""
    git = ["git", "-C", str(REPO)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "diff-index", "--quiet", "HEAD", "--", "user_import_pipeline", "sql"]
    )
    return head.stdout.strip() + (" with uncommitted changes" if dirty.returncode else "")


def machine(server: Server, load: tuple[float, ...], clients: list[int]) -> dict[str, str]:
    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1] for line in f if line.startswith("model name")), "?")
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("dagster", "psycopg", "ijson"))
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    return {
        "CPU": cpu.strip(),
        "cores": str(os.cpu_count()),
        "RAM": f"{ram:.1f} GiB",
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "packages": f"{versions}, ijson backend {ijson.backend}",
        **server.describe(),
        "load average (1 min) before, after": f"{load[0]:.2f}, {os.getloadavg()[0]:.2f}",
        "other client connections to the server at the start of each import": (
            f"{min(clients, default=0)}-{max(clients, default=0)}"
            " (timings and server-wide WAL count their work too)"
        ),
    }


def measure_size(
    server: Server, importer: Importer, files: cases.Files, repeat: int, clients: list[int]
) -> SizeResult:
    """``repeat`` rounds of every case at one size, each round's imports in a fresh database."""
    result = SizeResult(files)
    copy_db = server.create(f"copy_{files.users}")
    for round_ in range(1, repeat + 1):
        label = f"{files.users} users, round {round_}/{repeat}"
        log(f"{label}: floors")
        result.cases["parse"].append(cases.parse_floor(files))
        result.cases["validate"].append(cases.validation(files))
        result.cases["copy"].append(cases.copy_floor(server, copy_db, files))
        db = server.create(f"import_{files.users}")
        for case in IMPORTS:
            if case != "first":
                server.value("VACUUM ANALYZE users, addresses", db=db)
            log(f"{label}: import {case}")
            clients.append(server.other_clients())
            sample, summary = importer.run(db, files.changed if case == "changed" else files.json)
            cases.check(case, files, summary)
            result.cases[case].append(sample)
        server.drop(db)
    server.drop(copy_db)
    return result


def measure_latency(server: Server, importer: Importer, repeat: int, seed: int) -> list[Sample]:
    path = importer.workdir / f"users_{LATENCY_USERS}.json"
    generate_users(path, LATENCY_USERS, seed=seed)
    db = server.create("latency")
    importer.run(db, path)  # warm-up, not counted: caches, and Dagster's storage made
    samples = []
    for round_ in range(1, repeat + 1):
        log(f"10-user file, round {round_}/{repeat}")
        server.value("TRUNCATE users, addresses CASCADE", db=db)
        sample, summary = importer.run(db, path)
        if summary.get("imported_count") != LATENCY_USERS:
            raise RuntimeError(f"10-user import reported {summary}")
        samples.append(sample)
    server.drop(db)
    return samples


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started_at, started, load = datetime.now(UTC), time.perf_counter(), os.getloadavg()
    cli = user_import_cli()
    server = Server(server_url())
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="uip-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        importer = Importer(server, cli, workdir)
        log(f"server {server.describe()['PostgreSQL'].split(',')[0]}; files in {workdir}")
        all_files = []
        for n in args.sizes:
            log(f"{n} users: the file, its 10%-changed copy, the TSV of the COPY floor")
            all_files.append(cases.prepare_files(workdir, n, args.seed))
        latency = measure_latency(server, importer, args.repeats[0], args.seed)
        clients: list[int] = []
        sizes = [
            measure_size(server, importer, files, repeat, clients)
            for files, repeat in zip(all_files, args.repeats, strict=True)
        ]
        judged = next((i for i, n in enumerate(args.sizes) if n == TARGET_USERS), -1)
        queued = concurrent.measure(server.url, workdir, all_files[judged], args.repeats[judged])
        report = Report(
            command=command_line(args),
            commit=commit(),
            started=started_at,
            minutes=(time.perf_counter() - started) / 60,
            machine=machine(server, load, clients),
            repeats=args.repeats,
            sizes=sizes,
            latency=latency,
            concurrent=queued,
        )
    finally:
        server.close()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    text = "\n".join(render(report)) + "\n"
    print(text)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
