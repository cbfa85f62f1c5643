"""The concurrent case: a file's users split into ten files submitted at once through the
queue of a real deployment (webserver and daemon, the repository's ``dagster.yaml``),
against the whole file submitted alone through the same queue. Both are first imports
into empty tables; the time is from the first submission to the end of the last run."""

from __future__ import annotations

import json
import shutil
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import ijson
import psycopg
from dagster import DagsterEventType, DagsterRunStatus

from bench.cases import Files, Sample, log
from user_import_pipeline_tests.stack import Stack, dagster_stack

PARTS = 10


def measure(server_url: str, workdir: Path, files: Files, repeat: int) -> dict[str, list[Sample]]:
    """``repeat`` rounds of the whole file alone ("one") and of its ten parts at once
    ("ten"), each on emptied tables."""
    samples: dict[str, list[Sample]] = {"one": [], "ten": []}
    with dagster_stack(server_url, workdir / "stack") as stack:
        whole = stack.base_dir / files.json.name
        shutil.copyfile(files.json, whole)  # not a hard link: imports refuse those
        parts = split(files.json, stack.base_dir, files.users)
        for round_ in range(1, repeat + 1):
            for case, names in (("one", [whole.name]), ("ten", [p.name for p in parts])):
                log(f"concurrent case, {files.users} users, round {round_}/{repeat}: {case}")
                samples[case].append(_submit_all(stack, names, files.users))
    return samples


def split(source: Path, folder: Path, users: int) -> list[Path]:
    """The users of ``source`` in ``PARTS`` files of consecutive users (not timed)."""
    size = -(-users // PARTS)
    paths = [folder / f"{source.stem}_part{i}.json" for i in range(PARTS)]
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with source.open("rb") as f:
        items: Iterator[object] = ijson.items(f, "item", use_float=True)
        for path in paths:
            with path.open("w", encoding="utf-8") as out:
                out.write("[")
                for index, user in zip(range(size), items, strict=False):
                    out.write((",\n" if index else "\n") + encode(user))
                out.write("\n]\n")
    return paths


def _submit_all(stack: Stack, names: list[str], users: int) -> Sample:
    """Empty the tables, submit every file at once, wait for every run; checks that each
    succeeded and that together they imported every user once. ``phases``: over the runs,
    the median seconds queued (submission to launch), running, and in each op."""
    with psycopg.connect(stack.dsn, autocommit=True) as conn:
        conn.execute("TRUNCATE users, addresses CASCADE")
    submitted = time.time()
    run_ids = [stack.submit(name) for name in names]
    runs = stack.wait_for_runs(run_ids, timeout=3600)
    failed = [run.run_id for run in runs if run.status != DagsterRunStatus.SUCCESS]
    if failed:
        raise RuntimeError("runs failed:\n" + "\n".join(map(stack.failure_messages, failed)))
    jobs = stack.import_jobs(*names)[-len(names) :]
    imported = sum(job["imported_count"] for job in jobs)
    if imported != users or any(job["status"] != "succeeded" for job in jobs):
        raise RuntimeError(f"the imports of {names} reported {jobs}")
    per_run: dict[str, list[float]] = {}
    ended = 0.0
    for run_id in run_ids:
        start, end = stack.run_span(run_id)
        ended = max(ended, end)
        per_run.setdefault("queued", []).append(start - submitted)
        per_run.setdefault("running", []).append(end - start)
        for entry in stack.instance.all_logs(run_id, of_type=DagsterEventType.STEP_SUCCESS):
            event = entry.dagster_event
            assert event is not None and event.step_key is not None
            seconds = event.step_success_data.duration_ms / 1000
            per_run.setdefault(f"op {event.step_key}", []).append(seconds)
    return Sample(ended - submitted, phases={k: statistics.median(v) for k, v in per_run.items()})
