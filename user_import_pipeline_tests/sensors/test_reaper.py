import dagster as dg
import psycopg
import pytest

from user_import_pipeline.jobs.import_users import import_users
from user_import_pipeline.resources import PostgresResource
from user_import_pipeline.runs import run_config, run_tags
from user_import_pipeline.sensors.reaper import import_jobs_reaper


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def _tick(dsn, instance):
    context = dg.build_sensor_context(
        instance=instance, resources={"postgres": PostgresResource(dsn=dsn)}
    )
    return import_jobs_reaper(context)


def _job(dsn, **columns):
    """Insert an import_jobs row with the given columns (SQL expressions as strings)."""
    names = ", ".join(["source_path", *columns])
    values = ", ".join(["'users.json'", *columns.values()])
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(f"INSERT INTO import_jobs ({names}) VALUES ({values}) RETURNING id")
        return str(row.fetchone()[0])


def _requested_jobs(result):
    if isinstance(result, dg.SkipReason):
        return []
    return [r.run_config["ops"]["claim_import"]["config"]["job_id"] for r in result.run_requests]


def test_a_job_queued_while_dagster_was_down_gets_a_run(importer, instance):
    job_id = _job(importer.dsn, created_at="now() - interval '1 minute'")
    result = _tick(importer.dsn, instance)
    assert _requested_jobs(result) == [job_id]
    request = result.run_requests[0]
    assert request.tags == run_tags("users.json", job_id)
    dg.validate_run_config(import_users, request.run_config)


def test_a_job_queued_just_now_is_left_to_its_own_run(importer, instance):
    _job(importer.dsn)
    assert _requested_jobs(_tick(importer.dsn, instance)) == []


def test_a_queued_job_with_a_run_waiting_in_the_queue_is_left_alone(importer, instance):
    job_id = _job(importer.dsn, created_at="now() - interval '1 minute'")
    instance.create_run_for_job(
        import_users, run_config=run_config(job_id=job_id), tags=run_tags("users.json", job_id)
    )
    assert _requested_jobs(_tick(importer.dsn, instance)) == []


def test_a_running_job_with_an_expired_lease_gets_a_new_run(importer, instance):
    job_id = _job(
        importer.dsn,
        status="'running'",
        attempts="1",
        lease_owner="'dead-run'",
        lease_expires_at="now() - interval '1 second'",
    )
    result = _tick(importer.dsn, instance)
    assert _requested_jobs(result) == [job_id]
    assert result.run_requests[0].run_key == f"{job_id}:1"


def test_a_running_job_with_a_live_lease_is_left_alone(importer, instance):
    _job(
        importer.dsn,
        status="'running'",
        attempts="1",
        lease_owner="'live-run'",
        lease_expires_at="now() + interval '1 minute'",
    )
    assert _requested_jobs(_tick(importer.dsn, instance)) == []


def test_a_dead_job_out_of_attempts_is_failed_with_the_reason(importer, instance):
    job_id = _job(
        importer.dsn,
        status="'running'",
        attempts="3",
        lease_owner="'dead-run'",
        lease_expires_at="now() - interval '1 second'",
    )
    with psycopg.connect(importer.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE UNLOGGED TABLE "stg_users_{job_id.replace("-", "")}" (a int)')
    assert _requested_jobs(_tick(importer.dsn, instance)) == []
    [job] = importer.query("SELECT * FROM import_jobs WHERE id = %s", (job_id,))
    assert job["status"] == "failed"
    assert "gave up after 3 attempts" in job["error_message"]
    assert "dead-run" in job["error_message"]
    assert job["finished_at"] is not None
    staging = importer.query(
        "SELECT to_regclass(%s) AS t", (f"stg_users_{job_id.replace('-', '')}",)
    )
    assert staging[0]["t"] is None
