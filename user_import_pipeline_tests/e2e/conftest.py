"""A running Dagster deployment (webserver + daemon processes) for the end-to-end tests."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pluggy
import pytest

from user_import_pipeline_tests.stack import LIVE, Stack, dagster_stack


@pytest.fixture(scope="module")
def stack(server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Webserver and daemon for this module, with IMPORT_WORKERS unset (limit 10)."""
    with dagster_stack(server_url, tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    """On failure, attach the tails of the webserver and daemon logs of every stack up."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for running in LIVE:
            report.sections.append((f"dagster logs ({running.root})", running.log_tails()))
