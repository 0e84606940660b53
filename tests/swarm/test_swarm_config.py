"""app.engine swarm: bad input is refused with the field path and the reason, before anything exists."""

from __future__ import annotations

from typing import Any

import pytest

from config.errors import ConfigError
from config.loader import validate_config
from tests.stacks import swarm_config, swarm_values


def problems(values: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        swarm_config(values)
    return str(caught.value)


def test_the_preset_is_valid() -> None:
    config = swarm_config()
    assert config.app.engine == "swarm"
    assert config.servers_with_role("manager") == ["m1", "m2", "m3"]


def test_two_managers_are_refused() -> None:
    values = swarm_values()
    values["servers"]["m3"]["roles"] = ["db", "worker"]
    values["app"]["proxy"] = {"kind": "nginx"}
    assert "servers: 2 servers have the manager role (m1, m2): a swarm needs an odd number" in problems(values)


def test_manager_role_and_replicas_need_the_swarm_engine() -> None:
    values = swarm_values()
    values["app"]["engine"] = "compose"
    text = problems(values)
    assert "servers.m1.roles: the manager role needs app.engine swarm" in text
    assert "app.services.api.replicas: replicas needs app.engine swarm" in text


def test_swarm_needs_the_private_network() -> None:
    values = swarm_values()
    del values["network"]
    values["loadBalancer"]["usePrivateIp"] = False
    assert "app.engine: swarm needs a private network" in problems(values)


def test_traefik_must_run_on_managers() -> None:
    values = swarm_values()
    values["servers"]["m2"]["roles"] = ["web"]
    values["servers"]["m3"]["roles"] = ["db", "worker"]
    text = problems(values)
    assert "app.proxy.kind: Traefik's swarm provider must run on managers, and web servers m2 are not" in text


def test_a_stateful_service_runs_once() -> None:
    values = swarm_values()
    values["app"]["services"]["postgres"]["replicas"] = 2
    assert "app.services.postgres.replicas: a stateful service" in problems(values)


def test_bad_interface_and_update_values_name_their_field() -> None:
    values = swarm_values()
    values["app"]["swarm"] = {"privateInterface": "ens10; reboot", "update": {"monitor": "soon", "parallelism": 0}}
    text = problems(values)
    assert "app.swarm.privateInterface" in text
    assert "app.swarm.update.monitor" in text
    assert "app.swarm.update.parallelism" in text


def test_compose_only_features_are_refused_by_name() -> None:
    values = swarm_values()
    values["app"]["registries"] = {"ghcr.io": {"username": "bot", "passwordSecret": "GHCR_TOKEN"}}
    values["app"]["composeFile"] = "compose.yaml"
    text = problems(values)
    assert "app.registries: the swarm deploy does not log in to private registries yet" in text
    assert "app.composeFile: not supported with app.engine swarm" in text


def test_blue_green_is_the_compose_engines_rollout() -> None:
    """Under swarm every service defaults to recreate (no compose colours); asking for blue-green is refused."""
    config = validate_config(swarm_values())
    assert {service.strategy for service in config.app.services.values()} == {"recreate"}
    values = swarm_values()
    exposed = next(name for name, service in values["app"]["services"].items() if service.get("expose"))
    values["app"]["services"][exposed]["strategy"] = "blue-green"
    assert f"app.services.{exposed}.strategy: blue-green is the compose engine's rollout" in problems(values)
