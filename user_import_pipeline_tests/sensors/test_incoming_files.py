import os
import time
from pathlib import Path

import dagster as dg

from user_import_pipeline.jobs.import_users import import_users
from user_import_pipeline.resources import ImportSettingsResource
from user_import_pipeline.sensors.incoming_files import incoming_files_sensor


def _tick(base_dir: Path, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(
        cursor=cursor, resources={"import_settings": ImportSettingsResource(base_dir=str(base_dir))}
    )
    result = incoming_files_sensor(context)
    assert isinstance(result, dg.SensorResult | dg.SkipReason)
    return result


def _age(path: Path, seconds: float = 10) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def _keys(result: dg.SensorResult | dg.SkipReason) -> list[str | None]:
    assert isinstance(result, dg.SensorResult) and result.run_requests is not None
    return [request.run_key for request in result.run_requests]


def test_a_file_is_launched_once_it_held_still_for_two_ticks(tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    users = incoming / "users.json"
    users.write_text("[]")
    _age(users)
    first = _tick(tmp_path, None)
    assert isinstance(first, dg.SensorResult)
    assert _keys(first) == []
    second = _tick(tmp_path, first.cursor)
    assert isinstance(second, dg.SensorResult) and second.run_requests is not None
    assert len(second.run_requests) == 1
    request = second.run_requests[0]
    assert request.tags["import_file"] == "incoming/users.json"
    config = request.run_config["ops"]["claim_import"]["config"]
    assert config == {"source_path": "incoming/users.json"}
    dg.validate_run_config(import_users, request.run_config)
    # Same file on the next tick: the same run key (Dagster launches a key once).
    third = _tick(tmp_path, second.cursor)
    assert _keys(third) == _keys(second)


def test_a_changed_file_gets_a_new_run_key(tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    users = incoming / "users.json"
    users.write_text("[]")
    _age(users, 20)
    first = _tick(tmp_path, None)
    assert isinstance(first, dg.SensorResult)
    cursor = first.cursor
    before = _keys(_tick(tmp_path, cursor))
    users.write_text('[{"name": "a", "email": "a@b.c"}]')
    _age(users, 10)
    changed = _tick(tmp_path, cursor)
    assert isinstance(changed, dg.SensorResult)
    cursor = changed.cursor
    after = _keys(_tick(tmp_path, cursor))
    assert before and after and before != after


def test_a_file_still_growing_is_not_launched(tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    users = incoming / "users.json"
    cursor = None
    for part in ("[", '{"name": "a",', '"email": "a@b.c"}', "]"):
        with users.open("a") as handle:
            handle.write(part)
        result = _tick(tmp_path, cursor)
        assert isinstance(result, dg.SensorResult)
        assert _keys(result) == []
        cursor = result.cursor


def test_a_file_touched_just_now_waits_to_settle(tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "users.json").write_text("[]")
    first = _tick(tmp_path, None)
    assert isinstance(first, dg.SensorResult)
    cursor = first.cursor
    assert _keys(_tick(tmp_path, cursor)) == []


def test_dotfiles_part_files_other_extensions_symlinks_and_non_utf8_names_are_ignored(
    tmp_path: Path,
) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    outside = tmp_path / "outside.json"
    outside.write_text("[]")
    not_utf8 = os.fsdecode(b"\xff.json")
    for name in (".hidden.json", "users.json.part", "notes.txt", "data.csv", not_utf8):
        (incoming / name).write_text("[]")
        _age(incoming / name)
    (incoming / "link.json").symlink_to(outside)
    (incoming / "sub.json").mkdir()
    (incoming / "ok.json.gz").write_bytes(b"")
    _age(incoming / "ok.json.gz")
    first = _tick(tmp_path, None)
    assert isinstance(first, dg.SensorResult)
    cursor = first.cursor
    assert _keys(_tick(tmp_path, cursor)) == [
        f"incoming/ok.json.gz:0:{(incoming / 'ok.json.gz').stat().st_mtime_ns}"
    ]


def test_json_lines_files_are_launched_too(tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    names = ["users.jsonl", "users.ndjson.gz", "users.jsonl.part", "users.JSONL"]
    for name in names:
        (incoming / name).write_text('{"name": "a", "email": "a@b.c"}\n')
        _age(incoming / name)
    first = _tick(tmp_path, None)
    assert isinstance(first, dg.SensorResult)
    second = _tick(tmp_path, first.cursor)
    assert isinstance(second, dg.SensorResult) and second.run_requests is not None
    launched = {request.tags["import_file"]: request for request in second.run_requests}
    assert sorted(launched) == ["incoming/users.jsonl", "incoming/users.ndjson.gz"]
    config = launched["incoming/users.jsonl"].run_config["ops"]["claim_import"]["config"]
    assert config == {"source_path": "incoming/users.jsonl"}


def test_a_missing_incoming_folder_is_made(tmp_path: Path) -> None:
    result = _tick(tmp_path, None)
    assert isinstance(result, dg.SensorResult) and not result.run_requests
    assert (tmp_path / "incoming").is_dir()


def test_an_incoming_folder_that_cannot_be_made_is_a_skip(tmp_path: Path) -> None:
    (tmp_path / "incoming").write_text("a file where the folder belongs")
    result = _tick(tmp_path, None)
    assert isinstance(result, dg.SkipReason)
    assert "no folder to watch" in (result.skip_message or "")
