"""``incoming_files_sensor`` under an S3 base (CONTRACT §6.2), against a real S3 API on
127.0.0.1: the objects directly inside ``<prefix>incoming/`` are launched at first sight,
once per ETag; an upload in progress is not an object yet."""

from __future__ import annotations

import dagster as dg

from user_import_pipeline.ingest.s3 import S3Prefix
from user_import_pipeline.jobs.import_users import import_users
from user_import_pipeline.resources import ImportSettingsResource
from user_import_pipeline.sensors.incoming_files import incoming_files_sensor
from user_import_pipeline_tests.s3_server import S3Server

USERS = b'[{"name": "Ann", "email": "ann@example.com"}]'


def _tick(base: S3Prefix) -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(
        resources={"import_settings": ImportSettingsResource(base_dir=str(base))}
    )
    result = incoming_files_sensor(context)
    assert isinstance(result, dg.SensorResult | dg.SkipReason)
    return result


def _requests(base: S3Prefix) -> dict[str, dg.RunRequest]:
    result = _tick(base)
    assert isinstance(result, dg.SensorResult) and result.run_requests is not None
    return {request.tags["import_file"]: request for request in result.run_requests}


def test_an_object_is_launched_at_first_sight_under_a_key_of_its_etag(s3: S3Server) -> None:
    base = s3.new_prefix("imports/")
    etag = s3.put(base, "incoming/users.json", USERS).strip('"')

    [request] = _requests(base).values()

    assert request.run_key == f"incoming/users.json:{etag}"
    assert request.tags["import_file"] == "incoming/users.json"
    assert request.run_config["ops"]["claim_import"]["config"] == {
        "source_path": "incoming/users.json"
    }
    dg.validate_run_config(import_users, request.run_config)


def test_the_run_key_changes_with_the_content_only(s3: S3Server) -> None:
    """Dagster launches a run key once: an object left in place, or the same bytes uploaded
    again, keeps its key; other content gets a new one."""
    base = s3.new_prefix("imports/")
    s3.put(base, "incoming/users.json", USERS)
    first = _requests(base)["incoming/users.json"].run_key
    assert _requests(base)["incoming/users.json"].run_key == first
    s3.put(base, "incoming/users.json", USERS)
    assert _requests(base)["incoming/users.json"].run_key == first
    s3.put(base, "incoming/users.json", USERS.replace(b"Ann", b"Bob"))
    assert _requests(base)["incoming/users.json"].run_key != first


def test_only_importable_objects_directly_inside_incoming_are_launched(s3: S3Server) -> None:
    base = s3.new_prefix("imports/")
    for key in (
        "incoming/a.jsonl",
        "incoming/b.ndjson.gz",
        "incoming/.hidden.json",
        "incoming/c.json.part",
        "incoming/notes.txt",
        "incoming/d.JSON",
        "incoming/sub/e.json",
        "incoming/",
        "f.json",
        "incomingx/g.json",
    ):
        s3.put(base, key, USERS)
    s3.put(S3Prefix(base.bucket, ""), "incoming/h.json", USERS)  # beside the prefix

    assert sorted(_requests(base)) == ["incoming/a.jsonl", "incoming/b.ndjson.gz"]


def test_an_upload_in_progress_is_not_seen_until_it_completes(s3: S3Server) -> None:
    base = s3.new_prefix("imports/")
    key = f"{base.prefix}incoming/big.json"
    upload = s3.client.create_multipart_upload(Bucket=base.bucket, Key=key)
    part = s3.client.upload_part(
        Bucket=base.bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=USERS
    )
    assert _requests(base) == {}
    s3.client.complete_multipart_upload(
        Bucket=base.bucket,
        Key=key,
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert list(_requests(base)) == ["incoming/big.json"]


def test_a_bucket_that_cannot_be_listed_is_a_skip(s3: S3Server) -> None:
    result = _tick(S3Prefix("uip-no-such-bucket", "imports/"))
    assert isinstance(result, dg.SkipReason)
    assert "no folder to watch" in (result.skip_message or "")
    assert "NoSuchBucket" in (result.skip_message or "")
