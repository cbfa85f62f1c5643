"""``users`` and ``addresses`` as Dagster assets: each import that writes them records a
materialization with its job, counts and the table's row count, the ``bad_row_rate`` check
runs with it (a warning above the threshold), and the run carries the counts as tags."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from user_import_pipeline.assets import ADDRESSES, BAD_ROW_RATE, USERS
from user_import_pipeline.definitions import defs
from user_import_pipeline.jobs.import_users import import_users
from user_import_pipeline.resources import resources
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.ops.resuming import SOURCE

CHECK = dg.AssetCheckKey(USERS, BAD_ROW_RATE)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def run_import(
    importer: Importer,
    instance: dg.DagsterInstance,
    threshold: float | None = None,
    dry_run: bool = False,
) -> dg.ExecuteInProcessResult:
    config: dict[str, Any] = {"source_path": SOURCE, "dry_run": dry_run}
    result = import_users.execute_in_process(
        run_config={"ops": {"claim_import": {"config": config}}},
        resources=resources(
            importer.dsn, base_dir=str(importer.base_dir), bad_row_threshold=threshold
        ),
        instance=instance,
    )
    assert result.success
    return result


def latest_check(instance: dg.DagsterInstance) -> Any:
    [record] = instance.event_log_storage.get_asset_check_execution_history(CHECK, limit=1)
    return record


def test_an_import_materializes_both_tables_and_checks_its_bad_rows(
    seeded: Importer, instance: dg.DagsterInstance
) -> None:
    result = run_import(seeded, instance)
    job = seeded.job_of_run(result.run_id)
    assert job is not None

    rows = seeded.query(
        "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM addresses) AS a"
    )[0]
    for key, count in ((USERS, rows["users"]), (ADDRESSES, rows["a"])):
        event = instance.get_latest_materialization_event(key)
        assert event is not None and event.run_id == result.run_id
        materialization = event.asset_materialization
        assert materialization is not None
        metadata = {name: value.value for name, value in materialization.metadata.items()}
        assert metadata["job_id"] == str(job["id"])
        assert metadata["row_count"] == count
        assert (metadata["imported_count"], metadata["failed_count"]) == (23, 4)

    # 4 bad rows of 53 is 7.5%, above the default 5%: a warning, the import still succeeded.
    check = latest_check(instance)
    evaluation = check.event.dagster_event.event_specific_data
    assert check.run_id == result.run_id
    assert evaluation.passed is False
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    assert evaluation.metadata["threshold"].value == 0.05
    assert job["progress_processed"] == 53
    assert round(evaluation.metadata["bad_row_rate"].value, 4) == round(4 / 53, 4)

    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    assert {k: v for k, v in run.tags.items() if k.startswith("import/")} == {
        "import/imported": "23",
        "import/updated": "13",
        "import/unchanged": "12",
        "import/failed": "4",
    }


def test_the_threshold_comes_from_config(seeded: Importer, instance: dg.DagsterInstance) -> None:
    run_import(seeded, instance, threshold=0.1)
    assert latest_check(instance).event.dagster_event.event_specific_data.passed is True


def test_a_dry_run_materializes_nothing(seeded: Importer, instance: dg.DagsterInstance) -> None:
    result = run_import(seeded, instance, dry_run=True)
    assert instance.get_latest_materialization_event(USERS) is None
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.tags["import/dry_run"] == "true"


def test_the_check_runs_on_its_own_on_the_last_import(
    seeded: Importer, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_import(seeded, instance, threshold=0.5)
    monkeypatch.setenv("DATABASE_URL", seeded.dsn)
    monkeypatch.setenv("IMPORT_BASE_DIR", str(seeded.base_dir))
    checked = defs.resolve_implicit_global_asset_job_def().execute_in_process(instance=instance)
    assert checked.success
    [evaluation] = checked.get_asset_check_evaluations()
    assert (evaluation.check_name, evaluation.passed) == (BAD_ROW_RATE, False)
    assert evaluation.metadata["failed"].value == 4
