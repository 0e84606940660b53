"""The proxy's compose services on one server: Traefik, or nginx plus certbot (with ACME), with their
config files (render/proxy_traefik.py, render/proxy_nginx.py), ports, state directories and secrets.

Shared by the compose files (render/compose.py) and the swarm stack file (render/swarm_stack.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from config.app_values import CERTBOT_IMAGES, CLOUDFLARE_TOKEN_SECRET
from config.schema import StackConfig
from render import blue_green, proxy, proxy_nginx, proxy_traefik
from render.compose_render import ComposeRender
from render.compose_values import deploy_resources, secret_ref
from spec.lb_checks import PROXY_CHECK_PORT, ProxyCheck
from spec.resources import server_private_ips

PROXY_STATE_DIR = ".hetzner-platform/proxy"  # under the data dir; service volume names cannot start with "."


@dataclass(frozen=True)
class _ProxySetup:
    """What the proxy's entries on one server share."""

    routes: list[proxy.Route]
    state: str  # the proxy's state directory on the host (certificates, ACME storage, live colour)
    ports: list[str]
    check: ProxyCheck | None  # the load balancer's HTTP check this server answers
    dns01: bool  # some certificate comes by DNS-01: the Cloudflare token goes into the environment
    auth_env: dict[str, str]  # basic-auth secrets as ${NAME} references
    live_mount: dict[str, Any] | None  # the live-colour directory, with blue-green services


def proxy_entries(stack: StackConfig, routes: list[proxy.Route], result: ComposeRender, data_dir: str) -> dict[str, Any]:
    """The proxy services for `result.server` (traefik, or nginx and certbot); records their config files,
    data dirs and live-colour files in `result`."""
    ports, check = _ports(stack, result.server)
    state = f"{data_dir}/{PROXY_STATE_DIR}"
    setup = _ProxySetup(
        routes=routes,
        state=state,
        ports=ports,
        check=check,
        dns01=stack.app.proxy.acme and "dns-01" in proxy.certificates(routes, result.redirects).values(),
        auth_env={route.basic_auth_secret: secret_ref(route.basic_auth_secret)
                  for route in routes if route.basic_auth_secret},
        live_mount=_live_colour_mount(stack, routes, result, state),
    )
    if stack.app.proxy.kind == "traefik":
        return {"traefik": _traefik_entry(stack, setup, result)}
    services = {"nginx": _nginx_entry(stack, setup, result)}
    if stack.app.proxy.acme:
        services["certbot"] = _certbot_entry(stack, setup, result)
    return services


def _ports(stack: StackConfig, server: str) -> tuple[list[str], ProxyCheck | None]:
    """80 and 443 on every address; the load balancer's check port on the private address only, and the
    check itself only when this server has a private address to publish it on."""
    ports = ["80:80", "443:443"]
    check = proxy.lb_check_for(stack, server)
    if check is not None:
        private_ip = server_private_ips(stack).get(server)
        if not private_ip:
            return ports, None
        ports.append(f"{private_ip}:{PROXY_CHECK_PORT}:{PROXY_CHECK_PORT}")
    return ports, check


def _live_colour_mount(stack: StackConfig, routes: list[proxy.Route], result: ComposeRender, state: str) -> dict[str, Any] | None:
    """With blue-green services: the directory the proxy reads the live colour from, and its first files."""
    switched = {route.service: route.port for route in routes if route.blue_green}
    if not switched:
        return None
    app = stack.app
    kind = app.proxy.kind
    result.live_dir = f"{state}/{blue_green.LIVE_DIR}"
    result.data_dirs.append(result.live_dir)
    health = app.health_url if app.health_url is not None and app.health_url.startswith("/") else "/health"
    result.live_files = blue_green.release_live_files(kind, {name: (port, health) for name, port in switched.items()})
    target = blue_green.NGINX_LIVE_MOUNT if kind == "nginx" else blue_green.TRAEFIK_DYNAMIC_DIR
    return {"type": "bind", "source": result.live_dir, "target": target, "read_only": True}


