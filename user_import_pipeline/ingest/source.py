"""Finding and opening an import file: confined to IMPORT_BASE_DIR, a JSON array (.json) or
JSON Lines (.jsonl, .ndjson), each also gzip-compressed (.gz). A local file here; an object
of an S3 prefix in ingest/s3.py opens as the same ``OpenedSource``."""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import BinaryIO, Protocol

JSON_LINES_EXTENSIONS = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
EXTENSIONS = (".json", ".json.gz", *JSON_LINES_EXTENSIONS)
ACCEPTED = ".json, .jsonl and .ndjson files, plain or gzip-compressed (.gz),"
MODIFIED = "the file was modified while it was being read"


class ImportFileError(Exception):
    """The file cannot be imported at all; nothing of it may be merged."""


class InvalidSourceError(ImportFileError):
    """The path itself is refused: outside the base directory, wrong kind or extension."""


def is_utf8(path: str) -> bool:
    """False for a name with lone surrogates (``os.fsdecode`` of bytes that are not UTF-8):
    neither PostgreSQL text nor Dagster tags can hold it."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(path: str) -> str:
    """A name that is not UTF-8, with its undecodable bytes shown as U+FFFD."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def is_json_lines(name: str) -> bool:
    """True for a JSON Lines file name; the other accepted names hold a JSON array. The
    format is that of the file's own name, as gzip is (``open_source``)."""
    return name.endswith(JSON_LINES_EXTENSIONS)


def resolve_source(source_path: str, base_dir: Path) -> Path:
    """The real path of ``source_path`` inside ``base_dir``, or InvalidSourceError.

    Relative paths are taken from ``base_dir``. Whatever the route - ``..``, an absolute
    path, a symlink anywhere along it - the resolved file must lie inside the resolved
    base directory. Files with more than one hard link are refused too, since a link
    can point at any file of the same file system.
    """
    if not source_path or "\x00" in source_path:
        raise InvalidSourceError("source_path must be a non-empty path without NUL bytes")
    if not source_path.endswith(EXTENSIONS):
        raise InvalidSourceError(f"{source_path!r}: only {ACCEPTED} are imported")
    base = base_dir.resolve()
    try:
        real = (base / source_path).resolve()
    except (OSError, RuntimeError) as exc:
        raise InvalidSourceError(f"{source_path!r}: {exc}") from exc
    if not real.is_relative_to(base):
        raise InvalidSourceError(f"{source_path!r} is outside the import base directory {base}")
    if not real.name.endswith(EXTENSIONS):
        raise InvalidSourceError(
            f"{source_path!r} resolves to {real.name!r}; only {ACCEPTED} are imported"
        )
    try:
        info = real.stat()
    except OSError as exc:
        raise ImportFileError(f"{source_path!r} cannot be read: {exc.strerror}") from exc
    if not real.is_file():
        raise InvalidSourceError(f"{source_path!r} is not a regular file")
    if info.st_nlink > 1:
        raise InvalidSourceError(f"{source_path!r} has several hard links; copy it instead")
    return real


class RawFile(Protocol):
    """The bytes of an import file as stored: a local file, or an S3 object (ingest/s3.py)
    whose ``seek(0)`` reads the same version again."""

    def read(self, size: int = -1, /) -> bytes: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...

    def tell(self) -> int: ...


@dataclass
class OpenedSource:
    """An open import file: the decompressed stream plus what we know about its bytes."""

    path: PurePath  # its name says the format and whether it is gzip
    stream: BinaryIO
    raw: RawFile
    size: int
    hashing: _HashingReader
    # False once the stored file is not the one opened any more (rewritten in place).
    unchanged: Callable[[], bool]

    def rewind(self) -> BinaryIO:
        """A new stream from the start of the file (the parser may read it twice,
        ingest/stream.py); the digest starts over with it."""
        self.hashing.restart()
        self.stream = _decompressed(self.path, self.hashing)
        return self.stream

    @property
    def digest(self) -> hashlib._Hash:
        """The SHA-256 of the bytes read since the file was opened or last rewound."""
        return self.hashing.digest

    @property
    def bytes_read(self) -> int:
        """How far into the file (compressed bytes for .gz) reading has got."""
        return self.raw.tell()

    def unchanged_since_open(self) -> bool:
        """False when the file was rewritten in place while we read it."""
        return self.unchanged()


class _HashingReader:
    """Feeds every byte read through a SHA-256, so the staged bytes can be identified."""

    def __init__(self, raw: RawFile) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.digest.update(data)
        return data

    def restart(self) -> None:
        """Back to the first byte, with a new digest (OpenedSource.rewind)."""
        self._raw.seek(0)
        self.digest = hashlib.sha256()

    def tell(self) -> int:
        return self._raw.tell()


@contextmanager
def open_source(path: Path) -> Iterator[OpenedSource]:
    """Open a resolved import file for streaming; gzip is decompressed on the fly."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise ImportFileError(f"{path.name}: cannot be opened: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as raw:
        info = os.fstat(fd)

        def unchanged() -> bool:
            now = os.fstat(fd)
            return now.st_size == info.st_size and now.st_mtime_ns == info.st_mtime_ns

        yield opened(path, raw, info.st_size, unchanged)


def opened(path: PurePath, raw: RawFile, size: int, unchanged: Callable[[], bool]) -> OpenedSource:
    """``raw``, the bytes of the import file named ``path``, ready to stream."""
    hashing = _HashingReader(raw)
    return OpenedSource(path, _decompressed(path, hashing), raw, size, hashing, unchanged)


def _decompressed(path: PurePath, hashing: _HashingReader) -> BinaryIO:
    if path.name.endswith(".gz"):
        return gzip.GzipFile(fileobj=hashing, mode="rb")  # type: ignore[call-overload]
    return hashing  # type: ignore[return-value]
