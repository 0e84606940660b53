"""Blue-green services: the strategy model, the compose colours, both proxies' live-colour files and
hp-rollback (the real switch with Docker and nginx runs in tests/e2e/test_blue_green.py).

Traefik cannot run here, so its part is checked against its documented behaviour:
- the file provider merges every file of its `directory`
  (https://github.com/traefik/traefik/blob/master/pkg/provider/file/file.go loadFileConfigFromDirectory),
  and `watch: true` reloads on changes (https://doc.traefik.io/traefik/providers/file/#watch), but not on
  changes in subdirectories (https://github.com/traefik/traefik/issues/3986): the watched directory must
  be the live directory the deploy writes live.yml into;
- a router's `service` names a service of any file of the provider: app.yml's routers reach the service
  live.yml defines (https://doc.traefik.io/traefik/routing/routers/#service);
- `loadBalancer.healthCheck` takes a failing server out of the rotation
  (https://doc.traefik.io/reference/routing-configuration/http/load-balancing/service, healthcheck).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.errors import ConfigError
from config.loader import validate_config
from render.app import app_step, build_release, secret_names
from render.blue_green import (
    NGINX_LIVE_FILE,
    NGINX_LIVE_MOUNT,
    RELEASE_LIVE_PREFIX,
    RELEASE_TRAEFIK_APP,
    TRAEFIK_DYNAMIC_DIR,
)
from render.blue_green_deploy import ROLLBACK_FILE
from render.compose import render_compose
from render.steps import HostRuntime
from tests.prerequisites import tool_path
from tests.stacks import app_stack, small_app

from .conftest import compose_check, load


def blue_green_app(proxy: str) -> dict[str, Any]:
    app = small_app(proxy={"kind": proxy})
    del app["services"]["api"]["strategy"]  # the default for an exposed, stateless service
    return app


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s["api"].pop("expose"), "strategy blue-green needs expose"),
    (lambda s: s["postgres"].update(expose={"port": 5432, "host": "db"}), "a database must not"),
])
def test_impossible_blue_green_is_refused_with_the_field_path(change: Any, message: str) -> None:
    app = blue_green_app("nginx")
    services = app["services"]
    change(services)
    target = "api" if "expose" not in services["api"] else "postgres"
    services[target]["strategy"] = "blue-green"
    with pytest.raises(ConfigError) as caught:
        validate_config(app_stack(app))
    assert f"app.services.{target}" in str(caught.value) and message in str(caught.value)


def test_defaults_exposed_stateless_services_are_blue_green_the_rest_recreate() -> None:
    config = load(app_stack(blue_green_app("nginx")))
    render = render_compose(config, "app")
    assert render.blue_green == ["api"]
    scalars = build_release(config, "app").settings
    assert "BLUE_GREEN=(api)" in scalars and "RECREATE=(postgres redis worker nginx certbot)" in scalars
    assert "PREPARE=(postgres redis nginx certbot)" in scalars  # the worker follows after the switch


@pytest.mark.parametrize("colour", ["blue", "green"])
def test_compose_gives_each_colour_its_alias_on_shared_networks(colour: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    config = load(app_stack(blue_green_app("nginx")))
    render = render_compose(config, "app")
    monkeypatch.setenv("HP_COLOUR", colour)  # as colour_compose sets it for `docker compose`
    model = compose_check(render.text, render.secrets, tmp_path)  # the real `docker compose config`
    assert model["services"]["api"]["networks"]["edge"]["aliases"] == [f"api-{colour}"]
    assert model["networks"]["edge"]["name"] == "leap_edge" and model["networks"]["internal"]["name"] == "leap_internal"


def test_nginx_reaches_the_live_colour_and_reads_it_from_the_live_directory() -> None:
    config = load(app_stack(blue_green_app("nginx")))
    render = render_compose(config, "app")
    site = next(content for path, content in render.files.items() if path.endswith("/default.conf"))
    assert f"include {NGINX_LIVE_MOUNT}/{NGINX_LIVE_FILE};" in site
    assert "set $hp_upstream http://api-$hp_colour:8000;" in site
    mounts = render.model["services"]["nginx"]["volumes"]
    assert {"type": "bind", "source": render.live_dir, "target": NGINX_LIVE_MOUNT, "read_only": True} in mounts
    release = build_release(config, "app").release_files
    assert release[f"{RELEASE_LIVE_PREFIX}green"].endswith("map $host $hp_colour {\n    default green;\n}\n")


def test_traefik_watches_the_live_directory_and_live_yml_defines_the_switched_service() -> None:
    config = load(app_stack(blue_green_app("traefik")))
    render = render_compose(config, "app")
    static = yaml.safe_load(next(c for p, c in render.files.items() if p.endswith("/traefik.yml")))
    assert static["providers"]["file"] == {"directory": TRAEFIK_DYNAMIC_DIR, "watch": True}
    mounts = render.model["services"]["traefik"]["volumes"]
    assert {"type": "bind", "source": render.live_dir, "target": TRAEFIK_DYNAMIC_DIR, "read_only": True} in mounts
    release = build_release(config, "app").release_files
    app = yaml.safe_load(release[RELEASE_TRAEFIK_APP])
    assert app["http"]["routers"]["api"]["service"] == "api" and "api" not in app["http"]["services"]
    for colour in ("blue", "green"):
        live = yaml.safe_load(release[f"{RELEASE_LIVE_PREFIX}{colour}"])
        balancer = live["http"]["services"]["api"]["loadBalancer"]
        assert balancer["servers"] == [{"url": f"http://api-{colour}:8000"}]
        assert balancer["healthCheck"]["path"] == "/health"


@pytest.mark.parametrize("proxy", ["nginx", "traefik"])
def test_deploy_script_and_hp_rollback_are_shellcheck_clean(proxy: str, tmp_path: Path) -> None:
    shellcheck = tool_path("shellcheck")
    config = load(app_stack(blue_green_app(proxy)))
    secrets = {name: "x" for name in secret_names(config, "app")}
    step = app_step(config, "app", HostRuntime(), secrets)
    rollback = build_release(config, "app").release_files[ROLLBACK_FILE]
    for name, text in (("deploy.sh", step.script), ("hp-rollback", rollback)):
        path = tmp_path / name
        path.write_text(text)
        done = subprocess.run([shellcheck, "-s", "bash", "-S", "style", str(path)], capture_output=True, text=True)
        assert done.returncode == 0, f"{name}\n{done.stdout}"
    assert "hp-rollback" in rollback and "#@@" not in rollback and "#@@" not in step.script
