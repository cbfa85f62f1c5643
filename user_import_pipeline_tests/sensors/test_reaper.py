from collections.abc import Iterator

import dagster as dg
import psycopg
import pytest

from user_import_pipeline.jobs.import_users import import_users
from user_import_pipeline.resources import ImportSettingsResource, PostgresResource
from user_import_pipeline.runs import run_config, run_tags
from user_import_pipeline.sensors.reaper import import_jobs_reaper
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.webhooks import Receiver


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def _tick(
    dsn: str, instance: dg.DagsterInstance, alert_webhook_url: str | None = None
) -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(
        instance=instance,
        resources={
            "postgres": PostgresResource(dsn=dsn),
            "import_settings": ImportSettingsResource(alert_webhook_url=alert_webhook_url),
        },
    )
    result = import_jobs_reaper(context)
    assert isinstance(result, dg.SensorResult | dg.SkipReason)
    return result


def _job(dsn: str, **columns: str) -> str:
    """Insert an import_jobs row with the given columns (SQL expressions as strings)."""
    names = ", ".join(["source_path", *columns])
    values = ", ".join(["'users.json'", *columns.values()])
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(f"INSERT INTO import_jobs ({names}) VALUES ({values}) RETURNING id")
        found = row.fetchone()
        assert found is not None
        return str(found[0])


def _requested_jobs(result: dg.SensorResult | dg.SkipReason) -> list[str]:
    if isinstance(result, dg.SkipReason):
        return []
    assert result.run_requests is not None
    return [r.run_config["ops"]["claim_import"]["config"]["job_id"] for r in result.run_requests]


def test_a_job_queued_while_dagster_was_down_gets_a_run(
    importer: Importer, instance: dg.DagsterInstance
) -> None:
    job_id = _job(importer.dsn, created_at="now() - interval '1 minute'")
    result = _tick(importer.dsn, instance)
    assert _requested_jobs(result) == [job_id]
    assert isinstance(result, dg.SensorResult) and result.run_requests is not None
    request = result.run_requests[0]
    assert request.tags == run_tags("users.json", job_id)
    dg.validate_run_config(import_users, request.run_config)


def test_a_job_queued_just_now_is_left_to_its_own_run(
    importer: Importer, instance: dg.DagsterInstance
) -> None:
    _job(importer.dsn)
    assert _requested_jobs(_tick(importer.dsn, instance)) == []


def test_a_queued_job_with_a_run_waiting_in_the_queue_is_left_alone(
    importer: Importer, instance: dg.DagsterInstance
) -> None:
    job_id = _job(importer.dsn, created_at="now() - interval '1 minute'")
    instance.create_run_for_job(
        import_users,
        run_config=run_config("users.json", job_id),
        tags=run_tags("users.json", job_id),
    )
    assert _requested_jobs(_tick(importer.dsn, instance)) == []


def test_a_running_job_with_an_expired_lease_gets_a_new_run(
    importer: Importer, instance: dg.DagsterInstance
) -> None:
    job_id = _job(
        importer.dsn,
        status="'running'",
        attempts="1",
        lease_owner="'dead-run'",
        lease_expires_at="now() - interval '1 second'",
    )
    result = _tick(importer.dsn, instance)
    assert _requested_jobs(result) == [job_id]
    assert isinstance(result, dg.SensorResult) and result.run_requests is not None
    assert result.run_requests[0].run_key == f"{job_id}:1"


def test_a_running_job_with_a_live_lease_is_left_alone(
    importer: Importer, instance: dg.DagsterInstance
) -> None:
    _job(
        importer.dsn,
        status="'running'",
        attempts="1",
        lease_owner="'live-run'",
        lease_expires_at="now() + interval '1 minute'",
    )
    assert _requested_jobs(_tick(importer.dsn, instance)) == []


def test_a_dead_job_out_of_attempts_is_failed_with_the_reason(
    importer: Importer, instance: dg.DagsterInstance, receiver: Receiver
) -> None:
    job_id = _job(
        importer.dsn,
        status="'running'",
        attempts="3",
        lease_owner="'dead-run'",
        lease_expires_at="now() - interval '1 second'",
    )
    with psycopg.connect(importer.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE UNLOGGED TABLE "stg_users_{job_id.replace("-", "")}" (a int)')
    assert _requested_jobs(_tick(importer.dsn, instance, receiver.url)) == []
    [job] = importer.query("SELECT * FROM import_jobs WHERE id = %s", (job_id,))
    assert job["status"] == "failed"
    assert "gave up after 3 attempts" in job["error_message"]
    [alert] = receiver.messages
    assert (alert["job_id"], alert["outcome"]) == (job_id, "failed")
    assert alert["error"] == job["error_message"]
    assert "dead-run" in job["error_message"]
    assert job["finished_at"] is not None
    staging = importer.query(
        "SELECT to_regclass(%s) AS t", (f"stg_users_{job_id.replace('-', '')}",)
    )
    assert staging[0]["t"] is None
