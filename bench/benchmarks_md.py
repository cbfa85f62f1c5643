"""docs/BENCHMARKS.md: the command, the machine, the targets, the figures, where the
time goes, the profile's slowest statements."""

from __future__ import annotations

from pathlib import Path

from bench.bounds import bounds_section
from bench.cases import CASE_TITLES, CASES, SizeResult
from bench.profiling import query_text
from bench.report import (
    Report,
    figures_table,
    megabytes,
    phases_table,
    seconds,
    targets_table,
)


def write_report(out: Path, report: Report) -> None:
    lines = [
        *_header(report),
        *_machine(report),
        "## Targets",
        "",
        *targets_table(report.targets),
        "",
        *_figures(report),
        *bounds_section(report.sizes[-1]),
    ]
    for s in report.sizes:
        lines += _where_time_goes(s)
    if report.plans:
        lines += _profile(report)
    if report.notes:
        lines += ["## Notes", "", *[f"- {note}" for note in report.notes], ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")


def _header(report: Report) -> list[str]:
    repeats = ", ".join(
        f"{s.files.users:,} users x{r}" for s, r in zip(report.sizes, report.repeats, strict=True)
    )
    return [
        "# Benchmarks",
        "",
        "Written by `bench/benchmark.py` (its docstring says what each case measures and how).",
        "Re-run it to refresh this file; edit the script, not this file.",
        "",
        "## The command",
        "",
        "```bash",
        report.command,
        "```",
        "",
        "From the repository root with the dev venv active. `--smoke` runs tiny sizes once",
        "and writes nothing (the test suite runs that). It uses `DATABASE_URL` when set, else",
        "the embedded server, and works only in scratch databases it creates and drops.",
        "",
        f"Run on {report.started:%Y-%m-%d %H:%M} UTC, {report.elapsed / 60:.1f} minutes, "
        f"repeats of each case: {repeats}; 10-user file x{report.repeats[0]}.",
        "",
    ]


def _machine(report: Report) -> list[str]:
    pg, load, conditions = report.pg, report.load, report.conditions
    return [
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in report.machine.items()],
        f"- PostgreSQL: {pg['version']}",
        "- server settings: " + ", ".join(f"{k} {v}" for k, v in pg.items() if k != "version"),
        f"- load average (1/5/15 min) before: {' / '.join(f'{x:.2f}' for x in load[0])}, "
        f"after: {' / '.join(f'{x:.2f}' for x in load[1])}; 1-min load at the start of "
        f"each case: {min(conditions.load):.2f}-{max(conditions.load):.2f}",
        f"- other client connections to the server at the start of each case: "
        f"{min(conditions.clients, default=0)}-{max(conditions.clients, default=0)}"
        " (other work on the same machine and server: timings and server-wide WAL are noisy)",
        "",
    ]


def _figures(report: Report) -> list[str]:
    sizes = report.sizes
    files = "; ".join(
        f"{s.files.users:,} users, {s.files.addresses:,} addresses, "
        f"{s.files.bytes / (1 << 20):.1f} MB"
        for s in sizes
    )
    return [
        "## Figures",
        "",
        "Seconds are wall time; for imports, of the whole `user-import run` process.",
        "WAL, server: `pg_wal_lsn_diff` of `pg_current_wal_lsn()` around the case (every",
        "session on the server). WAL, import + Dagster DBs: the records of that range on the",
        "run's two databases (and the other records of their transactions), from `pg_waldump`",
        "(n/a when not readable or over 256 MB); WAL, import DB: the first of the two alone.",
        "Each case starts right after a `CHECKPOINT`, so the first change of every page in",
        "it is logged as a full-page image.",
        "",
        *figures_table(sizes, report.latency, report.latency_rss),
        "",
        *[_full_page_images(s) for s in sizes if any(s.cases[c].wal_fpi.values for c in CASES)],
        "",
        f"Files: {files}. The 10%-changed file changes {sizes[-1].files.changed_users:,} users "
        "(name, email or address list, in turn).",
        "",
    ]


def _full_page_images(s: SizeResult) -> str:
    return (
        f"Full-page images in the import + Dagster WAL, {s.files.users:,} users: "
        + ", ".join(
            f"{CASE_TITLES[c].split(' ', 2)[1]} {megabytes(s.cases[c].wal_fpi.median)}"
            for c in CASES
            if s.cases[c].wal_fpi.values
        )
        + "."
    )


def _where_time_goes(s: SizeResult) -> list[str]:
    lines = [
        f"## Where the time goes: {s.files.users:,} users",
        "",
        "From the run's Dagster event log: each op's duration, and below it the ops'",
        "own `seconds*` metadata (SQL steps; `work` is the op's own measured total).",
        "",
        *phases_table(s),
        "",
    ]
    for case in CASES:
        phases = s.cases[case].phases
        wall = phases["process wall"].median if "process wall" in phases else 0.0
        ops = sorted(
            ((name, stat.median) for name, stat in phases.items() if name.startswith("op ")),
            key=lambda item: -item[1],
        )
        steps = sorted(
            (
                (name.strip(), stat.median)
                for name, stat in phases.items()
                if name.startswith("  ") and not name.endswith(": work")
            ),
            key=lambda item: -item[1],
        )[:4]
        parts = ", ".join(f"{name[3:]} {v:.1f} s ({100 * v / wall:.0f}%)" for name, v in ops)
        top = ", ".join(f"{name} {v:.1f} s" for name, v in steps)
        lines.append(
            f"- **{CASE_TITLES[case]}** ({seconds(wall)}): ops {parts}. Largest SQL steps: {top}."
        )
    return [*lines, ""]


def _profile(report: Report) -> list[str]:
    lines = [
        f"## Profile: the slowest statements, {report.sizes[-1].files.users:,} users",
        "",
        "One extra import per case with `auto_explain` (`log_analyze`, `log_buffers`,",
        f"statements over {report.profile_min_ms} ms) on its database only; the timing",
        "overhead of `log_analyze` makes these slower than the runs above.",
        "",
    ]
    for case in CASES:
        found = report.plans.get(case, [])
        lines += [f"### {CASE_TITLES[case]}", ""]
        if not found:
            lines += ["No statement over the threshold.", ""]
            continue
        lines += [
            "| ms | statement |",
            "|---|---|",
            *[f"| {ms:,.0f} | `{query_text(plan)[:110]}` |" for ms, plan in found[:8]],
            "",
        ]
        for ms, plan in found[:2]:
            lines += [f"Plan of the {ms:,.0f} ms statement:", "", "```", plan, "```", ""]
    return lines
