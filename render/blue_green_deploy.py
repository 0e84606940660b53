"""The deploy script's view of blue-green: the settings deploy.sh and hp-rollback read for one server's
release, and the shared colour functions (the proxy's side, names and live files: render/blue_green.py)."""

from __future__ import annotations

from pathlib import Path

from config.schema import StackConfig
from render.blue_green import (
    LIVE_COLOUR_STATE,
    NGINX_LIVE_FILE,
    RELEASE_LIVE_PREFIX,
    RELEASE_TRAEFIK_APP,
    TRAEFIK_APP_FILE,
    TRAEFIK_LIVE_FILE,
)
from render.compose_render import ComposeRender
from spec.host_paths import ROLLBACK_BIN

ROLLBACK_FILE = "hp-rollback"  # in every release; ROLLBACK_BIN links to the current release's copy
TEMPLATES = Path(__file__).parent / "templates" / "app"


def strategy_settings(stack: StackConfig, compose: ComposeRender) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Scalar settings and arrays of the deploy script and hp-rollback for one server's release."""
    services = stack.app.services
    switched = set(compose.blue_green)
    recreate = [name for name in compose.service_names if name not in switched]
    workers = {name for name in recreate if name in services and services[name].role == "worker"}
    check = next((route for route in compose.routes if route.blue_green and not route.admin_only), None)
    check = check or next((route for route in compose.routes if route.blue_green), None)
    health = stack.app.health_url if stack.app.health_url is not None and stack.app.health_url.startswith("/") else "/health"
    deploy = stack.app.deploy
    scalars = {
        "PROXY_KIND": compose.proxy_kind or "",
        "PROXY_SERVICE": compose.proxy_kind or "",
        "LIVE_DIR": compose.live_dir,
        "LIVE_FILE": NGINX_LIVE_FILE if compose.proxy_kind == "nginx" else TRAEFIK_LIVE_FILE,
        "TRAEFIK_APP_FILE": TRAEFIK_APP_FILE,
        "RELEASE_TRAEFIK_APP": RELEASE_TRAEFIK_APP,
        "RELEASE_LIVE_PREFIX": RELEASE_LIVE_PREFIX,
        "DRAIN_TIMEOUT": str(deploy.drain_timeout_s),
        "KEEP_PREVIOUS_MINUTES": str(deploy.keep_previous_minutes),
        "ROLLBACK_BIN": ROLLBACK_BIN,
        "LIVE_STATE": LIVE_COLOUR_STATE,
        # The new colour's own check, straight to its container (the proxy does not send it traffic yet).
        "BG_CHECK_SERVICE": check.service if check else "",
        "BG_CHECK_HOST": check.fqdn if check else "",
        "BG_CHECK_PORT": str(check.port) if check else "",
        "BG_CHECK_PATH": health,
    }
    arrays = {
        "BLUE_GREEN": compose.blue_green,
        "RECREATE": recreate,
        # Started before the new colour (databases, caches, the proxy); workers follow after the switch.
        "PREPARE": [name for name in recreate if name not in workers],
    }
    return scalars, arrays


def colours_library() -> str:
    return (TEMPLATES / "colours.sh").read_text(encoding="utf-8")


def render_rollback(settings: str) -> str:
    """hp-rollback for one release: its settings block and the shared colour functions.

    The template still spells /opt/$PROJECT (spec/host_paths.releases_dir): the script is one of the release's
    files, so any change to its text changes every release id and deploys every server's app once more."""
    template = (TEMPLATES / "hp-rollback").read_text(encoding="utf-8")
    return template.replace("#@@SETTINGS@@", settings).replace("#@@COLOURS@@", colours_library())
