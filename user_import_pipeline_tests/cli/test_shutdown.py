"""Every ``user-import`` command leaves what it loaded out of the collection Python runs
at shutdown (cli/main.py): with Dagster loaded, that collection took 0.6-0.8 s of each
call. Run in this process, so the frozen objects can be seen and thawed again."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from user_import_pipeline.cli.main import cli


@pytest.fixture
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.parametrize(
    ("out", "exit_code"),
    [
        pytest.param("users.json", 0, id="succeeded"),
        pytest.param("users.csv", 2, id="refused"),  # not a format generate writes
    ],
)
def test_a_command_freezes_what_is_alive_when_it_ends(
    thawed: None, tmp_path: Path, out: str, exit_code: int
) -> None:
    assert gc.get_freeze_count() == 0
    result = CliRunner().invoke(cli, ["generate", "3", "--out", str(tmp_path / out)])
    assert result.exit_code == exit_code, result.output
    assert gc.get_freeze_count() > 0
