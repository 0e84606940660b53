"""The swarm stack file rendered from the preset, checked by the real Docker CLI (`docker stack config`,
which validates against the compose schema docker stack deploy uses, offline) and for the properties
the swarm relies on: placement, rolling updates with automatic rollback, secrets, overlays, the proxy."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from render.swarm_stack import SwarmStackRender, render_stack
from tests.prerequisites import tool_path
from tests.stacks import swarm_config, swarm_values


@pytest.fixture(scope="module")
def stack() -> SwarmStackRender:
    return render_stack(swarm_config())


def docker_stack_config(render: SwarmStackRender, tmp_path: Path) -> dict[str, Any]:
    docker = tool_path("docker")
    path = tmp_path / "stack.yml"
    path.write_text(render.text, encoding="utf-8")
    # What the deploy script exports: the swarm names of the secrets and the interpolated values.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    env |= {secret.name_variable: f"swarmshop_{secret.key.lower()}_0123456789ab" for secret in render.swarm_secrets}
    env |= {name: "stand-in" for name in render.interpolated}
    result = subprocess.run([docker, "stack", "config", "-c", str(path)], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = yaml.safe_load(result.stdout)
    return parsed


def test_docker_accepts_the_stack_file(stack: SwarmStackRender, tmp_path: Path) -> None:
    parsed = docker_stack_config(stack, tmp_path)
    assert set(parsed["services"]) == {"postgres", "redis", "api", "worker", "traefik"}
    assert parsed["secrets"]["SECRET_KEY"] == {"name": "swarmshop_secret_key_0123456789ab", "external": True}


def test_a_broken_stack_file_is_refused_by_docker(stack: SwarmStackRender, tmp_path: Path) -> None:
    """The validator can fail: an unknown deploy key is an error."""
    broken = SwarmStackRender(
        project=stack.project, model=yaml.safe_load(yaml.safe_dump(stack.model)), swarm_secrets=stack.swarm_secrets,
        interpolated=stack.interpolated,
    )
    broken.model["services"]["api"]["deploy"]["placment"] = {}
    with pytest.raises(AssertionError, match="placment"):
        docker_stack_config(broken, tmp_path)


def test_placement_replicas_and_rolling_updates(stack: SwarmStackRender) -> None:
    services = stack.model["services"]
    api = services["api"]["deploy"]
    assert api["replicas"] == 4 and api["endpoint_mode"] == "dnsrr"
    assert api["placement"]["constraints"] == ["node.labels.hp.role.web == true"]
    assert api["update_config"] | {} == {
        "parallelism": 1, "delay": "0s", "order": "start-first", "failure_action": "rollback", "monitor": "10s",
        "max_failure_ratio": 0,
    }
    assert api["rollback_config"]["order"] == "start-first"
    assert api["resources"]["limits"] == {"cpus": "1.0", "memory": "1G"}
    assert services["worker"]["deploy"]["placement"]["constraints"] == ["node.labels.hp.role.worker == true"]
    for name in ("postgres", "redis"):
        deploy = services[name]["deploy"]
        # Stateful: one task, on the server with the data, never two at once on the data directory.
        assert deploy["replicas"] == 1
        assert deploy["placement"]["constraints"] == ["node.labels.hp.server == m3"]
        assert deploy["update_config"]["order"] == "stop-first"
    assert services["api"]["healthcheck"]["test"] == ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8000/health"]
    assert "restart" not in services["api"] and "depends_on" not in services["api"]


def test_secrets_are_swarm_secrets_not_an_env_file(stack: SwarmStackRender) -> None:
    services = stack.model["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/POSTGRES_PASSWORD"
    assert "POSTGRES_PASSWORD" not in services["postgres"]["environment"]
    assert {"source": "POSTGRES_PASSWORD", "target": "POSTGRES_PASSWORD", "mode": 0o444} in services["postgres"]["secrets"]
    redis_targets = {secret["target"] for secret in services["redis"]["secrets"]}
    assert redis_targets == {"/usr/local/etc/redis/auth/auth.conf", "/usr/local/etc/redis/auth/password"}
    assert services["traefik"]["environment"] == {"CF_DNS_API_TOKEN_FILE": "/run/secrets/CF_DNS_API_TOKEN"}
    assert all(secret["external"] for secret in stack.model["secrets"].values())
    assert "env_file" not in stack.text
    # A password inside a URL cannot be a file: docker stack deploy fills it from the deploy script's environment.
    assert stack.interpolated == ["POSTGRES_PASSWORD"]


def test_config_files_are_swarm_configs(stack: SwarmStackRender) -> None:
    configs = stack.model["configs"]
    assert all(Path(entry["file"]).is_absolute() and entry["file"] in stack.files for entry in configs.values())
    postgres = stack.model["services"]["postgres"]
    assert [c["target"] for c in postgres["configs"]] == ["/etc/postgresql/postgresql.conf"]
    assert postgres["volumes"][0] == {"type": "bind", "source": "/mnt/data/swarmshop/postgres", "target": "/var/lib/postgresql/data"}
    assert {"type": "tmpfs", "target": "/dev/shm", "tmpfs": {"size": 256 * 1024**2}} in postgres["volumes"]
    assert stack.data_dirs["m3"] == ["/mnt/data/swarmshop/postgres", "/mnt/data/swarmshop/redis"]


def test_overlays_are_encrypted_and_internal_stays_internal(stack: SwarmStackRender) -> None:
    networks = stack.model["networks"]
    assert networks["internal"] == {"driver": "overlay", "internal": True, "driver_opts": {"encrypted": ""}}
    assert all(net["driver"] == "overlay" and "encrypted" in net["driver_opts"] for net in networks.values())
    assert stack.model["services"]["postgres"]["networks"] == ["internal"]


def test_traefik_reads_the_swarm_on_managers_with_host_ports(stack: SwarmStackRender) -> None:
    traefik = stack.model["services"]["traefik"]
    assert traefik["deploy"]["mode"] == "global"
    assert traefik["deploy"]["placement"]["constraints"] == ["node.labels.hp.role.web == true", "node.role == manager"]
    assert [(p["published"], p["mode"]) for p in traefik["ports"]] == [(80, "host"), (443, "host")]
    static, dynamic = (yaml.safe_load(stack.files[stack.model["configs"][c["source"]]["file"]]) for c in traefik["configs"])
    assert static["providers"]["swarm"]["network"] == "swarmshop_edge"
    assert static["providers"]["swarm"]["exposedByDefault"] is False
    assert dynamic["http"]["routers"]["api"]["service"] == "api@swarm"
    labels = stack.model["services"]["api"]["deploy"]["labels"]
    assert labels == {"traefik.enable": "true", "traefik.http.services.api.loadbalancer.server.port": "8000"}


def test_nginx_variant_resolves_tasks_every_second(tmp_path: Path) -> None:
    values = swarm_values()
    values["app"]["proxy"] = {"kind": "nginx"}
    render = render_stack(swarm_config(values))
    site = next(content for path, content in render.files.items() if path.endswith("/default.conf"))
    assert "resolver 127.0.0.11 valid=1s" in site and "proxy_connect_timeout 1s;" in site
    assert "valid=30s" not in site and "proxy_connect_timeout 60s" not in site
    nginx = render.model["services"]["nginx"]
    assert nginx["deploy"]["placement"]["constraints"] == ["node.labels.hp.role.web == true"]
    assert all(c["source"] in render.model["configs"] for c in nginx["configs"])
    docker_stack_config(render, tmp_path)


def test_unencrypted_overlays_when_asked() -> None:
    values = swarm_values()
    values["app"]["swarm"]["encrypted"] = False
    render = render_stack(swarm_config(values))
    assert all("driver_opts" not in net for net in render.model["networks"].values())
