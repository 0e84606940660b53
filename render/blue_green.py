"""What a blue-green server needs besides its compose file: the proxy's "live colour" files.

Both colours of a blue-green service run from the same rendered compose file as two compose projects,
`<project>-blue` and `<project>-green`; each container carries the network alias `<service>-<colour>`
(compose interpolates ${HP_COLOUR} when the deploy script starts a colour). The proxy reaches a service
by that alias, and which colour is live is one small file in a directory the proxy reads:

- nginx: `/etc/nginx/hp-live/colour.conf` sets `$hp_colour` (a `map` with only a default); the site's
  `proxy_pass http://<service>-$hp_colour:<port>` resolves per request through Docker's DNS. The deploy
  validates (`nginx -t`) and sends `nginx -s reload`: nginx starts new workers with the new file and lets
  the old workers finish their open requests before they exit (graceful shutdown,
  https://nginx.org/en/docs/control.html#reconfiguration).
- Traefik: the file provider merges every file of its `directory`
  (https://github.com/traefik/traefik/blob/master/pkg/provider/file/file.go loadFileConfigFromDirectory)
  and with `watch: true` reloads on a change (https://doc.traefik.io/traefik/providers/file/#watch). Its
  watcher is not recursive (https://github.com/traefik/traefik/issues/3986), so the deploy writes
  `live.yml` and a copy of `app.yml` at the top of the watched directory, the live directory itself.
  `live.yml` defines each blue-green service with the live colour's URL and a health check, so Traefik
  also stops sending to a server whose check fails
  (https://doc.traefik.io/reference/routing-configuration/http/load-balancing/service, healthcheck).

The files for both colours are rendered here (deterministic, part of the release); the deploy script
copies the one it switches to.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from config.deploy_strategy import COLOURS, colour_alias, strategy_of
from config.schema import StackConfig

COLOUR_ENV = "HP_COLOUR"  # compose interpolates it in the colour alias; the deploy script sets it
DEFAULT_COLOUR = COLOURS[0]
NGINX_COLOUR_VAR = "$hp_colour"
NGINX_LIVE_MOUNT = "/etc/nginx/hp-live"
NGINX_LIVE_FILE = "colour.conf"
TRAEFIK_DYNAMIC_DIR = "/etc/traefik/dynamic"
TRAEFIK_APP_FILE = "app.yml"
TRAEFIK_LIVE_FILE = "live.yml"
LIVE_DIR = "live"  # under the proxy state dir on the host
LIVE_COLOUR_STATE = "live_colour"  # /opt/<project>/live_colour: the colour the proxy sends traffic to
# Release files holding each colour's live file (the deploy copies one into the live directory).
RELEASE_LIVE_PREFIX = "proxy-live-"
RELEASE_TRAEFIK_APP = "proxy-app.yml"  # Traefik's routers etc., copied to the live directory as app.yml


def blue_green_services(stack: StackConfig, names: Sequence[str]) -> list[str]:
    """The services among `names` (app services on one server) that deploy blue-green."""
    services = stack.app.services
    return [name for name in names if name in services and strategy_of(services[name]) == "blue-green"]


def colour_alias_template(service: str) -> str:
    """The compose alias with the colour left for compose to interpolate (`api-${HP_COLOUR:-blue}`)."""
    return colour_alias(service, f"${{{COLOUR_ENV}:-{DEFAULT_COLOUR}}}")


def nginx_upstream_host(service: str, blue_green: bool) -> str:
    return colour_alias(service, NGINX_COLOUR_VAR) if blue_green else service


def nginx_live_conf(colour: str) -> str:
    return (
        "# The live colour of this server's blue-green services (written by the hetzner-platform deploy).\n"
        f"map $host {NGINX_COLOUR_VAR} {{\n    default {colour};\n}}\n"
    )


def traefik_live_yml(services: dict[str, tuple[int, str]], colour: str) -> str:
    """`services`: blue-green service -> (port, health path). Traefik's service for each, on `colour`."""
    document = {"http": {"services": {
        name: {"loadBalancer": {
            "servers": [{"url": f"http://{colour_alias(name, colour)}:{port}"}],
            "healthCheck": {"path": path, "interval": "2s", "timeout": "2s"},
        }}
        for name, (port, path) in sorted(services.items())
    }}}
    header = f"# Traefik: the live colour ({colour}) of this server's blue-green services (hetzner-platform deploy).\n"
    return header + yaml.safe_dump(document, sort_keys=False)


def release_live_files(kind: str | None, services: dict[str, tuple[int, str]]) -> dict[str, str]:
    """Release file name -> content: one live file per colour, for the proxy `kind`."""
    if not services or kind is None:
        return {}
    if kind == "nginx":
        return {f"{RELEASE_LIVE_PREFIX}{colour}": nginx_live_conf(colour) for colour in COLOURS}
    return {f"{RELEASE_LIVE_PREFIX}{colour}": traefik_live_yml(services, colour) for colour in COLOURS}
