"""deploy/helm/values.yaml against Dagster's Helm chart, without Helm and without a network.

Two checks:

1. **The chart's JSON schema** (``helm_chart/values.schema.json``, with the Kubernetes
   definitions it refers to resolved from ``helm_chart/kubernetes-definitions.json``; see
   ``helm_chart/README.md`` for where both come from). Helm validates the values *merged
   with the chart's defaults*; the defaults are not vendored, so the one thing this check
   leaves to them is a ``required`` key of a map (Helm merges maps key by key, and the
   chart's defaults fill every required key of its maps). Everything else is checked as
   Helm checks it: types, enums, unknown keys where the chart forbids them, and
   ``required`` inside list items (Helm replaces lists whole: a list item gets nothing
   from the defaults), which is where the user deployment and the env entries live.

2. **The dagster.yaml the chart would write** from these values, checked with Dagster's
   own instance validation (``instance_config``). There is no helm binary here, so
   ``chart_instance_config`` below is a hand-written mapping of the chart's
   ``templates/configmap-instance.yaml`` and its helpers
   (``templates/helpers/instance/_run-launcher.tpl``, ``_run-coordinator.tpl``,
   ``_postgresql.tpl``) for the keys our values set; keys the template fills from the
   chart's defaults or from the release get the chart's default values, named as constants.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._core.run_coordinator import QueuedRunCoordinator
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from user_import_pipeline_tests.deploy import instance_config

REPO = Path(__file__).resolve().parents[2]
VALUES = REPO / "deploy" / "helm" / "values.yaml"
CHART = Path(__file__).resolve().parent / "helm_chart"
KUBERNETES_DEFINITIONS_URL = (
    "https://raw.githubusercontent.com/yannh/kubernetes-json-schema/master/v1.19.0/"
    "_definitions.json"
)

# What the chart's templates take from its defaults or from the release, for a release
# named "user-import" in the namespace "user-import".
RELEASE_FULLNAME = "user-import-dagster"
RELEASE_NAMESPACE = "user-import"
CHART_DAGSTER_HOME = "/opt/dagster/dagster_home"  # global.dagsterHome
CHART_RUN_IMAGE_PULL_POLICY = "Always"  # runLauncher.config.k8sRunLauncher.imagePullPolicy
CHART_LOAD_INCLUSTER_CONFIG = True  # runLauncher.config.k8sRunLauncher.loadInclusterConfig


def values() -> dict[str, Any]:
    return dict(yaml.safe_load(VALUES.read_text()))


def schema_validator() -> Draft202012Validator:
    schema = json.loads((CHART / "values.schema.json").read_text())
    kubernetes = json.loads((CHART / "kubernetes-definitions.json").read_text())
    registry: Registry[Any] = Registry().with_resource(
        KUBERNETES_DEFINITIONS_URL,
        Resource.from_contents(kubernetes, default_specification=DRAFT202012),
    )
    return Draft202012Validator(schema, registry=registry)


def _left_to_chart_defaults(error: ValidationError) -> bool:
    """True when Helm's merge with the chart's defaults would make this error go away: a
    required key missing from a map (no list item on the way), or an anyOf/oneOf one of
    whose branches fails only for such keys."""
    if error.validator == "required":
        return all(isinstance(step, str) for step in error.absolute_path)
    if error.validator in ("anyOf", "oneOf"):
        by_branch: dict[Any, list[ValidationError]] = defaultdict(list)
        for sub in error.context or []:
            by_branch[sub.relative_schema_path[0]].append(sub)
        return any(
            all(_left_to_chart_defaults(sub) for sub in errors) for errors in by_branch.values()
        )
    return False


def _described(error: ValidationError) -> str:
    """The error at its place, and for anyOf/oneOf the reasons each branch failed."""
    where = "/".join(str(step) for step in error.absolute_path)
    reasons = [_described(sub) for sub in error.context or [] if not _left_to_chart_defaults(sub)]
    return f"{where}: {error.message}" + "".join(f"\n  - {reason}" for reason in reasons)


def schema_errors(candidate: Mapping[str, Any]) -> list[str]:
    """What the chart's schema refuses in ``candidate`` (as Helm would, after its merge)."""
    errors: Iterator[ValidationError] = schema_validator().iter_errors(candidate)
    return [_described(error) for error in errors if not _left_to_chart_defaults(error)]


