"""``GET /api/v1/imports/{job_id}/errors?after=ROW_INDEX&limit=N``: a job's failed rows with
their raw JSON, a page at a time in row order; ``next_after`` is where the next page starts."""

from __future__ import annotations

import re

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from user_import_pipeline import row_errors
from user_import_pipeline.api.responses import ApiError, json_response
from user_import_pipeline.api.runtime import with_session
from user_import_pipeline.db.client import Session
from user_import_pipeline.views import parse_uuid

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# row_index is a PostgreSQL bigint; a larger ``after`` could only fail in the database.
MAX_ROW_INDEX = 2**63 - 1
# ASCII digits only: int() would also take "+5", " 5", "5_0" and other scripts' digits.
_WHOLE = re.compile(r"[0-9]+")


async def list_row_errors(request: Request) -> Response:
    job_id = parse_uuid(request.path_params["job_id"])
    if job_id is None:
        raise ApiError(400, "invalid_job_id", "job id must be a UUID")
    after, limit = _page_of(request.query_params)

    def read(session: Session) -> row_errors.Page | None:
        if row_errors.job_status(session, job_id) is None:
            return None
        return row_errors.page(session, job_id, after=after, limit=limit)

    found = await with_session(request, read)
    if found is None:
        raise ApiError(404, "not_found", f"import job {job_id} not found")
    data = [{key: row[key] for key in row_errors.FIELDS} for row in found.rows]
    return json_response(200, {"data": data, "next_after": found.next_after})


def _page_of(params: QueryParams) -> tuple[int, int]:
    """``after`` (default: from the first row) and ``limit``. Anything else in the query is
    refused rather than ignored, so that a misspelt parameter is not silently a default."""
    names = [name for name, _ in params.multi_items()]
    unknown = sorted(set(names) - {"after", "limit"})
    if unknown:
        raise ApiError(400, "bad_request", f"unknown query parameter {unknown[0]!r}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ApiError(400, "bad_request", f"query parameter {repeated[0]!r} is given twice")
    after = params.get("after")
    limit = params.get("limit")
    return (
        row_errors.BEFORE_FIRST if after is None else _whole("after", after, 0, MAX_ROW_INDEX),
        DEFAULT_LIMIT if limit is None else _whole("limit", limit, 1, MAX_LIMIT),
    )


def _whole(name: str, text: str, low: int, high: int) -> int:
    # The length check first: int() of thousands of digits is slow, and refused past 4,300.
    if len(text) <= len(str(high)) and _WHOLE.fullmatch(text) and low <= int(text) <= high:
        return int(text)
    raise ApiError(400, "bad_request", f"{name} must be a whole number from {low} to {high}")
