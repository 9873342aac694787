"""docker-compose cannot run on the development machines, so its consistency is checked here."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import yaml

from executor_svc.settings import ExecutorSettings
from gateway_svc.settings import GatewaySettings
from troupe.settings import Settings

INFRA = Path(__file__).resolve().parents[2] / "infra"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((INFRA / "docker-compose.yml").read_text())
    return loaded


def _troupe_services(compose: dict[str, Any]) -> dict[str, Any]:
    return {name: svc for name, svc in compose["services"].items() if svc.get("image") == "troupe:local"}


def test_compose_runs_the_four_services_from_one_image() -> None:
    services = _troupe_services(_compose())
    assert set(services) == {"planner", "executor", "reviewer", "gateway"}
    assert {svc["build"]["dockerfile"] for svc in services.values()} == {"infra/Dockerfile"}


def test_compose_environment_names_only_settings_that_exist() -> None:
    known = set()
    for model in (Settings, GatewaySettings, ExecutorSettings):
        for name, field in model.model_fields.items():
            known.add(f"TROUPE_{name.upper()}")
            alias = field.validation_alias
            known.update(getattr(alias, "choices", []))
    for name, svc in _troupe_services(_compose()).items():
        unknown = set(svc["environment"]) - known
        assert not unknown, f"{name} sets unknown settings {unknown}"


def test_compose_points_the_services_at_its_own_kafka_and_mongodb() -> None:
    compose = _compose()
    for svc in _troupe_services(compose).values():
        host = svc["environment"]["KAFKA_BOOTSTRAP_SERVERS"].split(":")[0]
        mongo_host = re.match(r"mongodb://([^:/]+)", svc["environment"]["MONGODB_URI"])
        assert host in compose["services"]
        assert mongo_host and mongo_host.group(1) in compose["services"]


def test_compose_commands_name_packages_that_exist() -> None:
    for svc in _troupe_services(_compose()).values():
        module = svc["command"][svc["command"].index("-m") + 1]
        assert importlib.util.find_spec(module) is not None, module


def test_dockerfile_copies_every_package() -> None:
    dockerfile = (INFRA / "Dockerfile").read_text()
    for package in (
        "schemas",
        "troupe",
        "toolbox",
        "planner_svc",
        "executor_svc",
        "reviewer_svc",
        "gateway_svc",
    ):
        assert f"COPY {package} ./{package}" in dockerfile
