"""The targets judged, and the tables of figures: printed, and written by
``bench.benchmarks_md`` into docs/BENCHMARKS.md."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bench.cases import CASE_TITLES, CASES, LATENCY_USERS, SizeResult
from bench.measure import Conditions, Stat

WAL_TARGET_BYTES = 1 << 20

# The rows of the targets table, in order (the smoke test checks each is printed).
TARGET_ROWS = (
    "first import / COPY floor",
    "identical re-import / first import",
    "identical re-import WAL",
    "10%-changed re-import / first import",
    "peak RSS of user-import",
    "RSS(largest) / RSS(smallest)",
    "10-user file, end to end",
)


@dataclass
class Target:
    label: str
    measured: str
    target: str
    met: bool | None  # None: could not be measured


@dataclass
class Report:
    """Everything one run found, and what it was run with."""

    command: str
    started: datetime
    elapsed: float
    machine: dict[str, str]
    pg: dict[str, str]
    load: tuple[tuple[float, ...], tuple[float, ...]]  # before, after
    conditions: Conditions
    targets: list[Target]
    sizes: list[SizeResult]
    latency: Stat
    latency_rss: Stat
    plans: dict[str, list[tuple[float, str]]]
    repeats: list[int]
    notes: list[str]
    profile_min_ms: int


def seconds(value: float) -> str:
    return f"{value:.2f} s"


def megabytes(value: float) -> str:
    if value < 10 * (1 << 20):
        return f"{value / (1 << 20):.2f} MB"
    return f"{value / (1 << 20):.0f} MB"


def _size_rss(s: SizeResult) -> float:
    return max(max(c.rss.values) for c in s.cases.values())


def evaluate(sizes: list[SizeResult], latency: Stat) -> list[Target]:
    large, small = sizes[-1], sizes[0]
    first = large.cases["first"].seconds.median
    ident = large.cases["identical"]
    changed = large.cases["changed"].seconds.median
    peak = max(_size_rss(s) for s in sizes)
    rss_ratio = _size_rss(large) / _size_rss(small) if len(sizes) > 1 else float("nan")
    ratio_copy = first / large.copy.median
    ratio_ident = ident.seconds.median / first
    ratio_changed = changed / first
    if ident.wal_own.values:
        wal_value = ident.wal_own.median
        wal_note = (
            f"import + Dagster databases, pg_waldump; import database alone "
            f"{megabytes(ident.wal_data.median)}; full-page images "
            f"{megabytes(ident.wal_fpi.median)}"
        )
    else:
        wal_value, wal_note = ident.wal.median, "whole server"
    n = f"{large.files.users:,}"
    s, mb = seconds, megabytes
    rows = [
        (
            f"{ratio_copy:.2f}x ({s(first)} / {s(large.copy.median)}, {n} users)",
            "≤ 1.2x",
            ratio_copy <= 1.2,
        ),
        (
            f"{ratio_ident:.2f}x ({s(ident.seconds.median)} / {s(first)})",
            "≤ 0.4x",
            ratio_ident <= 0.4,
        ),
        (
            f"{mb(wal_value)} ({wal_note}; whole server {mb(ident.wal.median)})",
            "≤ 1 MB",
            wal_value <= WAL_TARGET_BYTES,
        ),
        (f"{ratio_changed:.2f}x ({s(changed)} / {s(first)})", "≤ 0.6x", ratio_changed <= 0.6),
        (f"{mb(peak)} (max over all runs)", "≤ 250 MB", peak <= 250 << 20),
        (
            f"{rss_ratio:.2f} ({mb(_size_rss(large))} / {mb(_size_rss(small))})",
            "≤ 1.2",
            rss_ratio <= 1.2 if len(sizes) > 1 else None,
        ),
        (
            f"{s(latency.median)} (max {s(max(latency.values))})",
            "≤ 5 s",
            latency.median <= 5,
        ),
    ]
    return [Target(label, *row) for label, row in zip(TARGET_ROWS, rows, strict=True)]


def _mark(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "**MISSED**")


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def targets_table(targets: list[Target]) -> list[str]:
    return table(
        ["target (largest size, medians)", "measured", "target", "result"],
        [[t.label, t.measured, t.target, _mark(t.met)] for t in targets],
    )


def _size_rows(s: SizeResult) -> list[list[str]]:
    n = f"{s.files.users:,}"
    copy_title = CASE_TITLES["copy"] + (
        f" (users {seconds(s.copy_users.median)}, addresses {seconds(s.copy_addresses.median)})"
    )
    rows = [
        [n, CASE_TITLES["parse"], s.parse.fmt(seconds), "", "", "", ""],
        [n, CASE_TITLES["validate"], s.validate.fmt(seconds), "", "", "", ""],
        [n, copy_title, s.copy.fmt(seconds), s.copy_wal.fmt(megabytes), "", "", ""],
    ]
    for case in CASES:
        c = s.cases[case]
        rows.append(
            [
                n,
                CASE_TITLES[case],
                c.seconds.fmt(seconds),
                *(stat.fmt(megabytes) for stat in (c.wal, c.wal_own, c.wal_data, c.rss)),
            ]
        )
    return rows


def figures_table(sizes: list[SizeResult], latency: Stat, latency_rss: Stat) -> list[str]:
    rows = [row for s in sizes for row in _size_rows(s)]
    rows.append(
        [
            str(LATENCY_USERS),
            "small file, `user-import run`",
            latency.fmt(seconds),
            *("", "", ""),
            latency_rss.fmt(megabytes),
        ]
    )
    return table(
        [
            "users",
            "case",
            "seconds: median (min-max)",
            "WAL, server",
            "WAL, import + Dagster DBs",
            "WAL, import DB",
            "peak RSS",
        ],
        rows,
    )


def phases_table(s: SizeResult) -> list[str]:
    names: list[str] = []
    for case in CASES:
        for name in s.cases[case].phases:
            if name not in names:
                names.append(name)
    order = {"process wall": 0, "dagster run (start to end)": 1, "dagster between ops": 2}
    names.sort(key=lambda name: order.get(name, 3))
    rows = []
    for name in names:
        row = [name.replace("  ", "↳ ") if name.startswith("  ") else name]
        for case in CASES:
            stat = s.cases[case].phases.get(name)
            row.append(seconds(stat.median) if stat and stat.values else "")
        rows.append(row)
    # What the process spent outside the Dagster run: interpreter start, imports,
    # environment, migrations check, summary.
    row = ["outside the run (start-up, imports, summary)"]
    for case in CASES:
        phases = s.cases[case].phases
        if "dagster run (start to end)" in phases:
            outside = phases["process wall"].median - phases["dagster run (start to end)"].median
            row.append(seconds(outside))
        else:
            row.append("")
    rows.insert(1, row)
    return table(["phase (median seconds)", *[CASE_TITLES[c] for c in CASES]], rows)


def print_summary(report: Report) -> None:
    """The machine, the load and the tables, on stdout."""
    mach, version = report.machine, report.pg["version"].split(",")[0]
    print()
    print(
        f"machine: {mach['CPU']}, {mach['cores']} cores, {mach['RAM']}; {version}; "
        f"Python {mach['Python']}"
    )
    print(
        f"load average before {report.load[0][0]:.2f}, after {report.load[1][0]:.2f}; "
        f"elapsed {report.elapsed / 60:.1f} min"
    )
    print()
    print("\n".join(targets_table(report.targets)))
    print()
    print("\n".join(figures_table(report.sizes, report.latency, report.latency_rss)))
    print()
    print("\n".join(phases_table(report.sizes[-1])))
