"""What a step of an import can end in, for its caller to act on (a Dagster op, the CLI).

Every step of ``ImportService`` returns one of these instead of raising: the caller never
has to know which exception means what.

- ``Done``: the step did its work (or found it done by an earlier attempt); ``value`` says what.
- ``Retry``: the database was unavailable or interrupted the step; the job is untouched and
  the same step may be tried again after ``wait_seconds``.
- ``Failed``: the import cannot succeed (a file error, a refused statement, retries used up);
  the job is marked failed with ``message``, its staging dropped.
- ``Stopped``: this run may not work on the job (another run holds it or took it over, it
  is finished, it does not exist); nothing was touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RunInfo:
    """Which run works: its id (the lease owner), the id of the run it re-executes or
    retries (the first run of the chain, else itself), and how often the current step has
    been retried."""

    run_id: str
    root_run_id: str
    retry_number: int = 0

    @classmethod
    def first(cls, run_id: str) -> RunInfo:
        return cls(run_id=run_id, root_run_id=run_id)


@dataclass(frozen=True)
class Done(Generic[T]):
    value: T


@dataclass(frozen=True)
class Retry:
    message: str
    wait_seconds: float
    max_retries: int


@dataclass(frozen=True)
class Failed:
    message: str
    cause: BaseException | None = None


@dataclass(frozen=True)
class Stopped:
    message: str


Outcome = Done[T] | Retry | Failed | Stopped