def chart_instance_config(v: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of the chart's ``dagster.yaml`` that depend on our values (see the module
    docstring). Each key says which template line it stands for."""
    postgresql = v["postgresql"]
    # _postgresql.tpl "dagsterYaml.postgresql.config"
    storage_config = {
        "postgres_db": {
            "username": postgresql["postgresqlUsername"],
            "password": {"env": "DAGSTER_PG_PASSWORD"},
            "hostname": postgresql["postgresqlHost"],
            "db_name": postgresql["postgresqlDatabase"],
            "port": postgresql["service"]["port"],
            "params": postgresql.get("postgresqlParams", {}),
        }
    }
    config: dict[str, Any] = {
        "schedule_storage": {
            "module": "dagster_postgres.schedule_storage",
            "class": "PostgresScheduleStorage",
            "config": storage_config,
        },
        "run_storage": {
            "module": "dagster_postgres.run_storage",
            "class": "PostgresRunStorage",
            "config": storage_config,
        },
        "event_log_storage": {
            "module": "dagster_postgres.event_log",
            "class": "PostgresEventLogStorage",
            "config": storage_config,
        },
        # configmap-instance.yaml: telemetry.enabled
        "telemetry": {"enabled": v["telemetry"]["enabled"]},
    }

    launcher = v["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher", "the mapping covers K8sRunLauncher only"
    k8s = launcher["config"]["k8sRunLauncher"]
    # _run-launcher.tpl "dagsterYaml.runLauncher.k8s"
    k8s_config: dict[str, Any] = {
        "load_incluster_config": k8s.get("loadInclusterConfig", CHART_LOAD_INCLUSTER_CONFIG),
        "job_namespace": k8s.get("jobNamespace") or RELEASE_NAMESPACE,
        "image_pull_policy": k8s.get("imagePullPolicy", CHART_RUN_IMAGE_PULL_POLICY),
        "service_account_name": RELEASE_FULLNAME,
        "dagster_home": v.get("global", {}).get("dagsterHome", CHART_DAGSTER_HOME),
        "instance_config_map": f"{RELEASE_FULLNAME}-instance",
        "postgres_password_secret": v["global"]["postgresqlSecretName"],
    }
    if k8s.get("envConfigMaps"):
        k8s_config["env_config_maps"] = [item["name"] for item in k8s["envConfigMaps"]]
    if k8s.get("envSecrets"):
        k8s_config["env_secrets"] = [item["name"] for item in k8s["envSecrets"]]
    if k8s.get("envVars"):
        k8s_config["env_vars"] = k8s["envVars"]
    if k8s.get("resources"):
        k8s_config["resources"] = k8s["resources"]
    config["run_launcher"] = {"module": "dagster_k8s", "class": "K8sRunLauncher"}
    config["run_launcher"]["config"] = k8s_config

    daemon = v["dagsterDaemon"]
    coordinator = daemon["runCoordinator"]
    if daemon.get("enabled", True) and coordinator["enabled"]:
        assert coordinator["type"] == "QueuedRunCoordinator"
        queued = coordinator["config"]["queuedRunCoordinator"]
        # _run-coordinator.tpl "dagsterYaml.runCoordinator.queued". The copy of that template
        # we could read names the module dagster.core.run_coordinator, an alias Dagster 1.13
        # no longer has; the class lives in dagster._core.run_coordinator.
        queued_config: dict[str, Any] = {"max_concurrent_runs": queued["maxConcurrentRuns"]}
        for value_key, yaml_key in (
            ("tagConcurrencyLimits", "tag_concurrency_limits"),
            ("dequeueIntervalSeconds", "dequeue_interval_seconds"),
            ("dequeueUseThreads", "dequeue_use_threads"),
            ("dequeueNumWorkers", "dequeue_num_workers"),
        ):
            if queued.get(value_key):
                queued_config[yaml_key] = queued[value_key]
        config["run_coordinator"] = {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": queued_config,
        }
    monitoring = daemon.get("runMonitoring", {})
    if monitoring.get("enabled"):
        # configmap-instance.yaml: run_monitoring
        config["run_monitoring"] = {
            "enabled": True,
            "start_timeout_seconds": monitoring["startTimeoutSeconds"],
            "poll_interval_seconds": monitoring["pollIntervalSeconds"],
        }
    retries = daemon.get("runRetries", {})
    if retries.get("enabled"):
        # configmap-instance.yaml: run_retries (retryOnAssetOrOpFailure is in this schema
        # version; the template copy we read predates it and maps enabled and maxRetries)
        config["run_retries"] = {"enabled": True}
        if retries.get("maxRetries"):
            config["run_retries"]["max_retries"] = retries["maxRetries"]
        if retries.get("retryOnAssetOrOpFailure") is not None:
            config["run_retries"]["retry_on_asset_or_op_failure"] = retries[
                "retryOnAssetOrOpFailure"
            ]
    return config


def test_the_values_pass_the_charts_schema() -> None:
    assert schema_errors(values()) == []


@pytest.mark.parametrize(
    ("path", "bad", "message"),
    [
        pytest.param(
            ("dagsterDaemon", "runCoordinator", "config", "queuedRunCoordinator"),
            {"maxConcurrentRuns": "ten"},
            "is not valid under any",
            id="queue-limit-not-a-number",
        ),
        pytest.param(
            ("runLauncher",), {"type": "K8sLauncher"}, "is not one of", id="unknown-launcher"
        ),
        pytest.param(("dagsterDaemon",), {"runCordinator": {}}, "runCordinator", id="misspelt-key"),
    ],
)
def test_the_schema_check_can_fail(
    path: tuple[str, ...], bad: dict[str, Any], message: str
) -> None:
    broken = values()
    target = broken
    for step in path:
        target = target[step]
    target.update(bad)
    errors = schema_errors(broken)
    assert any(message in error for error in errors), errors


def test_kubernetes_definitions_are_resolved_offline() -> None:
    """An env entry of the user deployment is a Kubernetes EnvVar: a secretKeyRef without
    its key is refused, which only the vendored Kubernetes definitions can tell."""
    broken = values()
    deployment = broken["dagster-user-deployments"]["deployments"][0]
    deployment["env"].append({"name": "X", "valueFrom": {"secretKeyRef": {"name": "s"}}})
    errors = schema_errors(broken)
    assert any("'key' is a required property" in error for error in errors), errors
    deployment["env"][-1] = {"value": "no name"}
    assert any("'name' is a required property" in error for error in schema_errors(broken))


def test_credentials_come_from_secrets() -> None:
    v = values()
    (deployment,) = v["dagster-user-deployments"]["deployments"]
    literal = {entry["name"] for entry in deployment["env"] if "value" in entry}
    secret_names = {
        "DATABASE_URL",
        "DAGSTER_PG_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    }
    assert literal & secret_names == set()
    assert not any("postgres" in value.lower() for value in _strings(deployment["env"]))
    assert "postgresqlPassword" not in v["postgresql"]
    assert v["generatePostgresqlPasswordSecret"] is False
    secrets = {item["name"] for item in deployment["envSecrets"]}
    assert {"user-import-database", "user-import-s3"} <= secrets
    launcher_secrets = v["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]
    assert {item["name"] for item in launcher_secrets} == secrets
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for item in node.values():
            yield from _strings(item)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def test_the_code_location_is_our_image_serving_our_definitions() -> None:
    (deployment,) = values()["dagster-user-deployments"]["deployments"]
    args = deployment["dagsterApiGrpcArgs"]
    assert args[args.index("--module-name") + 1] == "user_import_pipeline.definitions"
    assert args[args.index("--location-name") + 1] == "user_import_pipeline"
    assert deployment["image"]["repository"].endswith("/user-import-pipeline")
    env = {entry["name"]: entry.get("value") for entry in deployment["env"]}
    assert env["IMPORT_BASE_DIR"].startswith("s3://")
    assert env["DAGSTER_DISABLE_TELEMETRY"] == "1"


def test_the_instance_the_chart_writes_is_valid_for_dagster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = chart_instance_config(values())
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "from-the-secret")
    validated = instance_config.validated(tmp_path)
    for storage in ("run_storage", "event_log_storage", "schedule_storage"):
        instance_config.processed(validated[storage])
    # K8sRunLauncher needs a cluster to be built: its config is processed only.
    processed = instance_config.check_sections(
        {key: validated[key] for key in ("run_launcher",)}, build=False
    )
    launcher = processed["run_launcher"]
    assert launcher["env_secrets"] == ["user-import-database", "user-import-s3"]
    assert launcher["postgres_password_secret"] == "user-import-dagster-postgresql"
    coordinator = instance_config.built(validated["run_coordinator"])
    assert isinstance(coordinator, QueuedRunCoordinator)
    queue = coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == 10
    assert queue.tag_concurrency_limits == [
        {"key": "import_file", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]
    assert validated["telemetry"] == {"enabled": False}
    assert validated["run_retries"]["max_retries"] == 2
    assert validated["run_retries"]["retry_on_asset_or_op_failure"] is False


def test_the_queue_matches_the_single_machine_one() -> None:
    """The limits of ../../dagster.yaml, written the chart's way."""
    default = yaml.safe_load((REPO / "dagster.yaml").read_text())["run_coordinator"]["config"]
    queued = chart_instance_config(values())["run_coordinator"]["config"]
    assert queued["tag_concurrency_limits"] == default["tag_concurrency_limits"]
    for key in ("dequeue_interval_seconds", "dequeue_use_threads", "dequeue_num_workers"):
        assert queued[key] == default[key]


def test_an_invalid_instance_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The instance check can fail: a launcher key K8sRunLauncher does not know."""
    config = chart_instance_config(values())
    config["run_launcher"]["config"]["env_secret"] = ["x"]
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "x")
    with pytest.raises(Exception, match="env_secret"):
        instance_config.check_sections(instance_config.validated(tmp_path), build=False)
