"""Dagster's own validation of a ``dagster.yaml``, without a Docker engine, a Kubernetes
cluster or a database.

``dagster_instance_config`` checks the file against the instance schema (which keys exist,
their types) but takes every configurable class (run launcher, run coordinator, ...) as an
opaque module/class/config triple. Each of those is then checked as Dagster checks it when
the instance first uses it (``ConfigurableClassData.rehydrate``): its config is processed
against the class's own ``config_type()``, environment variables (``{env: NAME}``)
included, and, when asked, the class is built from it. Building a ``K8sRunLauncher`` needs
a cluster, so that one is only processed; ``DockerRunLauncher`` and our run coordinator
build without one.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes import ConfigurableClass, ConfigurableClassData

CONFIGURABLE_SECTIONS = (
    "run_launcher",
    "run_coordinator",
    "compute_logs",
    "scheduler",
    "local_artifact_storage",
)


def validated(home: Path) -> Mapping[str, Any]:
    """The instance config in ``home/dagster.yaml`` as Dagster validates it (raises
    ``DagsterInvalidConfigError`` naming what is wrong)."""
    config, custom_instance_class = dagster_instance_config(str(home))
    assert custom_instance_class is None
    return config


def processed(section: Mapping[str, Any]) -> Mapping[str, Any]:
    """A configurable class's config after Dagster processed it against the class's own
    schema (defaults filled in, ``{env: ...}`` resolved); raises on an invalid config."""
    module = importlib.import_module(section["module"])
    klass = cast("type[ConfigurableClass]", getattr(module, section["class"]))
    result = process_config(resolve_to_config_type(klass.config_type()), section.get("config", {}))
    if not result.success:
        raise DagsterInvalidConfigError(
            f"Errors in the config of {section['module']}.{section['class']}",
            result.errors,
            section.get("config"),
        )
    return cast("Mapping[str, Any]", result.value)


def built(section: Mapping[str, Any]) -> ConfigurableClass:
    """The configurable class built from its config, as the instance would build it."""
    data = ConfigurableClassData(
        section["module"], section["class"], yaml.safe_dump(dict(section.get("config", {})))
    )
    return data.rehydrate()


def check_sections(config: Mapping[str, Any], *, build: bool) -> dict[str, Mapping[str, Any]]:
    """Every configurable-class section of a validated config, processed (and built when
    ``build``); returns the processed config of each."""
    result = {}
    for name in CONFIGURABLE_SECTIONS:
        if name in config:
            result[name] = processed(config[name])
            if build:
                built(config[name])
    return result
