import dagster as dg
import pytest

from user_import_pipeline.run_queue import ImportRunCoordinator
from user_import_pipeline.settings import import_workers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, 10, id="unset-means-10"),
        pytest.param("", 10, id="blank-means-10"),
        pytest.param("3", 3, id="lowers-the-limit"),
        pytest.param("1", 1, id="one-at-a-time"),
        pytest.param("10", 10, id="ten-is-the-maximum"),
        pytest.param("50", 10, id="above-ten-clamped"),
        pytest.param(" 7 ", 7, id="surrounding-spaces"),
    ],
)
def test_import_workers(value: str | None, expected: int) -> None:
    env = {} if value is None else {"IMPORT_WORKERS": value}
    assert import_workers(env) == expected


@pytest.mark.parametrize("value", ["zero", "0", "-2", "2.5"], ids=lambda v: f"refuses-{v}")
def test_nonsense_is_a_clear_error(value: str) -> None:
    with pytest.raises(ValueError, match="IMPORT_WORKERS"):
        import_workers({"IMPORT_WORKERS": value})


@pytest.mark.parametrize(("value", "expected"), [("3", 3), ("50", 10), (None, 10)])
def test_instance_from_dagster_yaml_uses_the_clamped_limit(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: int
) -> None:
    if value is None:
        monkeypatch.delenv("IMPORT_WORKERS", raising=False)
    else:
        monkeypatch.setenv("IMPORT_WORKERS", value)
    overrides = {
        "run_coordinator": {
            "module": "user_import_pipeline.run_queue",
            "class": "ImportRunCoordinator",
            "config": {
                "dequeue_use_threads": True,
                "tag_concurrency_limits": [
                    {"key": "import_file", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
                ],
            },
        }
    }
    with dg.instance_for_test(overrides=overrides) as instance:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, ImportRunCoordinator)
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None
        assert queue.max_concurrent_runs == expected
        assert queue.tag_concurrency_limits[0]["key"] == "import_file"


def test_instance_refuses_to_load_with_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPORT_WORKERS", "lots")
    overrides = {
        "run_coordinator": {
            "module": "user_import_pipeline.run_queue",
            "class": "ImportRunCoordinator",
        }
    }
    with (
        pytest.raises(Exception, match="IMPORT_WORKERS"),
        dg.instance_for_test(overrides=overrides) as instance,
    ):
        _ = instance.run_coordinator


def test_every_other_key_of_the_queue_config_is_passed_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Keys the coordinator does not name (here ``block_op_concurrency_limited_runs``) reach
    Dagster's queue as written; only the run limit comes from IMPORT_WORKERS."""
    monkeypatch.setenv("IMPORT_WORKERS", "4")
    overrides = {
        "run_coordinator": {
            "module": "user_import_pipeline.run_queue",
            "class": "ImportRunCoordinator",
            "config": {
                "max_concurrent_runs": 9,
                "block_op_concurrency_limited_runs": {
                    "enabled": True,
                    "op_concurrency_slot_buffer": 3,
                },
                "user_code_failure_retry_delay": 17,
            },
        }
    }
    with dg.instance_for_test(overrides=overrides) as instance:
        coordinator = instance.run_coordinator
        assert isinstance(coordinator, ImportRunCoordinator)
        queue = coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == 4
    assert queue.explicitly_enabled_concurrency_run_blocking
    assert queue.op_concurrency_slot_buffer == 3
    assert queue.user_code_failure_retry_delay == 17
