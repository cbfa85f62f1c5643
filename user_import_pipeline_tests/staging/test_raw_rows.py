"""A row that fails while it is staged keeps its raw JSON in ``import_job_errors`` (CONTRACT
§2.1): an array item as the parser read it, a JSON Lines row as its line's text, at most
4,096 characters, ``raw_truncated`` when cut. Valid rows keep nothing."""

from __future__ import annotations

import json

from user_import_pipeline_tests.importing import Importer

ADDRESS = {"street": "1 Main St", "city": "Springfield", "state": "IL", "zip_code": 62701,
           "country": "US"}  # fmt: skip


def raws(importer: Importer, source_path: str) -> dict[int, tuple[str, str, bool]]:
    """The row errors of an import: row index → (code, raw, raw_truncated)."""
    outcome = importer.run(source_path)
    assert outcome.succeeded, outcome.message
    assert outcome.job is not None
    rows = importer.query(
        "SELECT row_index, code, raw, raw_truncated FROM import_job_errors WHERE job_id = %s",
        (outcome.job["id"],),
    )
    return {row["row_index"]: (row["code"], row["raw"], row["raw_truncated"]) for row in rows}


def test_each_validation_error_keeps_the_item_as_json(importer: Importer) -> None:
    document = """[
      {"name": "Valid", "email": "valid@example.com"},
      "just text",
      [1, {"a": 2.50}],
      {"id": true, "name": "Typed", "email": "t@example.com", "extra": {"k": [1, null]}},
      {"id": "u-3", "name": "No Email", "phone_number": 123456789012345678901234567890},
      {"name": "Bad Email", "email": "not an email"},
      {"name": "Zoë\\u0000", "email": "z@example.com"},
      {"name": "Long", "email": "l@example.com", "phone_number": "1234567890123456789012345678901234"},
      {"name": "No City", "email": "c@example.com", "addresses": [{"street": "s"}]}
    ]"""  # noqa: E501
    (importer.base_dir / "users.json").write_text(document, encoding="utf-8")

    assert raws(importer, "users.json") == {
        1: ("not_an_object", '"just text"', False),
        2: ("not_an_object", '[1,{"a":2.50}]', False),
        3: ("invalid_type",
            '{"id":true,"name":"Typed","email":"t@example.com","extra":{"k":[1,null]}}', False),
        4: ("missing_field",
            '{"id":"u-3","name":"No Email","phone_number":123456789012345678901234567890}',
            False),
        5: ("invalid_email", '{"name":"Bad Email","email":"not an email"}', False),
        6: ("invalid_characters", '{"name":"Zoë\\u0000","email":"z@example.com"}', False),
        7: ("value_too_long",
            '{"name":"Long","email":"l@example.com","phone_number":'
            '"1234567890123456789012345678901234"}', False),
        8: ("invalid_address",
            '{"name":"No City","email":"c@example.com","addresses":[{"street":"s"}]}', False),
    }  # fmt: skip
    assert importer.query("SELECT count(*) AS n FROM import_job_errors WHERE raw IS NULL") == [
        {"n": 0}
    ]


def test_a_10_kib_row_keeps_its_first_4096_characters(importer: Importer) -> None:
    note = "n" * 10 * 1024
    importer.write("users.json", [{"name": "Big", "note": note, "addresses": [ADDRESS] * 20}])
    ((code, raw, truncated),) = raws(importer, "users.json").values()
    assert (code, truncated) == ("missing_field", True)
    assert raw == ('{"name":"Big","note":"' + note)[:4096]


def test_a_row_of_exactly_4096_characters_is_whole(importer: Importer) -> None:
    row = {"name": "Big", "note": ""}
    row["note"] = "n" * (4096 - len(json.dumps(row, separators=(",", ":"))))
    importer.write("users.json", [row])
    ((_, raw, truncated),) = raws(importer, "users.json").values()
    assert (len(raw), truncated) == (4096, False)
    assert json.loads(raw) == row


def test_after_a_handover_a_row_keeps_what_the_careful_parser_read(importer: Importer) -> None:
    """An item over 1 MiB hands the file to the careful parser, which keeps only the keys
    validation reads and the first 1,024 characters of a string beyond every limit: the
    raw of a later bad row shows that, and says it is not all of the row."""
    big = {"name": "Big", "email": "big@example.com", "bio": "b" * (2 * 1024 * 1024)}
    bad = {"name": "x" * 5000, "email": "e@example.com", "note": "dropped", "phone_number": 1}
    importer.write("users.json", [big, bad])
    assert raws(importer, "users.json") == {
        1: ("value_too_long",
            '{"name":"' + "x" * 1024 + '","email":"e@example.com","phone_number":1}', True),
    }  # fmt: skip


def test_a_json_lines_row_keeps_its_line(importer: Importer) -> None:
    lines = [
        b'{"name": "Valid", "email": "valid@example.com"}',
        b'{"name": "Broken", "email": ',
        b"  42  ",
        b'{"id": "u-1",   "name": "No Email"}',
        b'{"name": "Caf\xc3\xa9 \xff", "email": "c@example.com"',
    ]
    (importer.base_dir / "users.jsonl").write_bytes(b"\r\n\n".join(lines) + b"\r\n")

    assert raws(importer, "users.jsonl") == {
        1: ("invalid_json", '{"name": "Broken", "email": ', False),
        2: ("not_an_object", "  42  ", False),
        3: ("missing_field", '{"id": "u-1",   "name": "No Email"}', False),
        4: ("invalid_json", '{"name": "Café \ufffd", "email": "c@example.com"', False),
    }


def test_a_long_json_lines_row_is_cut(importer: Importer) -> None:
    line = json.dumps({"name": "Big", "note": "é" * 10_000}, ensure_ascii=False)
    (importer.base_dir / "users.jsonl").write_text(line + "\n{}\n", encoding="utf-8")
    assert raws(importer, "users.jsonl") == {
        0: ("missing_field", line[:4096], True),
        1: ("missing_field", "{}", False),
    }
