"""Compose rendering rules, single and multi-server, and the overlay of a user's own compose file."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.errors import ConfigError
from render.compose import render_compose
from render.compose_values import compose_memory, env_value
from spec.resources import resolve
from tests.stacks import app_stack, phase2_app_stack, preset_config, presets, small_app

from .conftest import compose_check, load, schema_errors

PROXIES = {"traefik", "nginx", "certbot"}


def test_top_level_shape_and_internal_network() -> None:
    config = load(app_stack(small_app()))
    model = render_compose(config, "app").model
    assert model["name"] == "leap" and "version" not in model
    assert model["networks"]["internal"] == {"internal": True}
    services = model["services"]
    assert set(services) == {"postgres", "redis", "api", "worker", "traefik"}
    assert services["postgres"]["networks"] == ["internal"]
    assert services["redis"]["networks"] == ["internal"]
    assert services["worker"]["networks"] == ["internal", "outbound"]  # workers call external APIs
    assert services["api"]["networks"] == ["internal", "edge"]
    assert services["traefik"]["networks"] == ["edge"]


@pytest.mark.parametrize("path", presets(), ids=lambda p: p.name)
def test_only_the_proxy_publishes_host_ports(path: Path) -> None:
    config = preset_config(path)
    private = {spec.private_ip for spec in resolve(config).servers if spec.private_ip}
    for server in config.servers:
        for name, service in render_compose(config, server).model["services"].items():
            ports = service.get("ports", [])
            if name in PROXIES:
                assert {p for p in ports if not p.startswith("127.0.0.1:")} <= {"80:80", "443:443"}
            else:
                # Only multi-server stacks publish, and only on this server's private address.
                assert all(port.split(":")[0] in private for port in ports), (server, name, ports)
                assert "internal" in service["networks"]


def test_multi_server_split_uses_private_addresses() -> None:
    config = load(phase2_app_stack())
    ips = {spec.name: spec.private_ip for spec in resolve(config).servers}
    web = render_compose(config, "web").model["services"]
    db = render_compose(config, "db").model["services"]
    worker = render_compose(config, "worker").model["services"]
    assert set(web) == {"api", "traefik"}
    assert set(db) == {"postgres", "redis"}
    assert set(worker) == {"worker"}
    assert db["postgres"]["ports"] == [f"{ips['db']}:5432:5432"]
    assert db["redis"]["ports"] == [f"{ips['db']}:6379:6379"]
    assert db["postgres"]["networks"] == ["internal", "outbound"]  # a published port needs a non-internal network
    assert f"postgres:{ips['db']}" in web["api"]["extra_hosts"]
    assert f"redis:{ips['db']}" in worker["worker"]["extra_hosts"]
    assert "depends_on" not in web["api"]  # its dependencies run on another server
    # The password reaches Redis through the release's secret file, never its command line or environment.
    assert db["redis"]["command"] == ["redis-server", "/usr/local/etc/redis/redis.conf"]
    assert {"type": "bind", "source": "./secrets/redis", "target": "/usr/local/etc/redis/auth", "read_only": True} in db["redis"]["volumes"]
    assert "REDISCLI_AUTH" not in db["redis"].get("environment", {})


def test_multi_server_compose_files_are_valid(tmp_path: Path) -> None:
    config = load(phase2_app_stack())
    for server in config.servers:
        render = render_compose(config, server)
        compose_check(render.text, render.secrets, tmp_path / server)
        assert not schema_errors(yaml.safe_load(render.text))


def test_secrets_are_references_and_dollars_are_literal(tmp_path: Path) -> None:
    app = small_app()
    app["services"]["api"]["environment"]["PRICE"] = "$5 or ${NOT_A_SECRET"
    app["services"]["api"]["command"] = ["sh", "-c", "echo $HOME"]
    config = load(app_stack(app))
    render = render_compose(config, "app")
    api = render.model["services"]["api"]
    assert api["environment"]["JWT_SECRET"] == "${JWT_SECRET:?secret JWT_SECRET is not set}"
    assert api["environment"]["DATABASE_URL"] == (
        "postgresql://app:${POSTGRES_PASSWORD:?secret POSTGRES_PASSWORD is not set}@postgres:5432/app")
    model = compose_check(render.text, render.secrets, tmp_path)
    environment = model["services"]["api"]["environment"]
    assert environment["DATABASE_URL"] == "postgresql://app:dummy-postgres_password@postgres:5432/app"
    assert environment["PRICE"] == "$$5 or $${NOT_A_SECRET"  # compose prints literal $ doubled
    assert model["services"]["api"]["command"] == ["sh", "-c", "echo $$HOME"]


def test_resources_are_compose_deploy_resources(tmp_path: Path) -> None:
    config = preset_config(next(p for p in presets() if p.name == "Pulumi.chrono-single.yaml"))
    render = render_compose(config, "app")
    model = compose_check(render.text, render.secrets, tmp_path)
    postgres = model["services"]["postgres"]["deploy"]["resources"]
    assert postgres["limits"] == {"cpus": 1.0, "memory": str(1536 * 1024 * 1024)}
    assert postgres["reservations"] == {"cpus": 0.5, "memory": str(1024 * 1024 * 1024)}
    assert compose_memory(1536) == "1536M" and compose_memory(4096) == "4G" and compose_memory(0.5) == "524288b"


def test_the_validators_can_fail(tmp_path: Path) -> None:
    """A typo'd key and a wrong type are caught by the schema (all errors) and by the real binary (first error)."""
    config = load(app_stack(small_app()))
    render = render_compose(config, "app")
    typo: dict[str, Any] = copy.deepcopy(render.model)
    typo["services"]["api"]["enviroment"] = {"A": "1"}
    wrong_type: dict[str, Any] = copy.deepcopy(render.model)
    wrong_type["services"]["postgres"]["ports"] = "5432:5432"
    both = copy.deepcopy(typo)
    both["services"]["postgres"]["ports"] = "5432:5432"
    assert len(schema_errors(both)) >= 2
    with pytest.raises(AssertionError, match="enviroment"):
        compose_check(yaml.safe_dump(typo), render.secrets, tmp_path / "typo")
    with pytest.raises(AssertionError, match="ports"):
        compose_check(yaml.safe_dump(wrong_type), render.secrets, tmp_path / "type")


