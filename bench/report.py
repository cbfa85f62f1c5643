"""The results: medians over the repeats, the targets judged, and the Markdown that is
printed and written to docs/BENCHMARKS.md."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bench.cases import Files, Sample

IMPORTS = ("first", "identical", "changed")
TITLES = {
    "parse": "parse floor (ijson)",
    "validate": "our parse + validation, no database",
    "copy": "COPY floor",
    "first": "import (a) first, empty tables",
    "identical": "import (b) identical re-import",
    "changed": "import (c) 10% changed re-import",
}
# The targets of the import (the "must" of each): what is measured, the target as shown,
# and the limit of the measured value. Every time is judged against the COPY floor.
TARGETS = (
    ("first import / COPY floor", "≤ 1.5x", 1.5),
    ("identical re-import / COPY floor", "≤ 0.6x", 0.6),
    ("identical re-import WAL", "≤ 1 MB", 1 << 20),
    ("10%-changed re-import / COPY floor", "≤ 0.9x", 0.9),
    ("10 files of a tenth at once / the one file, through the queue", "≤ 1.3x", 1.3),
    ("seconds per user of a first import, largest size / this size", "≤ 1.15x", 1.15),
    ("peak RSS of user-import", "≤ 250 MB", 250 << 20),
    ("RSS(largest) / RSS(smallest)", "≤ 1.2", 1.2),
    ("10-user file, end to end", "≤ 3 s", 3),
)
RESULT = {True: "met", False: "**MISSED**"}
LATENCY_TITLE = "small file, `user-import run`"
CONCURRENT_TITLES = {
    "one": "queue: the file alone (first import)",
    "ten": "queue: its 10 tenths at once (first imports)",
}
# Targets are judged at this size when it was measured, else at the largest.
TARGET_USERS = 1_000_000
NAN = float("nan")


@dataclass
class SizeResult:
    """Every sample of every case at one file size."""

    files: Files
    cases: dict[str, list[Sample]] = field(default_factory=lambda: {c: [] for c in TITLES})

    def median(
        self, case: str, what: Callable[[Sample], float | None] = lambda s: s.seconds
    ) -> float:
        return median([v for s in self.cases[case] if (v := what(s)) is not None])

    def phase(self, case: str, name: str) -> float:
        return self.median(case, lambda s: s.phases.get(name))

    def peak_rss(self) -> float:
        return max((s.rss or 0 for c in IMPORTS for s in self.cases[c]), default=NAN)


@dataclass
class Report:
    """One run: what it ran on and with, and what it found."""

    command: str
    commit: str
    started: datetime
    minutes: float
    machine: dict[str, str]
    repeats: list[int]
    sizes: list[SizeResult]
    latency: list[Sample]
    concurrent: dict[str, list[Sample]]

    @property
    def judged(self) -> SizeResult:
        """The size the targets are judged at."""
        return next((s for s in self.sizes if s.files.users == TARGET_USERS), self.sizes[-1])


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else NAN


def seconds(value: float) -> str:
    return f"{value:.2f} s"


def megabytes(value: float) -> str:
    return f"{value / (1 << 20):.{2 if value < 10 << 20 else 0}f} MB"


def spread(values: Sequence[float], unit: Callable[[float], str]) -> str:
    """Median (min-max), or the one value, or n/a."""
    if len(values) < 2:
        return unit(values[0]) if values else "n/a"
    low, high = (unit(v).split()[0] for v in (min(values), max(values)))
    return f"{unit(median(values))} ({low}-{high})"


def targets(report: Report) -> list[list[str]]:
    """The rows of the targets table: at the judged size; the concurrent case on its file;
    the growth of seconds per user from it to the largest size and of RSS from the
    smallest to the largest (n/a when there is no such pair)."""
    sizes, judged, s, mb = report.sizes, report.judged, seconds, megabytes
    first, copy = judged.median("first"), judged.median("copy")
    ident, changed = judged.median("identical"), judged.median("changed")
    wal = judged.median("identical", lambda x: x.wal)
    one, ten = (median([x.seconds for x in report.concurrent[c]]) for c in ("one", "ten"))
    largest = sizes[-1]
    per_user = (
        (largest.median("first") / largest.files.users) / (first / judged.files.users)
        if largest is not judged
        else NAN
    )
    rss = [size.peak_rss() for size in sizes]
    growth = rss[-1] / rss[0] if len(sizes) > 1 else NAN
    small = [x.seconds for x in report.latency]

    def ratio(a: float, b: float) -> tuple[float, str]:
        return a / b, f"{a / b:.2f}x ({s(a)} / {s(b)})"

    measured = [
        ratio(first, copy),
        ratio(ident, copy),
        (wal, f"{mb(wal)} (whole server)"),
        ratio(changed, copy),
        ratio(ten, one),
        (
            per_user,
            f"{per_user:.2f} ({largest.files.users:,} / {judged.files.users:,} users)"
            if largest is not judged
            else "no larger size measured",
        ),
        (max(rss), f"{mb(max(rss))} (max of all runs)"),
        (growth, f"{growth:.2f} ({mb(rss[-1])} / {mb(rss[0])})"),
        (median(small), f"{s(median(small))} (max {s(max(small))})"),
    ]
    return [
        [label, text, goal, "n/a" if math.isnan(value) else RESULT[value <= limit]]
        for (label, goal, limit), (value, text) in zip(TARGETS, measured, strict=True)
    ]


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def figure_rows(size: SizeResult) -> list[list[str]]:
    rows = []
    for case, title in TITLES.items():
        samples = size.cases[case]
        if case == "copy":
            parts = (f"{t} {seconds(size.phase(case, t))}" for t in ("users", "addresses"))
            title = f"{title} ({', '.join(parts)})"
        wal = [x.wal for x in samples if x.wal is not None]
        rss = [x.rss for x in samples if x.rss is not None]
        times = [x.seconds for x in samples]
        sizes = (spread(v, megabytes) if v else "" for v in (wal, rss))
        rows.append([f"{size.files.users:,}", title, spread(times, seconds), *sizes])
    return rows


def time_goes(size: SizeResult, case: str) -> str:
    """One line: what the process spent outside Dagster's run, each op in the order they
    ran with its SQL steps that took a tenth of it or more, and Dagster between the ops."""
    phases = size.cases[case][0].phases
    parts = []
    for op in (name.removeprefix("op ") for name in phases if name.startswith("op ")):
        took = size.phase(case, f"op {op}")
        names = [name for name in phases if name.startswith(f"{op}: ")]
        steps = sorted(((size.phase(case, n), n.split(": ", 1)[1]) for n in names), reverse=True)
        big = [f"{name} {seconds(t)}" for t, name in steps if t >= 0.1 * took and t >= 0.005]
        parts.append(f"{op} {seconds(took)}" + (f" ({', '.join(big)})" if big else ""))
    return (
        f"- **{TITLES[case]}**, {seconds(size.median(case))}: start-up and summary outside "
        f"the Dagster run {seconds(size.phase(case, 'outside the Dagster run'))}; "
        f"{', '.join(parts)}; Dagster between the ops "
        f"{seconds(size.phase(case, 'between ops'))}."
    )


def concurrent_rows(report: Report) -> list[list[str]]:
    users = f"{report.judged.files.users:,}"
    return [
        [users, CONCURRENT_TITLES[case], spread([x.seconds for x in samples], seconds), "", ""]
        for case, samples in report.concurrent.items()
    ]


def concurrent_goes(report: Report) -> list[str]:
    """Per case: the median over rounds of each run's median seconds queued, running and
    in each op."""
    lines = []
    for case, samples in report.concurrent.items():
        names = list(samples[0].phases)
        phase = {n: median([x.phases[n] for x in samples if n in x.phases]) for n in names}
        ops = ", ".join(
            f"{n.removeprefix('op ')} {seconds(t)}" for n, t in phase.items() if n.startswith("op ")
        )
        lines.append(
            f"- **{CONCURRENT_TITLES[case]}**, {seconds(median([x.seconds for x in samples]))}:"
            f" a run waits {seconds(phase['queued'])} in the queue and runs"
            f" {seconds(phase['running'])}; its ops {ops}."
        )
    return lines


def render(report: Report) -> list[str]:
    sizes, large = report.sizes, report.judged
    repeats = ", ".join(
        f"{s.files.users:,} users x{r}" for s, r in zip(sizes, report.repeats, strict=True)
    )
    files = "; ".join(
        f"{s.files.users:,} users, {s.files.addresses:,} addresses, {megabytes(s.files.bytes)}"
        for s in sizes
    )
    lat_rss = [x.rss for x in report.latency if x.rss is not None]
    latency = spread([x.seconds for x in report.latency], seconds)
    latency_row = ["10", LATENCY_TITLE, latency, "", spread(lat_rss, megabytes)]
    return [
        "# Benchmarks",
        "",
        "Written by `bench/benchmark.py`, whose docstring says how each case is measured;",
        "re-run it to refresh this file:",
        "",
        "```bash",
        report.command,
        "```",
        "",
        f"Run at commit {report.commit} on {report.started:%Y-%m-%d %H:%M} UTC "
        f"({report.minutes:.1f} minutes); repeats: {repeats}, 10-user file "
        f"x{report.repeats[0]}. Figures are medians (min-max) of the repeats.",
        "",
        "## Targets",
        "",
        *table(
            [f"target ({large.files.users:,} users)", "measured", "target", "result"],
            targets(report),
        ),
        "",
        "## Figures",
        "",
        "Seconds are wall time; for imports, of the whole `user-import run` process, on a",
        "fresh database per round. WAL: `pg_current_wal_lsn()` before and after the case,",
        "so the whole server's (each case starts right after a `CHECKPOINT`). Peak RSS: of",
        "the `user-import run` process.",
        "",
        *table(
            ["users", "case", "seconds", "WAL", "peak RSS"],
            [row for s in sizes for row in figure_rows(s)]
            + concurrent_rows(report)
            + [latency_row],
        ),
        "",
        f"Files: {files}. The 10%-changed copy changes {large.files.changed_users:,} users "
        "(name, email or address list, in turn). The queue cases run on a real deployment",
        "(webserver and daemon, at most 10 runs at once) from the first submission to the",
        "end of the last run.",
        "",
        f"## Where the time goes: {large.files.users:,} users",
        "",
        "Medians of each phase, from the run's Dagster event log: each op's duration, and in",
        "brackets the SQL steps it reports (`seconds_<step>` metadata) that took a tenth of it",
        "or more.",
        "",
        *[time_goes(large, case) for case in IMPORTS],
        "",
        "Through the queue, medians over the runs of a round, then over the rounds (each op",
        "includes any wait for the merge turn):",
        "",
        *concurrent_goes(report),
        "",
        "## Machine",
        "",
        *[f"- {key}: {value}" for key, value in report.machine.items()],
    ]
