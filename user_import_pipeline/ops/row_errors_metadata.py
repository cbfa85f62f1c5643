"""A finished import's failed rows as output metadata of ``finish_import``, so that its run
page shows what went wrong: how many rows of each code, and the first rows as a table."""

from __future__ import annotations

from typing import Any

import dagster as dg

from user_import_pipeline import row_errors
from user_import_pipeline.core.service import Log
from user_import_pipeline.db.client import Database
from user_import_pipeline.db.errors import DatabaseError
from user_import_pipeline.views import ERRORS_SHOWN

# Characters of a row's JSON in a table cell: enough to recognise the row; the whole of it
# (up to 4,096 characters) is one `user-import errors` away.
RAW_SHOWN = 200

BY_CODE = dg.TableSchema(
    columns=[
        dg.TableColumn("code", "string", description="CONTRACT §2.1"),
        dg.TableColumn("rows", "int", description="failed rows with this code"),
    ]
)
FIRST_ROWS = dg.TableSchema(
    columns=[
        dg.TableColumn("row_index", "int", description="0-based position in the file"),
        dg.TableColumn("code", "string"),
        dg.TableColumn("message", "string"),
        dg.TableColumn(
            "raw", "string", description=f"the row's JSON, first {RAW_SHOWN} characters"
        ),
    ]
)


def row_errors_metadata(database: Database, job_id: str, log: Log) -> dict[str, dg.MetadataValue]:
    """``failed_rows_by_code`` (most frequent first) and ``first_failed_rows`` (the first
    ``ERRORS_SHOWN`` by row index, as ``user-import status`` shows them); nothing, with a
    warning, when the database cannot say: the job has succeeded by then, and the run must
    not fail (nor retry a finish that is done) for what is only shown."""
    try:
        with database.session() as session:
            summary = row_errors.summarize(session, job_id, ERRORS_SHOWN)
    except DatabaseError as exc:
        log.warning(f"the failed rows of import job {job_id} are not shown here: {exc}")
        return {}
    return {
        "failed_rows_by_code": dg.MetadataValue.table(
            [dg.TableRecord(entry) for entry in summary["by_code"]], BY_CODE
        ),
        "first_failed_rows": dg.MetadataValue.table(
            [dg.TableRecord(_shown(row)) for row in summary["first_rows"]], FIRST_ROWS
        ),
    }


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    raw = row["raw"]
    if raw is not None and (row["raw_truncated"] or len(raw) > RAW_SHOWN):
        raw = raw[:RAW_SHOWN] + "…"
    return {
        "row_index": row["row_index"],
        "code": row["code"],
        "message": row["message"],
        "raw": raw,
    }
