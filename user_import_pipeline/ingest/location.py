"""Where import files are: ``IMPORT_BASE_DIR`` is a local folder (ingest/source.py) or an S3
prefix (ingest/s3.py). The rest of the import asks here, and reads either the same way."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from pathlib import Path

from user_import_pipeline.ingest.s3 import SCHEME, S3Object, S3Prefix, open_object
from user_import_pipeline.ingest.source import OpenedSource, open_source, resolve_source

Base = Path | S3Prefix  # a folder (absolute) or an S3 prefix
Found = Path | S3Object  # an import file inside it


def parse_base(base: str | Base) -> Base:
    """A base as configured: an ``s3://`` URL names an S3 prefix (ValueError when it is
    malformed), anything else a folder, made absolute."""
    if isinstance(base, S3Prefix):
        return base
    if isinstance(base, str) and base.startswith(SCHEME):
        return S3Prefix.parse(base)
    return Path(base).resolve()


def resolve(source_path: str, base: Base) -> Found:
    """The file ``source_path`` names inside ``base``: InvalidSourceError for a path that is
    refused, ImportFileError for a file that is missing or cannot be read."""
    if isinstance(base, Path):
        return resolve_source(source_path, base)
    return base.resolve(source_path)


def open_found(found: Found) -> AbstractContextManager[OpenedSource]:
    """Open a resolved file (or object) for streaming."""
    return open_source(found) if isinstance(found, Path) else open_object(found)


def stored_path(source_path: str, base: Base) -> str:
    """``source_path`` as a job stores it, and as the one-import-per-file rules compare it: a
    local path normalised (``a/./b.json`` is ``a/b.json``); an S3 path as given, since a key
    is taken as written (and ``s3://`` must keep both slashes)."""
    return os.path.normpath(source_path) if isinstance(base, Path) else source_path
