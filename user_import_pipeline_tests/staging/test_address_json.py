"""The staged form of an address list (staging/stage_users.py): the spliced JSON of the usual
list is exactly what the JSON encoder writes, for every string of the naughty-strings corpus
in every field."""

from __future__ import annotations

import json

import pytest

from user_import_pipeline.ingest.validate import Address
from user_import_pipeline.staging.stage_users import _addresses_json
from user_import_pipeline_tests.corpora import CORPORA

NAUGHTY = json.loads((CORPORA / "big-list-of-naughty-strings" / "blns.json").read_text())
SPLICES = ['"', '","', '"],["', "\\", '\\"', "\x7f", "\u2028", "\x1f", "é ü 日本"]


def encoded(addresses: tuple[Address, ...]) -> str:
    return json.dumps(addresses, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize("field", range(5))
def test_every_string_in_every_field_stages_as_json_would(field: int) -> None:
    for text in NAUGHTY + SPLICES:
        values = ["Main St 1", "Springfield", "IL", "62701", "US"]
        values[field] = text
        one = Address(*values)
        for addresses in ((one,), (one, Address(*reversed(values))), (Address(*[text] * 5),)):
            staged = _addresses_json(addresses)
            assert staged == encoded(addresses), (text, staged)
            assert json.loads(staged) == [list(address) for address in addresses]


def test_an_empty_list_stages_as_an_empty_array() -> None:
    assert _addresses_json(()) == "[]"
