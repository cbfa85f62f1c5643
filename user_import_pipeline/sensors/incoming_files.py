"""``incoming_files_sensor``: import each new or changed file dropped in ``incoming/``.

A file is launched once its size and modification time have stayed the same across two
ticks and it has not been touched for a few seconds, so a file still being written is
left alone. The run key is the path plus that size and mtime: Dagster launches a key only
once, so a file left in place is not imported again, and a changed file is imported once
more. Dotfiles and anything but ``.json``, ``.jsonl``, ``.ndjson`` and their ``.gz`` (e.g.
``.part``) are ignored; writers that can should write under a temporary name and rename.

Under an S3 base the objects directly inside ``<prefix>incoming/`` are listed instead. S3
lists an object only once its upload is complete, so an object is launched when first
seen, under a run key of its key and ETag: each version of its content is imported once.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import dagster as dg

from user_import_pipeline.ingest.s3 import S3Prefix
from user_import_pipeline.ingest.source import EXTENSIONS, ImportFileError, is_utf8
from user_import_pipeline.jobs.import_users import import_users
from user_import_pipeline.resources import ImportSettingsResource
from user_import_pipeline.runs import run_config, run_tags

INCOMING = "incoming"
SETTLE_NS = 2_000_000_000


@dg.sensor(
    job=import_users,
    minimum_interval_seconds=5,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Imports every new or changed .json, .jsonl or .ndjson file (or .gz of one) "
    "in $IMPORT_BASE_DIR/incoming",
)
def incoming_files_sensor(
    context: dg.SensorEvaluationContext, import_settings: ImportSettingsResource
) -> dg.SensorResult | dg.SkipReason:
    base = import_settings.resolve().base_dir
    if isinstance(base, S3Prefix):
        return _incoming_objects(base)
    try:
        folder = incoming_folder(base)
    except OSError as exc:
        return dg.SkipReason(f"no folder to watch: {exc}")
    previous: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    seen = _candidates(folder)
    settled_before = time.time_ns() - SETTLE_NS
    requests = [
        _request(name, signature)
        for name, (signature, mtime_ns) in seen.items()
        if previous.get(name) == signature and mtime_ns < settled_before
    ]
    cursor = json.dumps({name: signature for name, (signature, _) in seen.items()})
    return dg.SensorResult(run_requests=requests, cursor=cursor)


def _incoming_objects(base: S3Prefix) -> dg.SensorResult | dg.SkipReason:
    """Every importable object of ``<prefix>incoming/`` (see the module docstring)."""
    try:
        listed = base.names_in(INCOMING)
    except ImportFileError as exc:
        return dg.SkipReason(f"no folder to watch: {exc}")
    return dg.SensorResult(
        run_requests=[_request(name, etag) for name, etag in listed.items() if _importable(name)]
    )


def _request(name: str, signature: str) -> dg.RunRequest:
    """The run of ``incoming/<name>``; ``signature`` says which version of it."""
    return dg.RunRequest(
        run_key=f"{INCOMING}/{name}:{signature}",
        run_config=run_config(source_path=f"{INCOMING}/{name}"),
        tags=run_tags(f"{INCOMING}/{name}"),
    )


def _importable(name: str) -> bool:
    """Not a dotfile, an accepted extension, and a name we can pass on as text (claim_import
    would refuse one that is not UTF-8)."""
    return not name.startswith(".") and name.endswith(EXTENSIONS) and is_utf8(name)


def incoming_folder(base_dir: Path) -> Path:
    """``<base_dir>/incoming``, made when missing: a user's first drop must find it."""
    folder = base_dir / INCOMING
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _candidates(folder: os.PathLike[str]) -> dict[str, tuple[str, int]]:
    """Importable files of the folder: name → ("size:mtime_ns", mtime_ns)."""
    found = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if not _importable(entry.name) or not entry.is_file(follow_symlinks=False):
                continue
            info = entry.stat(follow_symlinks=False)
            found[entry.name] = (f"{info.st_size}:{info.st_mtime_ns}", info.st_mtime_ns)
    return found
