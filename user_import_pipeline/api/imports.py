"""``POST /api/v1/imports/users`` queues an import; ``GET /api/v1/imports/{job_id}`` shows it."""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from user_import_pipeline.api.responses import ApiError, json_response
from user_import_pipeline.api.runtime import settings_of, with_session
from user_import_pipeline.ingest.source import InvalidSourceError
from user_import_pipeline.launch import queue_import
from user_import_pipeline.views import job_json, parse_uuid, read_job_report

MAX_BODY_BYTES = 64 * 1024


async def queue_user_import(request: Request) -> Response:
    payload = _parse_json(await _read_body(request))
    source_path = _source_path(payload)
    dry_run = _dry_run(payload)
    settings = settings_of(request)
    try:
        job_id = await run_in_threadpool(
            queue_import,
            settings.database,
            source_path,
            settings.base_dir,
            settings.dagster_url,
            dry_run,
        )
    except InvalidSourceError as exc:
        # The server's own folder is nobody's business; name the setting instead.
        message = str(exc).replace(str(settings.base_dir), "$IMPORT_BASE_DIR")
        raise ApiError(400, "invalid_source", message) from exc
    queued: dict[str, Any] = {"job_id": job_id, "status": "queued"}
    if dry_run:  # the Go service's answer, unchanged for an import
        queued["dry_run"] = True
    return json_response(202, {"data": queued})


async def show_import(request: Request) -> Response:
    job_id = parse_uuid(request.path_params["job_id"])
    if job_id is None:
        raise ApiError(400, "invalid_job_id", "job id must be a UUID")
    report = await with_session(request, lambda session: read_job_report(session, job_id))
    if report is None:
        raise ApiError(404, "not_found", f"import job {job_id} not found")
    return json_response(200, {"data": job_json(report)})


async def _read_body(request: Request) -> bytes:
    """The body, read only as far as the limit: a declared or streamed larger one is 413."""
    too_large = ApiError(413, "payload_too_large", f"request body exceeds {MAX_BODY_BYTES} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError(400, "bad_request", "the client closed the connection") from None
    return b"".join(chunks)


def _parse_json(body: bytes) -> Any:
    """The body as JSON, whatever its declared content type: ``curl -d`` sends JSON as a
    form, and the Go service read the body as JSON whatever the header said."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise ApiError(400, "bad_request", "request body is not valid UTF-8") from None
    except ValueError as exc:  # JSONDecodeError, too long an integer, NaN/Infinity
        raise ApiError(400, "bad_request", f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "bad_request", "request body is nested too deeply") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _source_path(payload: Any) -> str:
    if not isinstance(payload, dict):
        raise ApiError(400, "bad_request", "request body must be a JSON object")
    source_path = payload.get("source_path")
    if source_path is None:
        raise ApiError(400, "bad_request", "source_path is required")
    if not isinstance(source_path, str):
        raise ApiError(400, "bad_request", "source_path must be a string")
    return source_path


def _dry_run(payload: dict[str, Any]) -> bool:
    dry_run = payload.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ApiError(400, "bad_request", "dry_run must be true or false")
    return dry_run
