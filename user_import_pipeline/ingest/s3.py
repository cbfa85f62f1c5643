"""Import files in S3-compatible object storage: ``IMPORT_BASE_DIR=s3://bucket/prefix/``.

The rules of a local folder (ingest/source.py), for keys. A ``source_path`` is a key under
the prefix, given relative to it or as a full ``s3://`` URL inside it, and has an accepted
extension. Keys are plain strings: ``a/../b.json`` and ``a//b.json`` name other objects than
``b.json`` and ``a/b.json``, so there is nothing to resolve, and a path with an empty, ``.``
or ``..`` segment is refused rather than read as some other key.

An object is read from one GET as a stream, never downloaded whole, and opens as the same
``OpenedSource`` a local file does. Its ETag stands in for a local file's size and mtime:
the careful parser's rewind GETs that ETag again (``If-Match``), and once the last byte is
read the object is asked for once more; any other ETag by then fails the import as a file
rewritten in place does. Endpoint, credentials and region are boto3's own
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ... and ``~/.aws/config``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from user_import_pipeline.ingest.source import (
    ACCEPTED,
    EXTENSIONS,
    MODIFIED,
    ImportFileError,
    InvalidSourceError,
    OpenedSource,
    opened,
)

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

SCHEME = "s3://"
MAX_KEY_BYTES = 1024  # S3's limit on a key, in UTF-8 bytes


@dataclass(frozen=True)
class S3Prefix:
    """A bucket and a key prefix (empty, or ending in ``/``) that import files are read from."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> S3Prefix:
        """``s3://bucket``, ``s3://bucket/prefix`` or ``s3://bucket/prefix/``; ValueError
        for anything else. The prefix is a folder: ``s3://b/in`` holds ``in/x.json``, not
        ``inbox/x.json``."""
        bucket, _, prefix = url.removeprefix(SCHEME).partition("/")
        prefix = prefix.removesuffix("/")
        if not url.startswith(SCHEME) or not bucket or (prefix and _bad_segments(prefix)):
            raise ValueError(
                f"an S3 base must be s3://bucket/ or s3://bucket/prefix/ without empty, '.' or "
                f"'..' segments, got {url!r}"
            )
        return cls(bucket, f"{prefix}/" if prefix else "")

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}"

    @property
    def client(self) -> S3Client:
        """boto3's S3 client, configured the standard way (the module docstring)."""
        return _client()

    def resolve(self, source_path: str) -> S3Object:
        """The object ``source_path`` names inside this prefix, once it is known to exist;
        InvalidSourceError for a refused path, ImportFileError for a missing or unreadable
        object. Asks for the object's metadata only (HEAD)."""
        if not source_path or "\x00" in source_path:
            raise InvalidSourceError("source_path must be a non-empty path without NUL bytes")
        if not source_path.endswith(EXTENSIONS):
            raise InvalidSourceError(f"{source_path!r}: only {ACCEPTED} are imported")
        if source_path.startswith(SCHEME):
            if not source_path.startswith(str(self)):
                raise InvalidSourceError(
                    f"{source_path!r} is outside the import base directory {self}"
                )
            relative = source_path.removeprefix(str(self))
        elif source_path.startswith("/"):
            raise InvalidSourceError(
                f"{source_path!r} is outside the import base directory {self}: give a key "
                "relative to it, or an s3:// URL inside it"
            )
        else:
            relative = source_path
        if _bad_segments(relative):
            raise InvalidSourceError(
                f"{source_path!r}: an S3 key is taken as written, so empty, '.' and '..' "
                "segments are refused"
            )
        found = S3Object(self, self.prefix + relative, source_path)
        if len(found.key.encode("utf-8")) > MAX_KEY_BYTES:
            raise InvalidSourceError(
                f"{source_path!r}: an S3 key has at most {MAX_KEY_BYTES} bytes"
            )
        if found.etag() is None:
            raise ImportFileError(f"{source_path!r} cannot be read: no such object")
        return found

    def names_in(self, folder: str) -> dict[str, str]:
        """Objects directly inside ``folder`` of the prefix: name → ETag. S3 lists an object
        only once its upload is complete (a multipart upload in progress is not an object
        yet), so whatever this returns can be read whole. ImportFileError when the bucket
        cannot be listed."""
        listed: dict[str, str] = {}
        start = f"{self.prefix}{folder}/"
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=start, Delimiter="/"
            )
            for page in pages:
                for entry in page.get("Contents", []):
                    listed[entry["Key"].removeprefix(start)] = entry["ETag"].strip('"')
        except (BotoCoreError, ClientError) as exc:
            raise ImportFileError(f"{self}{folder}/ cannot be listed: {_reason(exc)}") from exc
        return listed


