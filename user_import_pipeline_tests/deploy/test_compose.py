"""docker-compose.yml as compose reads it, and the `scale` profile's Dagster instance as
Dagster reads it.

``docker-compose config`` (Debian's Python docker-compose 1.29.2, installed by .ci/run;
no Docker engine needed) parses the file, checks it against the compose schema, resolves
anchors and ``${...}`` and prints the result, which the tests read. It prints the services
of every profile, each with its ``profiles`` key; which services a profile starts is
computed here with compose's rule (a service without ``profiles`` always starts).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import dagster as dg
import pytest
import yaml
from dagster._core.workspace.config_schema import ensure_workspace_config
from dagster_docker import DockerRunLauncher

from user_import_pipeline.run_launcher import ForkedRunLauncher
from user_import_pipeline.run_queue import ImportRunCoordinator
from user_import_pipeline_tests.deploy import instance_config

REPO = Path(__file__).resolve().parents[2]
SCALE_HOME = REPO / "deploy" / "docker"
DEFAULT_SERVICES = {"postgres", "migrate", "dagster-webserver", "dagster-daemon", "api"}
SCALE_SERVICES = {"minio", "minio-init", "code-server", "scale-webserver", "scale-daemon"}
SCALE_SERVICES |= {"scale-api"}


def compose_config(*args: str, compose_file: Path = REPO / "docker-compose.yml") -> Any:
    """``docker-compose -f FILE [ARGS] config`` as data. The environment holds nothing but
    PATH and HOME, and no .env is read, so every ``${VAR:-default}`` takes its default."""
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is not installed (.ci/run installs Debian's package)"
    with tempfile.TemporaryDirectory() as empty:
        empty_env_file = Path(empty) / "empty.env"
        empty_env_file.write_text("")
        result = subprocess.run(
            [binary, "-f", str(compose_file), "--env-file", str(empty_env_file), *args, "config"],
            capture_output=True,
            text=True,
            env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")},
            cwd=compose_file.parent,
            timeout=120,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def started(config: Mapping[str, Any], profile: str | None) -> dict[str, Any]:
    """The services `docker compose [--profile PROFILE] up` starts."""
    return {
        name: service
        for name, service in config["services"].items()
        if not service.get("profiles") or profile in service["profiles"]
    }


@pytest.fixture(scope="module")
def default_config() -> Any:
    return compose_config()


@pytest.fixture(scope="module")
def scale_config() -> Any:
    return compose_config("--profile", "scale")


def mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's volumes as {container path: source}."""
    result = {}
    for volume in service.get("volumes", []):
        source, target, *_ = volume.split(":")
        result[target] = source
    return result


def test_the_default_profile_is_the_single_machine_stack(default_config: Any) -> None:
    services = started(default_config, None)
    assert set(services) == DEFAULT_SERVICES
    for name in ("dagster-webserver", "dagster-daemon"):
        env = services[name]["environment"]
        assert env["DAGSTER_HOME"] == "/app" and env["IMPORT_BASE_DIR"] == "/data"
        assert "workspace.yaml" in services[name]["command"]
        assert "/var/run/docker.sock" not in mounts(services[name])
        assert services[name]["build"].get("args", {}).get("EXTRAS") is None


def test_the_scale_profile_adds_its_services_and_leaves_the_default_ones_alone(
    default_config: Any, scale_config: Any
) -> None:
    services = started(scale_config, "scale")
    assert set(services) == DEFAULT_SERVICES | SCALE_SERVICES
    for name in DEFAULT_SERVICES:
        assert scale_config["services"][name] == default_config["services"][name]