def test_missing_secret_value_stops_compose(tmp_path: Path) -> None:
    config = load(app_stack(small_app()))
    render = render_compose(config, "app")
    with pytest.raises(AssertionError, match="JWT_SECRET is not set"):
        compose_check(render.text, [name for name in render.secrets if name != "JWT_SECRET"], tmp_path)


def test_env_value_escaping() -> None:
    assert env_value("a$b") == "a$$b"
    assert env_value("x${TOKEN}y") == "x${TOKEN:?secret TOKEN is not set}y"
    assert env_value(True) == "true" and env_value(3) == "3"


# --- a user's own compose file ---------------------------------------------------------------------

USER_COMPOSE = {
    "version": "3.9",
    "services": {
        "postgres": {
            "image": "postgres:15-alpine",
            "container_name": "ytempire-postgres",
            "environment": {"POSTGRES_USER": "ytempire", "POSTGRES_PASSWORD": "${DB_PASSWORD}"},
            "volumes": ["postgres-data:/var/lib/postgresql/data"],
            "ports": ["5432:5432"],
            "healthcheck": {"test": ["CMD-SHELL", "pg_isready -U ytempire"], "interval": "30s"},
        },
        "backend": {
            "build": "./backend",
            "image": "ghcr.io/acme/backend:1.0",
            "depends_on": ["postgres"],
            "environment": ["DATABASE_URL=postgresql://ytempire:${DB_PASSWORD}@postgres:5432/ytempire"],
            "ports": ["8080:8080"],
            "networks": ["default"],
        },
    },
    "volumes": {"postgres-data": {}},
}


def overlay_config(tmp_path: Path, document: dict[str, Any]) -> Any:
    path = tmp_path / "user-compose.yml"
    path.write_text(yaml.safe_dump(document))
    app = {
        "acmeEmail": "ops@example.com",
        "composeFile": str(path),
        "services": {
            "postgres": {"role": "db", "secretEnv": ["DB_PASSWORD"], "limits": {"cpus": 2, "memory": "4G"}},
            "backend": {"expose": {"port": 8080, "host": "api"}, "limits": {"cpus": 2, "memory": "2G"},
                        "reservations": {"cpus": 1, "memory": "1G"}},
        },
    }
    return load(app_stack(app))


def test_overlay_keeps_the_users_services_and_applies_our_rules(tmp_path: Path) -> None:
    config = overlay_config(tmp_path, USER_COMPOSE)
    render = render_compose(config, "app")
    services = render.model["services"]
    assert "version" not in render.model and render.model["name"] == "leap"
    assert "ports" not in services["postgres"] and "ports" not in services["backend"]
    assert services["backend"]["image"] == "ghcr.io/acme/backend:1.0" and "build" not in services["backend"]
    assert services["postgres"]["deploy"]["resources"]["limits"] == {"cpus": "2.0", "memory": "4G"}
    assert services["backend"]["deploy"]["resources"]["reservations"] == {"cpus": "1.0", "memory": "1G"}
    assert services["postgres"]["networks"] == ["internal"]
    # Exposed, so blue-green by default: each colour also answers to backend-<colour>.
    alias = {"aliases": ["backend-${HP_COLOUR:-blue}"]}
    assert services["backend"]["networks"] == {"internal": alias, "edge": alias}
    assert services["postgres"]["healthcheck"]["test"] == ["CMD-SHELL", "pg_isready -U ytempire"]
    assert services["postgres"]["environment"]["DB_PASSWORD"].startswith("${DB_PASSWORD:?")
    assert render.model["volumes"] == {"postgres-data": {}}
    assert "traefik" in services
    model = compose_check(render.text, render.secrets, tmp_path / "check")
    assert model["services"]["backend"]["depends_on"]["postgres"]["condition"] == "service_started"


@pytest.mark.parametrize(("change", "message"), [
    (lambda doc: doc["services"]["backend"].pop("image"), "only has `build:`"),
    (lambda doc: doc["services"]["backend"].update(env_file=[".env"]), "env_file"),
    (lambda doc: doc["services"]["backend"].update(volumes=["./backend:/app"]), "relative to your checkout"),
    (lambda doc: doc["services"].update(extra={"image": "busybox"}), "no entry in app.services"),
])
def test_overlay_refuses_what_cannot_work_on_the_host(tmp_path: Path, change: Any, message: str) -> None:
    document = copy.deepcopy(USER_COMPOSE)
    change(document)
    # Refused while validating the config (exit 2 naming app.composeFile), before anything renders.
    with pytest.raises(ConfigError, match=message) as refused:
        overlay_config(tmp_path, document)
    assert all(issue.path.startswith("app.") for issue in refused.value.issues)