@dataclass(frozen=True)
class S3Object:
    """An object of an ``S3Prefix``; ``source_path`` is how the import names it."""

    prefix: S3Prefix
    key: str
    source_path: str

    def etag(self) -> str | None:
        """The ETag of the object stored under the key now; None when there is none."""
        try:
            head = self.prefix.client.head_object(Bucket=self.prefix.bucket, Key=self.key)
        except ClientError as exc:
            if _status(exc) == 404:
                return None
            raise self._unreadable(exc) from exc
        except BotoCoreError as exc:
            raise self._unreadable(exc) from exc
        return head["ETag"]

    def get(self, if_match: str | None = None) -> GetObjectOutputTypeDef:
        """GET the object (the version of ETag ``if_match``, when given); the response."""
        client, bucket = self.prefix.client, self.prefix.bucket
        try:
            if if_match is None:
                return client.get_object(Bucket=bucket, Key=self.key)
            return client.get_object(Bucket=bucket, Key=self.key, IfMatch=if_match)
        except ClientError as exc:
            if _status(exc) == 412:
                raise ImportFileError(f"{self.source_path}: {MODIFIED}") from exc
            raise self._unreadable(exc) from exc
        except BotoCoreError as exc:
            raise self._unreadable(exc) from exc

    def _unreadable(self, exc: BotoCoreError | ClientError) -> ImportFileError:
        return ImportFileError(f"{self.source_path!r} cannot be read: {_reason(exc)}")


@contextmanager
def open_object(found: S3Object) -> Iterator[OpenedSource]:
    """Open an object for streaming, as ``open_source`` opens a local file."""
    body = _ObjectBody(found)
    try:
        yield opened(PurePosixPath(found.key), body, body.size, body.unchanged)
    finally:
        body.close()


class _ObjectBody:
    """The bytes of one version of an object, streamed from a GET; ``seek(0)`` GETs the
    same version again (``If-Match`` on its ETag) or fails the import."""

    def __init__(self, found: S3Object) -> None:
        self._found = found
        response = found.get()
        self._etag: str = response["ETag"]
        self.size: int = response["ContentLength"]
        self._body: StreamingBody = response["Body"]
        self._position = 0

    def read(self, size: int = -1, /) -> bytes:
        try:
            data = self._body.read(None if size < 0 else size)
        except BotoCoreError as exc:  # the connection broke, or a checksum did not match
            raise ImportFileError(
                f"{self._found.source_path}: reading the object failed: {exc}"
            ) from exc
        self._position += len(data)
        return data

    def seek(self, offset: int, whence: int = 0, /) -> int:
        if (offset, whence) != (0, io.SEEK_SET):
            raise io.UnsupportedOperation("an object is read again from its first byte only")
        self._body.close()
        self._body = self._found.get(if_match=self._etag)["Body"]
        self._position = 0
        return 0

    def tell(self) -> int:
        return self._position

    def unchanged(self) -> bool:
        """True while the key still holds the version being read."""
        return self._found.etag() == self._etag

    def close(self) -> None:
        self._body.close()


@cache
def _client() -> S3Client:
    """One client per process: it depends on nothing but the process's environment, and
    making one reads botocore's service model (about 0.1 s), which the sensor would pay
    at every tick. boto3's clients are safe to share between threads."""
    # Imported here: boto3 takes about 0.2 s to import, which every command and process
    # would pay at start-up although most bases are local folders.
    import boto3

    return boto3.session.Session().client("s3")


def _bad_segments(path: str) -> bool:
    return any(segment in ("", ".", "..") for segment in path.split("/"))


def _status(exc: ClientError) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def _reason(exc: BotoCoreError | ClientError) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', _status(exc))}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)
