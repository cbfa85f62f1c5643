"""How an op hands the import core's outcome to Dagster: a value and its metadata, a retry,
or a failure (core/outcomes.py says what each outcome means)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any, TypeVar

import dagster as dg

from user_import_pipeline.core.outcomes import Done, Failed, Outcome, Retry, RunInfo, Stopped
from user_import_pipeline.lifecycle.lease import Progress

T = TypeVar("T")

# Ops hand each other nothing but the order they run in: the job is the run's own (the core
# knows it, core/service.py ``job_of``), so no output is written under DAGSTER_HOME and a
# re-execution from failure can start in another container.
AFTER = {"after": dg.In(dg.Nothing)}
DONE = dg.Out(dg.Nothing)


def run_of(context: dg.OpExecutionContext) -> RunInfo:
    return RunInfo(
        run_id=context.run_id,
        root_run_id=context.run.root_run_id or context.run_id,
        retry_number=context.retry_number,
    )


def settle(context: dg.OpExecutionContext, outcome: Outcome[T]) -> T:
    """The value of a ``Done``; ``Retry`` retries the op, ``Failed`` and ``Stopped`` fail it
    (and the run) without Dagster retries: the core has decided."""
    if isinstance(outcome, Done):
        return outcome.value
    if isinstance(outcome, Retry):
        context.log.warning(outcome.message)
        raise dg.RetryRequested(
            max_retries=outcome.max_retries, seconds_to_wait=outcome.wait_seconds
        )
    if isinstance(outcome, Failed):
        raise dg.Failure(description=outcome.message, allow_retries=False) from outcome.cause
    assert isinstance(outcome, Stopped)
    raise dg.Failure(description=outcome.message, allow_retries=False)


def metadata(result: object, seconds: float | None = None) -> dict[str, Any]:
    """A step's result as output metadata: its fields, each merge step's seconds as
    ``seconds_<step>``, and the op's own wall time."""
    found: dict[str, Any] = {}
    for name, value in dataclasses.asdict(result).items():  # type: ignore[call-overload]
        if isinstance(value, dict):
            found.update({f"{name}_{key}": item for key, item in value.items()})
        else:
            found[name] = value
    if seconds is not None:
        found["seconds"] = round(seconds, 3)
    return found


class ProgressLog:
    """Logs streaming progress to the run log, at most every few seconds."""

    def __init__(self, context: dg.OpExecutionContext, every_seconds: float = 5.0) -> None:
        self._context = context
        self._every = every_seconds
        self._last = time.monotonic()

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self._last < self._every:
            return
        self._last = now
        percent = 100 * (progress.bytes_processed or 0) / (progress.bytes_total or 1)
        self._context.log.info(f"streamed {progress.rows_processed} rows, {percent:.0f}% of bytes")
