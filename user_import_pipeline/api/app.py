"""The Starlette application: routes, and every error as ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from user_import_pipeline.api.health import healthz
from user_import_pipeline.api.imports import queue_user_import, show_import
from user_import_pipeline.api.metrics import metrics
from user_import_pipeline.api.responses import ApiError, error_response
from user_import_pipeline.api.row_errors import list_row_errors
from user_import_pipeline.api.runtime import ApiSettings
from user_import_pipeline.api.users import show_user
from user_import_pipeline.db.client import Database
from user_import_pipeline.db.errors import TransientDatabaseError
from user_import_pipeline.ingest.location import Base, parse_base
from user_import_pipeline.launch import DagsterEndpoint

log = logging.getLogger(__name__)

ROUTES = [
    Route("/api/v1/imports/users", queue_user_import, methods=["POST"]),
    Route("/api/v1/imports/{job_id}", show_import, methods=["GET"]),
    Route("/api/v1/imports/{job_id}/errors", list_row_errors, methods=["GET"]),
    Route("/api/v1/users/{user_id}", show_user, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]

# Starlette's own errors (unknown route, wrong method) under the Go service's codes.
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


# A request should not hang on a database that does not answer.
CONNECT_TIMEOUT_SECONDS = 5


def create_app(dsn: str, base_dir: str | Base, dagster_url: str) -> Starlette:
    """The API on database ``dsn``, importing files of ``base_dir`` (a folder or an S3
    prefix), launching through the Dagster webserver at ``dagster_url`` (ValueError if that
    is not an http(s) URL)."""
    DagsterEndpoint.parse(dagster_url)
    app = Starlette(
        routes=ROUTES,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            TransientDatabaseError: _database_unavailable,
            Exception: _internal_error,
        },
    )
    # The Go service answered /healthz/ with 404, not a redirect.
    app.router.redirect_slashes = False
    database = Database(dsn, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    app.state.settings = ApiSettings(
        database=database, base_dir=parse_base(base_dir), dagster_url=dagster_url
    )
    return app


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = HTTPStatus(exc.status_code)
    code = _HTTP_CODES.get(exc.status_code, status.phrase.lower().replace(" ", "_"))
    return error_response(exc.status_code, code, status.phrase, headers=exc.headers)


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("%s %s: database unavailable: %s", request.method, request.url.path, exc)
    return error_response(503, "unavailable", "the database is unavailable")


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal", "internal server error")
