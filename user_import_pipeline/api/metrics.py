"""``GET /metrics``: the import metrics (user_import_pipeline/metrics.py) in the exposition
format the scraper asks for (Prometheus text by default, OpenMetrics on request)."""

from __future__ import annotations

from prometheus_client.exposition import choose_encoder
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from user_import_pipeline import metrics as import_metrics
from user_import_pipeline.api.runtime import settings_of


async def metrics(request: Request) -> Response:
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    registry = import_metrics.registry(settings_of(request).database)
    # Collecting runs the SQL on the blocking client: in a worker thread, like with_session.
    body = await run_in_threadpool(encode, registry)
    return Response(body, media_type=content_type)
