"""Every stack file under examples/ loads like a real stack, fits its servers and renders valid compose files."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from config.app_stack_rules import app_stack_issues
from config.catalogue import load_catalogue
from config.stack_base import read_merged_stack_file
from render.app import app_step, secret_names
from render.compose import render_compose
from render.steps import HostRuntime
from spec.service_homes import placement
from tests.prerequisites import require_tool, tool_path
from tests.stacks import preset_config, presets

from .conftest import compose_check, schema_errors

PRESETS = presets()
EXPECTED = {
    "Pulumi.fastapi-celery.yaml": ("seed 000", {"app": "cx53"}),
    "Pulumi.fastapi-arq-pgvector.yaml": ("seed 001", {"vps": "cx33"}),
    "Pulumi.chrono-single.yaml": ("seeds 002/003 phase 1", {"app": "cx43"}),
    "Pulumi.chrono-phase2.yaml": ("seeds 002/003 phase 2", {"web": "cx43", "db": "cx33", "worker": "cx33"}),
    "Pulumi.django-shop.yaml": ("issue 19", {"app": "cx33"}),
    "Pulumi.django-shop-staging.yaml": ("issue 19 staging", {"app": "cx23"}),
    "Pulumi.ytempire.yaml": ("seed 004", {"main": "ccx53"}),
    "Pulumi.swarm.yaml": ("issue 18", {"m1": "cx33", "m2": "cx33", "m3": "cx43"}),
}


def test_every_seed_has_a_preset() -> None:
    assert sorted(path.name for path in PRESETS) == sorted(EXPECTED)


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_preset_is_a_valid_stack_file_without_plaintext_secrets(path: Path) -> None:
    stack = read_merged_stack_file(path)
    config = preset_config(path)
    assert not app_stack_issues(config)
    assert {name: server.server_type for name, server in config.servers.items()} == EXPECTED[path.name][1]
    raw = yaml.safe_load(path.read_text())
    assert set(raw) == {"config"}
    assert all(":" in key for key in raw["config"])
    assert not any(key.startswith("hetzner-platform:appSecrets") for key in raw["config"])
    for secret in secret_names(config):
        assert secret not in stack.values  # secrets are never plain config values


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_preset_services_fit_their_servers(path: Path) -> None:
    config = preset_config(path)
    catalogue = load_catalogue()
    for server, services in placement(config).items():
        server_type = catalogue.server_types[config.servers[server].server_type]
        cpus = sum(service.limits.cpus for service in services.values())
        ram_gb = sum(service.limits.memory_mb for service in services.values()) / 1024
        assert cpus + config.capacity.reserve_vcpu <= server_type.vcpu, (server, cpus)
        assert ram_gb + config.capacity.reserve_ram_gb <= server_type.ram_gb, (server, ram_gb)
        assert services, f"{server} runs nothing"


# A swarm preset has one stack file instead: tests/swarm/test_swarm_stack.py runs `docker stack config` on it.
@pytest.mark.parametrize("path", [p for p in PRESETS if preset_config(p).app.engine == "compose"], ids=lambda p: p.name)
def test_preset_compose_files_pass_the_real_compose_binary_and_the_schema(path: Path, tmp_path: Path) -> None:
    require_tool("docker-compose")
    config = preset_config(path)
    for server in config.servers:
        render = render_compose(config, server)
        model = compose_check(render.text, render.secrets, tmp_path / server)
        assert model["name"] == config.project
        assert set(model["services"]) == set(render.service_names)
        assert not schema_errors(yaml.safe_load(render.text))


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_preset_deploy_scripts_are_shellcheck_clean(path: Path, tmp_path: Path) -> None:
    shellcheck = tool_path("shellcheck")
    config = preset_config(path)
    for server in config.servers:
        secrets = {name: "x" for name in secret_names(config, server)}
        script = tmp_path / f"{server}.sh"
        script.write_text(app_step(config, server, HostRuntime(), secrets).script)
        done = subprocess.run([shellcheck, "-s", "bash", "-S", "style", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0


def test_seed_003_limits_and_reservations_are_exact() -> None:
    config = preset_config(next(p for p in PRESETS if p.name == "Pulumi.chrono-single.yaml"))
    expected = {
        "postgres": ("1.5G", 1.0, "1G", 0.5), "redis": ("512M", 0.5, "256M", 0.25),
        "meilisearch": ("1G", 0.5, "512M", 0.25), "backend": ("1G", 1.0, "512M", 0.5),
        "frontend": ("256M", 0.5, "128M", 0.25), "celery_worker": ("1G", 1.0, "512M", 0.5),
        "firecrawl-api": ("512M", 0.5, "256M", 0.25), "firecrawl-playwright": ("1.5G", 1.0, "1G", 0.5),
        "traefik": ("128M", 0.25, "64M", 0.1),
    }
    services = placement(config)["app"]
    assert set(services) == set(expected)
    for name, (memory, cpus, res_memory, res_cpus) in expected.items():
        service = services[name]
        assert service.reservations is not None
        assert (service.limits.memory, service.limits.cpus, service.reservations.memory, service.reservations.cpus) == (
            memory, cpus, res_memory, res_cpus)