def test_the_code_server_serves_the_code_location_the_workspace_names(scale_config: Any) -> None:
    code_server = scale_config["services"]["code-server"]
    command = code_server["command"]
    assert command[:3] == ["dagster", "api", "grpc"]
    assert command[command.index("-m") + 1] == "user_import_pipeline.definitions"
    workspace_file = SCALE_HOME / "workspace.yaml"
    workspace = ensure_workspace_config(
        yaml.safe_load(workspace_file.read_text()), str(workspace_file)
    )
    (entry,) = cast("list[dict[str, Any]]", workspace["load_from"])
    server = entry["grpc_server"]
    assert server["host"] == "code-server"
    assert command[command.index("-p") + 1] == str(server["port"])
    assert command[command.index("--location-name") + 1] == server["location_name"]
    assert "grpc-health-check" in code_server["healthcheck"]["test"]
    for name in ("scale-webserver", "scale-daemon"):
        depends = scale_config["services"][name]["depends_on"]
        assert depends["code-server"]["condition"] == "service_healthy"


def test_runs_start_from_the_code_servers_image_built_with_dagster_docker(
    scale_config: Any,
) -> None:
    services = scale_config["services"]
    image = services["code-server"]["image"]
    assert services["code-server"]["environment"]["DAGSTER_CURRENT_IMAGE"] == image
    for name in SCALE_SERVICES - {"minio", "minio-init"}:
        assert services[name]["image"] == image
        assert services[name]["build"]["args"]["EXTRAS"] == "docker"
    assert "dagster-docker" in " ".join(_optional_dependencies()["docker"])


def _optional_dependencies() -> dict[str, list[str]]:
    import tomllib

    with (REPO / "pyproject.toml").open("rb") as file:
        return dict(tomllib.load(file)["project"]["optional-dependencies"])


def test_the_webserver_and_daemon_use_the_scale_instance_and_reach_docker(
    scale_config: Any,
) -> None:
    for name in ("scale-webserver", "scale-daemon"):
        service = scale_config["services"][name]
        assert service["environment"]["DAGSTER_HOME"] == "/app/scale"
        mounted = mounts(service)
        assert Path(mounted["/app/scale/dagster.yaml"]) == SCALE_HOME / "dagster.yaml"
        assert Path(mounted["/app/scale/workspace.yaml"]) == SCALE_HOME / "workspace.yaml"
        assert mounted["/var/run/docker.sock"] == "/var/run/docker.sock"
        assert service["group_add"], "the app user needs the socket's group"


def test_the_bucket_is_made_before_anything_reads_it(scale_config: Any) -> None:
    services = scale_config["services"]
    init = services["minio-init"]
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    assert "mc mb" in " ".join(init["command"])
    bucket = init["environment"]["IMPORT_S3_BUCKET"]
    base_dir = services["code-server"]["environment"]["IMPORT_BASE_DIR"]
    assert base_dir.startswith(f"s3://{bucket}/") and base_dir.endswith("/")
    assert services["code-server"]["depends_on"]["minio-init"]["condition"] == (
        "service_completed_successfully"
    )
    for name in SCALE_SERVICES - {"minio", "minio-init"}:
        env = services[name]["environment"]
        assert env["IMPORT_BASE_DIR"] == base_dir
        assert env["AWS_ENDPOINT_URL"] == "http://minio:9000"
        assert env["AWS_ACCESS_KEY_ID"] == services["minio"]["environment"]["MINIO_ROOT_USER"]


