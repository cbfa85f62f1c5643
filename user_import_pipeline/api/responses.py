"""JSON bodies byte-compatible with the Go service (Echo's ``c.JSON``) and API errors."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

# Go's encoding/json escapes these by default (HTML-safe output); keep the same bytes.
_GO_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


class ApiError(Exception):
    """A request refused with ``{"error": {"code", "message"}}`` and a 4xx/5xx status."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message


def json_response(
    status_code: int, payload: Any, headers: Mapping[str, str] | None = None
) -> Response:
    """Compact JSON, HTML characters escaped, UTF-8, newline-terminated, like Go's encoder."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    for char, escape in _GO_ESCAPES:
        text = text.replace(char, escape)
    # A lone surrogate can only sit inside a JSON string; \udXXX is its valid escape there.
    body = (text + "\n").encode("utf-8", "backslashreplace")
    return Response(body, status_code=status_code, media_type="application/json", headers=headers)


def error_response(
    status_code: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return json_response(status_code, {"error": {"code": code, "message": message}}, headers)