def _traefik_entry(stack: StackConfig, setup: _ProxySetup, result: ComposeRender) -> dict[str, Any]:
    config = stack.app.proxy
    static = proxy_traefik.traefik_static(stack, setup.routes, result.redirects, setup.check)
    dynamic = proxy_traefik.traefik_dynamic(stack, setup.routes, result.redirects, setup.check)
    static_path = result.store(stack, "traefik", "traefik.yml", static)
    dynamic_path = result.store(stack, "traefik", "app.yml", dynamic)
    acme_dir = f"{setup.state}/traefik"
    result.data_dirs.append(acme_dir)
    environment = dict(setup.auth_env)
    if setup.dns01:
        environment[CLOUDFLARE_TOKEN_SECRET] = secret_ref(CLOUDFLARE_TOKEN_SECRET)
    # With blue-green services the watched directory is the live directory: the deploy copies app.yml
    # next to live.yml there, so a colour switch is a file change Traefik picks up without a restart.
    dynamic_mount: Any = f"{dynamic_path}:{blue_green.TRAEFIK_DYNAMIC_DIR}/{blue_green.TRAEFIK_APP_FILE}:ro"
    if setup.live_mount is not None:
        dynamic_mount = setup.live_mount
        result.live_files[blue_green.RELEASE_TRAEFIK_APP] = dynamic
    entry: dict[str, Any] = {
        "image": config.resolved_image,
        "ports": setup.ports,
        "volumes": [
            f"{static_path}:/etc/traefik/traefik.yml:ro",
            dynamic_mount,
            {"type": "bind", "source": acme_dir, "target": proxy_traefik.ACME_DIR},
        ],
    }
    if environment:
        entry["environment"] = environment
    return entry | {
        "healthcheck": {"test": ["CMD", "traefik", "healthcheck"], "interval": "10s", "timeout": "5s",
                        "retries": 5, "start_period": "10s"},
        "restart": "unless-stopped",
        "networks": ["edge"],
        "deploy": deploy_resources(stack.app.proxy_services()["traefik"]),
    }


def _nginx_entry(stack: StackConfig, setup: _ProxySetup, result: ComposeRender) -> dict[str, Any]:
    site_path = result.store(stack, "nginx", "default.conf",
                             proxy_nginx.nginx_site(stack, setup.routes, result.redirects, setup.check))
    start_path = result.store(stack, "nginx", "start.sh", proxy_nginx.nginx_start_script(setup.routes))
    letsencrypt, webroot = _certbot_dirs(setup)
    result.data_dirs += [letsencrypt, webroot]
    ports = list(setup.ports)
    if proxy.load_balancer_ip(stack):
        ports.append(f"127.0.0.1:{proxy_nginx.NGINX_LOCAL_PORT}:{proxy_nginx.NGINX_LOCAL_PORT}")
    entry: dict[str, Any] = {
        "image": stack.app.proxy.resolved_image,
        "command": ["sh", "/hp/start.sh"],
        "ports": ports,
        "volumes": [
            f"{site_path}:/etc/nginx/conf.d/default.conf:ro",
            f"{start_path}:/hp/start.sh:ro",
            {"type": "bind", "source": letsencrypt, "target": proxy_nginx.NGINX_CERT_ROOT, "read_only": True},
            {"type": "bind", "source": webroot, "target": proxy_nginx.CERTBOT_WEBROOT, "read_only": True},
            *([setup.live_mount] if setup.live_mount is not None else []),
        ],
    }
    if setup.auth_env:
        entry["environment"] = setup.auth_env
    return entry | {
        # The master process is alive; whether it serves is what the deploy's HTTP check proves.
        "healthcheck": {"test": ["CMD", "pgrep", "-x", "nginx"], "interval": "30s", "timeout": "5s",
                        "retries": 3, "start_period": "10s"},
        "restart": "unless-stopped",
        "networks": ["edge"],
        "deploy": deploy_resources(stack.app.proxy_services()["nginx"]),
    }


def _certbot_dirs(setup: _ProxySetup) -> tuple[str, str]:
    """The certificates (nginx reads them, certbot writes them) and the HTTP-01 webroot, on the host."""
    return f"{setup.state}/letsencrypt", f"{setup.state}/certbot-www"


def _certbot_entry(stack: StackConfig, setup: _ProxySetup, result: ComposeRender) -> dict[str, Any]:
    script_path = result.store(stack, "certbot", "run.sh", proxy_nginx.certbot_script(stack, setup.routes, result.redirects))
    letsencrypt, webroot = _certbot_dirs(setup)
    certbot: dict[str, Any] = {
        "image": CERTBOT_IMAGES["dns-01" if setup.dns01 else "http-01"],
        "entrypoint": ["sh", "/hp/run.sh"],
        "volumes": [
            f"{script_path}:/hp/run.sh:ro",
            {"type": "bind", "source": letsencrypt, "target": proxy_nginx.NGINX_CERT_ROOT},
            {"type": "bind", "source": webroot, "target": proxy_nginx.CERTBOT_WEBROOT},
        ],
    }
    if setup.dns01:
        certbot["environment"] = {CLOUDFLARE_TOKEN_SECRET: secret_ref(CLOUDFLARE_TOKEN_SECRET)}
    return certbot | {
        "restart": "unless-stopped",
        "networks": ["edge"],
        "deploy": deploy_resources(stack.app.proxy_services()["certbot"]),
    }
