"""Alerts: a failed import, or one with too many bad rows, is POSTed as JSON to the webhook
(``IMPORT_ALERT_WEBHOOK_URL``), here a real HTTP receiver on 127.0.0.1; a good import sends
nothing, and a receiver that is down changes nothing about the import."""

from __future__ import annotations

import uuid

import pytest

from user_import_pipeline.core.alerts import Webhook
from user_import_pipeline.core.outcomes import Done, Failed, RunInfo
from user_import_pipeline.core.service import ImportService
from user_import_pipeline.jobs.import_users import import_users
from user_import_pipeline.resources import resources
from user_import_pipeline.settings import ImportSettings
from user_import_pipeline_tests.importing import Importer
from user_import_pipeline_tests.webhooks import Receiver

DAGSTER = "http://dagster.example:3000"


def service(importer: Importer, url: str, threshold: float = 0.05) -> ImportService:
    settings = ImportSettings(importer.base_dir.resolve(), bad_row_threshold=threshold)
    return ImportService(importer.database, settings, alerts=Webhook(url, DAGSTER))


GOOD = [{"name": "Ann", "email": "ann@example.com"}, {"name": "Bob", "email": "bob@example.com"}]


def test_a_failed_import_is_posted_with_its_error_and_run(
    importer: Importer, receiver: Receiver
) -> None:
    importer.base_dir.joinpath("broken.json").write_text('[{"name": "Ann"')
    run = RunInfo.first(str(uuid.uuid4()))
    outcome = service(importer, receiver.url).run(run, source_path="broken.json")
    assert isinstance(outcome, Failed)
    [job] = importer.query("SELECT id FROM import_jobs")
    assert receiver.messages == [
        {
            "job_id": str(job["id"]),
            "source_path": "broken.json",
            "dry_run": False,
            "outcome": "failed",
            "error": outcome.message,
            "bad_row_rate": 0.0,
            "run_url": f"{DAGSTER}/runs/{run.run_id}",
        }
    ]
    assert "truncated" in outcome.message


def test_an_import_over_the_bad_row_threshold_is_posted_and_a_good_one_is_not(
    importer: Importer, receiver: Receiver
) -> None:
    importer.write("good.json", GOOD)
    importer.write("bad.json", [*GOOD[:1], {"name": "No email"}])
    good = service(importer, receiver.url).run(source_path="good.json")
    assert isinstance(good, Done) and receiver.messages == []

    bad = service(importer, receiver.url, threshold=0.4).run(source_path="bad.json")

    assert isinstance(bad, Done) and bad.value["status"] == "succeeded"
    [message] = receiver.messages
    assert (message["outcome"], message["source_path"]) == ("too_many_bad_rows", "bad.json")
    assert message["bad_row_rate"] == 0.5
    assert "50.0% of the rows were bad, more than the threshold of 40.0%" in message["error"]


def test_an_unreachable_receiver_changes_nothing(importer: Importer) -> None:
    importer.base_dir.joinpath("broken.json").write_text("[")
    outcome = service(importer, "http://127.0.0.1:1/alerts").run(source_path="broken.json")
    assert isinstance(outcome, Failed)
    [job] = importer.query("SELECT status FROM import_jobs")
    assert job["status"] == "failed"


def test_a_dagster_run_alerts_through_the_setting(
    importer: Importer, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPORT_ALERT_WEBHOOK_URL", receiver.url)
    importer.base_dir.joinpath("broken.json").write_text("{}")
    result = import_users.execute_in_process(
        run_config={"ops": {"claim_import": {"config": {"source_path": "broken.json"}}}},
        resources=resources(importer.dsn, base_dir=str(importer.base_dir)),
        raise_on_error=False,
    )
    assert not result.success
    [message] = receiver.messages
    assert message["outcome"] == "failed" and message["run_url"].endswith(result.run_id)
    assert "top level must be a JSON array" in message["error"]
