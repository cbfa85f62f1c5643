"""``GET /healthz``: 200 when the database answers a query, 503 otherwise."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from user_import_pipeline.api.responses import json_response
from user_import_pipeline.api.runtime import with_session

log = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    try:
        await with_session(request, lambda session: session.execute("ping"))
    except Exception as exc:  # any failure to reach or query the database is "unavailable"
        log.warning("health check: database unavailable: %s", exc)
        return json_response(503, {"status": "unavailable"})
    return json_response(200, {"status": "ok"})
