"""``GET /api/v1/users/{id}``: a user with its addresses in order."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from user_import_pipeline.api.responses import ApiError, json_response
from user_import_pipeline.api.runtime import with_session
from user_import_pipeline.views import parse_uuid, read_user, user_json


async def show_user(request: Request) -> Response:
    user_id = parse_uuid(request.path_params["user_id"])
    if user_id is None:
        raise ApiError(400, "invalid_user_id", "user id must be a UUID")
    user = await with_session(request, lambda session: read_user(session, user_id))
    if user is None:
        raise ApiError(404, "not_found", f"user {user_id} not found")
    return json_response(200, {"data": user_json(user)})
