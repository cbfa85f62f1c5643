"""What stands between each time-ratio target and the run, from the run's own figures:
the parts of an import that a staged design cannot skip, set against the target's budget.

A staged import merges only after the last row is staged (SPEC §3: the last row of an
identity wins, conflicts are judged against the users as they were before the merge;
SPEC §2.1: a file error even in the last byte merges nothing), so reading the file, comparing and
writing happen one after the other and their times add up.
"""

from __future__ import annotations

from bench.cases import SizeResult
from bench.measure import Stat
from bench.report import seconds

HEADING = "Why the time-ratio targets are where they are"


def bounds_section(s: SizeResult) -> list[str]:
    """The section's lines for one size (the largest): medians of its repeats."""
    first = s.cases["first"].seconds.median
    floor = s.copy.median
    parse, ours = s.parse.median, s.validate.median
    writes = _step(s, "first", "merge_users", "insert_new_users") + _step(
        s, "first", "replace_addresses", "insert_changed_addresses"
    )
    least = parse + min(writes, floor)
    lines = [
        f"## {HEADING}: {s.files.users:,} users",
        "",
        "Medians of this run. The merge starts only after the last row is staged (SPEC",
        "§3: the last row of an identity wins, conflicts are judged against the users as",
        "they were; §2.1: a file error merges nothing), so the times of reading, comparing",
        "and writing add up. docs/NOTES.md (Speed) lists what was tried on each part.",
        "",
        f"- **First import / COPY floor**: {first / floor:.2f}x, target ≤ 1.2x. The final "
        f"inserts (`insert_new_users` + `insert_changed_addresses`) took {seconds(writes)}, "
        f"{writes / floor:.2f}x the COPY floor, which loads the same rows into the same "
        f"indexed tables with the same foreign key. With them after the reading of the file, "
        f"no staged first import can take less than the parse floor plus the smaller of the "
        f"two: {seconds(parse)} + {seconds(min(writes, floor))} = {least / floor:.2f}x the "
        f"COPY floor before any validation, staging, planning or Dagster; with our parse + "
        f"validation ({seconds(ours)}) instead of the bare parse, "
        f"{(ours + min(writes, floor)) / floor:.2f}x.",
    ]
    for case, target in (("identical", 0.4), ("changed", 0.6)):
        lines.append(_reimport(s, case, target, first))
    return [*lines, ""]


def _reimport(s: SizeResult, case: str, target: float, first: float) -> str:
    wall = s.cases[case].seconds.median
    budget = target * first
    staging = _op(s, case, "stage_users") + _op(s, case, "stage_addresses")
    merge = _op(s, case, "merge_users") + _op(s, case, "replace_addresses")
    rest = wall - staging - merge
    left = budget - staging - rest
    room = (
        f"That leaves {seconds(left)} of the budget for comparing and writing, which"
        if left >= 0
        else f"Staging and start-up alone exceed the budget by {seconds(-left)}; comparing "
        "and writing"
    )
    title = "Identical re-import" if case == "identical" else "10%-changed re-import"
    return (
        f"- **{title} / first import**: {wall / first:.2f}x ({seconds(wall)}), target "
        f"≤ {target}x = {seconds(budget)}. Every row is read, validated and staged before "
        f"any is compared: stage_users {seconds(_op(s, case, 'stage_users'))} (of which our "
        f"parse + validation alone, without a database, {seconds(s.validate.median)} = "
        f"{s.validate.median / first:.2f}x the first import) and stage_addresses "
        f"{seconds(_op(s, case, 'stage_addresses'))}; start-up and Dagster outside the ops "
        f"{seconds(rest)}. {room} took {seconds(merge)} (plan_merge "
        f"{seconds(_step(s, case, 'merge_users', 'plan_merge'))}: duplicates by identity "
        f"and by email, lookups by external id, UUID and email; changed_address_lists "
        f"{seconds(_step(s, case, 'merge_users', 'changed_address_lists'))})."
    )


def _op(s: SizeResult, case: str, op: str) -> float:
    return _median(s, case, f"op {op}")


def _step(s: SizeResult, case: str, op: str, step: str) -> float:
    return _median(s, case, f"  {op}: {step}")


def _median(s: SizeResult, case: str, phase: str) -> float:
    """NaN when the run's event log lacked the phase (``get``: the phases are a defaultdict,
    and a lookup must not add an empty row to the report's phase table)."""
    return s.cases[case].phases.get(phase, Stat()).median
