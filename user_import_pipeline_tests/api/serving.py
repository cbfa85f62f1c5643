"""The HTTP API served for real in a test: uvicorn on a free port of 127.0.0.1, in a thread
(httpx is not installed, so no TestClient), and a small client speaking to it."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette

# A Dagster webserver nobody listens on: queued jobs stay queued.
UNREACHABLE_DAGSTER = "http://127.0.0.1:1"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_code(self) -> str:
        return self.json["error"]["code"]


@dataclass
class Api:
    host: str
    port: int

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return Reply(
                response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            )
        finally:
            conn.close()

    def post_json(self, payload: object, content_type: str = "application/json") -> Reply:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.call("POST", "/api/v1/imports/users", body, {"Content-Type": content_type})

    def get(self, path: str) -> Reply:
        return self.call("GET", path)


@contextmanager
def serve(app: Starlette) -> Iterator[Api]:
    """Run ``app`` with uvicorn on a free loopback port until the block ends."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Api(host, port)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
