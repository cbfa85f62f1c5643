"""An S3 prefix as IMPORT_BASE_DIR (CONTRACT §6.1), against a real S3 API on 127.0.0.1: which
paths name an object inside it, and an opened object read like a local file - its bytes,
digest and progress, a rewind to the same version, and a replacement noticed."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from user_import_pipeline import settings
from user_import_pipeline.ingest.location import open_found, resolve
from user_import_pipeline.ingest.s3 import S3Object, S3Prefix
from user_import_pipeline.ingest.source import ImportFileError, InvalidSourceError
from user_import_pipeline_tests.s3_server import S3Server

pytestmark = pytest.mark.faults

CONTENT = b'[{"name": "Ann", "email": "ann@example.com"}]'
GZIPPED = gzip.compress(CONTENT, mtime=0)


@pytest.fixture
def base(s3: S3Server) -> S3Prefix:
    """``s3://<new bucket>/imports/`` holding users.json and more, with objects beside the
    prefix that a path must not reach."""
    prefix = s3.new_prefix("imports/")
    for name in ("users.json", "users.jsonl", "sub/nested.json", "users.txt", "a..b.json"):
        s3.put(prefix, name, CONTENT)
    s3.put(prefix, "users.json.gz", GZIPPED)
    root = S3Prefix(prefix.bucket, "")
    for key in ("outside.json", "imports-other/x.json", "x.json", "imports/x.json/y.json"):
        s3.put(root, key, CONTENT)
    return prefix


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://bucket", "bucket", ""),
        ("s3://bucket/", "bucket", ""),
        ("s3://bucket/in", "bucket", "in/"),
        ("s3://bucket/in/", "bucket", "in/"),
        ("s3://bucket/a/b/", "bucket", "a/b/"),
    ],
)
def test_an_s3_url_as_import_base_dir_is_a_bucket_and_a_folder_prefix(
    url: str, bucket: str, prefix: str
) -> None:
    assert settings.base_dir({"IMPORT_BASE_DIR": url}) == S3Prefix(bucket, prefix)
    assert str(S3Prefix(bucket, prefix)) == f"s3://{bucket}/{prefix}"


@pytest.mark.parametrize(
    "url", ["s3://", "s3:///in/", "s3://bucket/a//b/", "s3://bucket/../in/", "s3://bucket/./in"]
)
def test_a_malformed_s3_base_stops_the_settings(url: str) -> None:
    with pytest.raises(ValueError, match=r"^IMPORT_BASE_DIR: an S3 base must be"):
        settings.import_settings({"IMPORT_BASE_DIR": url})


@pytest.mark.parametrize(
    ("source_path", "key"),
    [
        ("users.json", "imports/users.json"),
        ("users.json.gz", "imports/users.json.gz"),
        ("users.jsonl", "imports/users.jsonl"),
        ("sub/nested.json", "imports/sub/nested.json"),
        ("a..b.json", "imports/a..b.json"),  # dots inside a name are no segment
        ("BUCKET_URL/imports/users.json", "imports/users.json"),
        ("BUCKET_URL/imports/sub/nested.json", "imports/sub/nested.json"),
    ],
)
def test_paths_inside_the_prefix_name_their_object(
    base: S3Prefix, source_path: str, key: str
) -> None:
    source_path = source_path.replace("BUCKET_URL", f"s3://{base.bucket}")
    assert resolve(source_path, base) == S3Object(base, key, source_path)


@pytest.mark.parametrize(
    ("source_path", "says"),
    [
        ("../outside.json", "segments are refused"),
        ("sub/../../outside.json", "segments are refused"),
        ("sub/../users.json", "segments are refused"),
        ("./users.json", "segments are refused"),
        ("sub//nested.json", "segments are refused"),
        ("/imports/users.json", "outside the import base directory"),
        ("BUCKET_URL/outside.json", "outside the import base directory"),
        ("BUCKET_URL/x.json", "outside the import base directory"),
        ("BUCKET_URL/imports-other/x.json", "outside the import base directory"),
        ("BUCKET_URL/imports/../outside.json", "segments are refused"),
        ("s3://another-bucket/imports/users.json", "outside the import base directory"),
        ("S3://BUCKET/imports/users.json", "segments are refused"),
        ("users.txt", "only .json, .jsonl and .ndjson"),
        ("users.JSON", "only .json, .jsonl and .ndjson"),
        ("x.json/", "only .json, .jsonl and .ndjson"),
        ("", "non-empty"),
        ("users\x00.json", "without NUL bytes"),
        ("x" * 1020 + ".json", "at most 1024 bytes"),
    ],
)
def test_paths_leaving_the_prefix_or_naming_no_import_file_are_refused(
    base: S3Prefix, source_path: str, says: str
) -> None:
    source_path = source_path.replace("BUCKET_URL", f"s3://{base.bucket}")
    with pytest.raises(InvalidSourceError, match=says):
        resolve(source_path, base)


def test_a_missing_object_is_a_file_error_not_a_refused_path(base: S3Prefix) -> None:
    with pytest.raises(ImportFileError, match=r"'missing\.json' cannot be read") as raised:
        resolve("missing.json", base)
    assert not isinstance(raised.value, InvalidSourceError)


def test_a_missing_bucket_is_a_file_error(s3: S3Server) -> None:
    with pytest.raises(ImportFileError, match="cannot be read"):
        resolve("users.json", S3Prefix("uip-no-such-bucket", ""))


def test_a_bucket_as_base_takes_keys_from_its_root(base: S3Prefix) -> None:
    root = S3Prefix(base.bucket, "")
    assert resolve("imports/users.json", root) == S3Object(
        root, "imports/users.json", "imports/users.json"
    )


def test_an_opened_object_streams_its_bytes_with_their_digest_and_progress(
    base: S3Prefix,
) -> None:
    with open_found(resolve("users.json.gz", base)) as source:
        assert source.size == len(GZIPPED)
        assert source.stream.read() == CONTENT
        assert source.bytes_read == source.size
        assert source.digest.hexdigest() == hashlib.sha256(GZIPPED).hexdigest()
        assert source.unchanged_since_open()


def test_a_rewind_reads_the_same_version_again(base: S3Prefix) -> None:
    with open_found(resolve("users.json", base)) as source:
        assert source.stream.read(10) == CONTENT[:10]
        stream = source.rewind()
        assert source.bytes_read == 0
        assert stream.read() == CONTENT
        assert source.digest.hexdigest() == hashlib.sha256(CONTENT).hexdigest()


def test_a_rewind_after_the_object_was_replaced_fails_the_file(
    s3: S3Server, base: S3Prefix
) -> None:
    with open_found(resolve("users.json", base)) as source:
        assert source.stream.read(10) == CONTENT[:10]
        s3.put(base, "users.json", CONTENT.replace(b"Ann", b"Bob"))
        with pytest.raises(ImportFileError, match="modified while it was being read"):
            source.rewind()


@pytest.mark.parametrize("change", ["replaced", "same-bytes-again", "deleted"])
def test_an_object_replaced_or_deleted_after_opening_is_seen_as_changed(
    s3: S3Server, base: S3Prefix, change: str
) -> None:
    with open_found(resolve("users.json", base)) as source:
        assert source.stream.read() == CONTENT
        if change == "replaced":
            s3.put(base, "users.json", CONTENT.replace(b"Ann", b"Bob"))
        elif change == "same-bytes-again":
            s3.put(base, "users.json", CONTENT)
        else:
            s3.client.delete_object(Bucket=base.bucket, Key="imports/users.json")
        # The same bytes uploaded again are the same version of the content (same ETag).
        assert source.unchanged_since_open() is (change == "same-bytes-again")