def _scale_instance(
    scale_config: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[Mapping[str, Any], Mapping[str, str]]:
    """deploy/docker/dagster.yaml validated by Dagster, in the daemon's environment as
    compose gives it."""
    env = scale_config["services"]["scale-daemon"]["environment"]
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    return instance_config.validated(SCALE_HOME), env


def test_the_scale_instance_is_valid_and_launches_runs_in_containers(
    scale_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, env = _scale_instance(scale_config, monkeypatch)
    processed = instance_config.check_sections(config, build=True)
    launcher = instance_config.built(config["run_launcher"])
    assert isinstance(launcher, DockerRunLauncher)
    # Every variable handed to run containers must be set in the daemon, or the launch fails.
    missing = [name for name in launcher.env_vars if name not in env]
    assert missing == []
    assert {"DATABASE_URL", "DAGSTER_PG_URL", "IMPORT_BASE_DIR"} <= set(launcher.env_vars)
    assert {name for name in env if name.startswith("AWS_")} <= set(launcher.env_vars)
    # The network run containers join is the compose network, by its fixed name.
    assert launcher.networks == [scale_config["networks"]["default"]["name"]]
    # ... and they mount the volume that holds the instance's storage, where the daemon and
    # the webserver have it.
    volumes = processed["run_launcher"]["container_kwargs"]["volumes"]
    ((volume, mount),) = volumes.items()
    assert volume == scale_config["volumes"]["dagster-storage"]["name"]
    assert mount["bind"] == "/app/scale/storage"
    assert mounts(scale_config["services"]["scale-daemon"])["/app/scale/storage"] == (
        "dagster-storage"
    )


def test_the_scale_instance_keeps_the_queue_limits(
    scale_config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, _ = _scale_instance(scale_config, monkeypatch)
    default = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert config["run_coordinator"] == default["run_coordinator"]
    coordinator = instance_config.built(config["run_coordinator"])
    assert isinstance(coordinator, ImportRunCoordinator)
    queue = coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == 10
    (limit,) = queue.tag_concurrency_limits
    assert limit == {"key": "import_file", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    assert config["telemetry"] == {"enabled": False}
    for key in ("storage", "run_retries", "run_monitoring"):
        assert config[key] == default[key]


def test_the_default_instance_still_runs_runs_beside_its_daemon(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The default dagster.yaml names Dagster's default launcher with warm run workers
    (run_launcher.py): still a process per run, beside the daemon."""
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql+psycopg2://u:p@h:5432/d")
    config = instance_config.validated(REPO)
    launcher = instance_config.built(config["run_launcher"])
    assert isinstance(launcher, ForkedRunLauncher)
    assert isinstance(launcher, dg.DefaultRunLauncher)
    instance_config.check_sections(config, build=True)


def test_a_broken_scale_instance_is_refused(
    scale_config: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The check can fail: a misspelt launcher key, and a variable the daemon lacks."""
    config = yaml.safe_load((SCALE_HOME / "dagster.yaml").read_text())
    env = scale_config["services"]["scale-daemon"]["environment"]
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))
    config["run_launcher"]["config"]["netwrok"] = "x"
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(Exception, match="netwrok"):
        instance_config.check_sections(instance_config.validated(tmp_path), build=False)
    monkeypatch.delenv("DAGSTER_DOCKER_NETWORK")
    with pytest.raises(Exception, match="DAGSTER_DOCKER_NETWORK"):
        instance_config.check_sections(instance_config.validated(SCALE_HOME), build=False)


def test_compose_refuses_a_broken_file(tmp_path: Path) -> None:
    """The compose check can fail: a dependency condition compose does not know."""
    text = (REPO / "docker-compose.yml").read_text()
    broken = text.replace("condition: service_healthy", "condition: service_happy", 1)
    assert broken != text
    (tmp_path / "docker-compose.yml").write_text(broken)
    with pytest.raises(AssertionError, match="service_happy"):
        compose_config(compose_file=tmp_path / "docker-compose.yml")


def _requirements_of_image(extras: str) -> list[str]:
    """What the Dockerfile's build stage lists for the image to install, with the build
    argument EXTRAS: its own ``python -c '...'`` line, run on pyproject.toml."""
    (line,) = [
        line
        for line in (REPO / "Dockerfile").read_text().splitlines()
        if line.startswith("RUN ") and "/requirements.txt" in line and "python -c" in line
    ]
    code = line.split("python -c '", 1)[1].rsplit("'", 1)[0]
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, "EXTRAS": extras},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_image_installs_the_launcher_extras_it_is_built_with() -> None:
    plain = _requirements_of_image("")
    assert not any(requirement.startswith("dagster-docker") for requirement in plain)
    assert "dagster-docker==0.29.27" in _requirements_of_image("docker")
    assert "dagster-k8s==0.29.27" in _requirements_of_image("k8s")
    both = _requirements_of_image("docker,k8s")
    assert set(plain) < set(both) and {"dagster-docker==0.29.27", "dagster-k8s==0.29.27"} <= set(
        both
    )
    dagster = next(r for r in plain if r.startswith("dagster=="))
    assert dagster == "dagster==1.13.27", "the launcher extras are matched to this version"
