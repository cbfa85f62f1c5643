"""A real S3 API on 127.0.0.1 for the tests: moto's server mode, in a thread of the test
process, reached over HTTP like any S3-compatible store (MinIO, Ceph, AWS).

The code under test finds it the standard way, through the ``AWS_*`` variables of ``env``
(conftest.py's ``s3`` fixture sets them for the test process; a Dagster stack passes them
to its processes). The tests' own writes use a client of their own, made from the same
values, so what the code reads is what an uploader put there.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import boto3
from moto.server import ThreadedMotoServer

from user_import_pipeline.ingest.s3 import S3Prefix

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REGION = "us-east-1"


@dataclass
class S3Server:
    endpoint: str

    @property
    def env(self) -> dict[str, str]:
        """The variables that point boto3 at this server, and at nothing else: no config
        or credentials file of the machine, no instance metadata service."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "test-key",
            "AWS_SECRET_ACCESS_KEY": "test-secret",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": "/nonexistent/aws/config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws/credentials",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    @cached_property
    def client(self) -> S3Client:
        env = self.env
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        )

    def new_prefix(self, prefix: str = "imports/") -> S3Prefix:
        """A new, empty bucket of a unique name, and ``prefix`` in it."""
        bucket = f"uip-{uuid.uuid4().hex[:16]}"
        self.client.create_bucket(Bucket=bucket)
        return S3Prefix(bucket, prefix)

    def put(self, base: S3Prefix, name: str, data: bytes) -> str:
        """Upload ``data`` as ``name`` under the prefix (replacing what is there); its ETag."""
        return self.client.put_object(Bucket=base.bucket, Key=base.prefix + name, Body=data)["ETag"]


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on a free port of 127.0.0.1 until the block ends."""
    # werkzeug logs every request; the tests' own output is what matters on a failure.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()
