"""docker-compose.yml per server from the service model (or overlaid on the user's compose file).

Rules the renderer enforces, whatever the input:
- top-level `name`, no `version:`;
- every app service is on the `internal` network (`internal: true`: no route out, no published port);
  exposed services are also on `edge` with the proxy, services that need the internet on `outbound`;
- no host ports, except the proxy's 80/443 and, in a multi-server stack, database/cache ports bound
  to this server's private address only (other servers reach them at that address);
- config files (postgresql.conf, redis.conf, proxy config) are mounted read-only from content-addressed
  paths (/opt/<project>/files/<service>/<hash>/<name>), so a release that does not change a service's
  config does not recreate that service;
- secrets enter only as `${NAME:?...}` references, resolved by compose from the release's env file.

The entries themselves come from render/compose_services.py (app services) and render/compose_proxy.py
(the proxy); this module places them on this server's networks and wires their ports and dependencies.
"""

from __future__ import annotations

from typing import Any

from config.app_service import COMPOSE_CONDITIONS, ServiceConfig
from config.schema import StackConfig
from render import blue_green, proxy
from render.compose_proxy import proxy_entries
from render.compose_render import ComposeRender
from render.compose_services import service_entry
from render.compose_user_file import load_user_compose, user_compose_services, user_compose_volumes
from render.compose_values import normalise_depends
from spec.resources import server_private_ips
from spec.service_homes import placement, service_homes


def render_compose(stack: StackConfig, server: str) -> ComposeRender:
    """The compose project (and its config files) for one server of the stack."""
    app = stack.app
    where = placement(stack)
    if server not in where:
        raise ValueError(f"no server named '{server}'")
    app_here = {name: svc for name, svc in where[server].items() if name in app.services}
    hosting = [name for name, services in where.items() if services]
    # Private addresses matter only when the services are spread over several servers of a network.
    private_ips = server_private_ips(stack) if len(hosting) > 1 and stack.network is not None else {}
    data_dir = app.resolved_data_dir(stack.project)
    user_compose = load_user_compose(stack)  # {} without app.composeFile
    result = ComposeRender(server=server, model={"name": stack.project})
    result.blue_green = blue_green.blue_green_services(stack, list(app_here))
    services: dict[str, Any] = {}
    networks_used: set[str] = set()
    secrets: set[str] = set()
    remote_hosts = _remote_hosts(stack, where, app_here, private_ips)
    user_services = user_compose_services(user_compose)
    for name, svc in app_here.items():
        entry = service_entry(stack, name, svc, user_services.get(name), result, data_dir)
        networks_used.update(_connect(entry, name, svc, result, private_ips, remote_hosts))
        _depends_on(entry, svc, app_here)
        secrets |= svc.secret_refs()
        services[name] = entry

    routes = proxy.routes_for(stack, app_here)
    if routes:
        result.routes = routes
        result.redirects = proxy.redirects_for(stack)
        result.proxy_kind = app.proxy.kind
        services.update(proxy_entries(stack, routes, result, data_dir))
        networks_used.add("edge")
        secrets |= set(proxy.proxy_secret_names(stack, routes, result.redirects))

    result.model["services"] = {name: _ordered(entry) for name, entry in services.items()}
    networks = _networks(stack, networks_used, result.blue_green)
    if networks:
        result.model["networks"] = networks
    user_volumes = user_compose_volumes(user_compose)
    if user_volumes:
        result.model["volumes"] = user_volumes
    result.secrets = sorted(secrets)
    return result


def _remote_hosts(
    stack: StackConfig, where: dict[str, dict[str, ServiceConfig]], app_here: dict[str, ServiceConfig], private_ips: dict[str, str]
) -> list[str]:
    """extra_hosts entries `<service>:<private address>` for the services with private ports on other servers."""
    home = service_homes(where)
    return sorted(
        f"{name}:{private_ips[home[name]]}"
        for name, svc in stack.app.services.items()
        if name not in app_here and name in home and svc.private_ports and home[name] in private_ips
    )


def _connect(
    entry: dict[str, Any], name: str, svc: ServiceConfig, result: ComposeRender, private_ips: dict[str, str], remote_hosts: list[str]
) -> list[str]:
    """Put the service on its networks, publish its private ports on this server's private address and
    name the services on other servers; returns the networks it joined."""
    publish = bool(svc.private_ports) and result.server in private_ips
    nets = ["internal"]
    if svc.expose is not None:
        nets.append("edge")
    elif svc.needs_outbound or publish:
        nets.append("outbound")
    if name in result.blue_green:
        # Each colour answers to <service>-<colour> as well as to <service> (compose's own alias).
        alias = blue_green.colour_alias_template(name)
        entry["networks"] = {net: {"aliases": [alias]} for net in nets}
    else:
        entry["networks"] = nets
    if publish:
        address = private_ips[result.server]
        entry["ports"] = [f"{address}:{port}:{port}" for port in svc.private_ports]
    if remote_hosts:
        entry["extra_hosts"] = remote_hosts
    return nets


def _depends_on(entry: dict[str, Any], svc: ServiceConfig, app_here: dict[str, ServiceConfig]) -> None:
    """depends_on from the stack file, else the user's compose file's, limited to services on this server."""
    depends = {
        target: {"condition": COMPOSE_CONDITIONS[cond]}
        for target, cond in svc.depends_on.items()
        if target in app_here
    }
    if depends:
        entry["depends_on"] = depends
    elif "depends_on" in entry:
        entry["depends_on"] = {k: v for k, v in normalise_depends(entry["depends_on"]).items() if k in app_here}
        if not entry["depends_on"]:
            del entry["depends_on"]


def _networks(stack: StackConfig, used: set[str], blue_green_services: list[str]) -> dict[str, Any]:
    networks: dict[str, Any] = {}
    if "internal" in used:
        networks["internal"] = {"internal": True}
    if "edge" in used:
        networks["edge"] = {}
    if "outbound" in used:
        networks["outbound"] = {}
    if blue_green_services:
        # The colour projects (<project>-blue/-green) join the main project's networks by their names
        # (compose's default name <project>_<network>, written out so every project uses the same one).
        for key, network in networks.items():
            network["name"] = f"{stack.project}_{key}"
    return networks


_KEY_ORDER = (
    "image", "command", "entrypoint", "environment", "volumes", "ports", "extra_hosts", "depends_on", "healthcheck",
    "restart", "stop_grace_period", "shm_size", "deploy", "networks",
)


def _ordered(entry: dict[str, Any]) -> dict[str, Any]:
    """Stable, readable key order: ours first, anything from a user's compose file after."""
    known = {key: entry[key] for key in _KEY_ORDER if key in entry}
    return known | {key: value for key, value in entry.items() if key not in known}
