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
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from config.app_files import GenericFiles, PostgresTuning, RedisTuning
from config.app_service import HealthcheckConfig, ServiceConfig
from config.app_values import CERTBOT_IMAGES, CLOUDFLARE_TOKEN_SECRET
from config.path_checks import releases_dir
from config.schema import StackConfig
from render import blue_green, postgres, proxy, proxy_nginx, proxy_traefik, redis
from render.compose_user_file import load_user_compose, user_compose_services, user_compose_volumes
from render.compose_values import compose_cpus, compose_memory, env_value, literal, normalise_depends, normalise_env, secret_ref
from render.secret_files import SecretFile
from spec.lb_checks import PROXY_CHECK_PORT
from spec.resources import server_private_ips
from spec.service_homes import placement, service_homes

COMPOSE_FILE = "docker-compose.yml"
PROXY_STATE_DIR = ".hetzner-platform/proxy"  # under the data dir; service volume names cannot start with "."


@dataclass
class ComposeRender:
    """One server's compose model plus the config files it mounts (absolute host path -> content)."""

    server: str
    model: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)
    data_dirs: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    # Secret files of the release (written by the deploy script), relative to the release directory.
    secret_files: list[SecretFile] = field(default_factory=list)
    routes: list[proxy.Route] = field(default_factory=list)
    redirects: list[proxy.Redirect] = field(default_factory=list)
    proxy_kind: str | None = None
    # Blue-green services of this server and the proxy's live-colour files (render/blue_green.py).
    blue_green: list[str] = field(default_factory=list)
    live_files: dict[str, str] = field(default_factory=dict)
    live_dir: str = ""  # host directory the proxy reads the live colour from

    @property
    def text(self) -> str:
        return dump_compose(self.model, self.server)

    @property
    def service_names(self) -> list[str]:
        return list(self.model.get("services", {}))


def dump_compose(model: dict[str, Any], server: str) -> str:
    header = (
        f"# docker compose project for server '{server}', rendered by hetzner-platform.\n"
        "# Secrets are ${NAME} references filled from the release's env file (mode 0600).\n"
    )
    return header + yaml.safe_dump(model, sort_keys=False, width=200)


def base_dir(stack: StackConfig) -> str:
    return releases_dir(stack.project)


def stored_path(stack: StackConfig, service: str, filename: str, content: str) -> str:
    digest = hashlib.sha256(content.encode()).hexdigest()[:12]
    return f"{base_dir(stack)}/files/{service}/{digest}/{filename}"


def _resources(service: ServiceConfig) -> dict[str, Any]:
    resources: dict[str, Any] = {
        "limits": {"cpus": compose_cpus(service.limits.cpus), "memory": compose_memory(service.limits.memory_mb)}
    }
    if service.reservations is not None:
        resources["reservations"] = {
            "cpus": compose_cpus(service.reservations.cpus),
            "memory": compose_memory(service.reservations.memory_mb),
        }
    return {"resources": resources}


def _healthcheck(service: ServiceConfig) -> dict[str, Any] | None:
    check = service.default_healthcheck()
    return None if check is None else _healthcheck_entry(check)


def _healthcheck_entry(check: HealthcheckConfig) -> dict[str, Any]:
    return {
        "test": literal(check.compose_test()),
        "interval": check.interval,
        "timeout": check.timeout,
        "retries": check.retries,
        "start_period": check.start_period,
    }


def render_compose(stack: StackConfig, server: str) -> ComposeRender:
    """The compose project (and its config files) for one server of the stack."""
    app = stack.app
    where = placement(stack)
    if server not in where:
        raise ValueError(f"no server named '{server}'")
    here = where[server]
    hosting = [name for name, services in where.items() if services]
    multi = len(hosting) > 1 and stack.network is not None
    private_ips = server_private_ips(stack) if multi else {}
    data_dir = app.resolved_data_dir(stack.project)
    user_compose = load_user_compose(stack)  # {} without app.composeFile
    user_services = user_compose_services(user_compose)
    result = ComposeRender(server=server, model={"name": stack.project})
    services: dict[str, Any] = {}
    app_here = {name: svc for name, svc in here.items() if name in app.services}

    home = service_homes(where)  # for extra_hosts of services on other servers
    remote_hosts = sorted(
        f"{name}:{private_ips[home[name]]}"
        for name, svc in app.services.items()
        if name not in app_here and name in home and svc.private_ports and home[name] in private_ips
    )
    secrets: set[str] = set()
    networks_used: set[str] = set()
    result.blue_green = blue_green.blue_green_services(stack, list(app_here))
    for name, svc in app_here.items():
        entry = _service_entry(stack, name, svc, user_services.get(name), result, data_dir)
        nets = ["internal"]
        publish = multi and svc.private_ports and server in private_ips
        if svc.expose is not None:
            nets.append("edge")
        elif svc.needs_outbound or publish:
            nets.append("outbound")
        networks_used.update(nets)
        if name in result.blue_green:
            # Each colour answers to <service>-<colour> as well as to <service> (compose's own alias).
            alias = blue_green.colour_alias_template(name)
            entry["networks"] = {net: {"aliases": [alias]} for net in nets}
        else:
            entry["networks"] = nets
        if publish:
            entry["ports"] = [f"{private_ips[server]}:{port}:{port}" for port in svc.private_ports]
        if remote_hosts:
            entry["extra_hosts"] = remote_hosts
        depends = {
            target: {"condition": {"started": "service_started", "healthy": "service_healthy",
                                   "completed": "service_completed_successfully"}[cond]}
            for target, cond in svc.depends_on.items()
            if target in app_here
        }
        if depends:
            entry["depends_on"] = depends
        elif "depends_on" in entry:
            entry["depends_on"] = {k: v for k, v in normalise_depends(entry["depends_on"]).items() if k in app_here}
            if not entry["depends_on"]:
                del entry["depends_on"]
        secrets |= svc.secret_refs()
        services[name] = _ordered(entry)

    routes = proxy.routes_for(stack, app_here)
    if routes:
        result.routes = routes
        result.redirects = proxy.redirects_for(stack)
        result.proxy_kind = app.proxy.kind
        proxy_entries = _proxy_entries(stack, routes, result, data_dir)
        services.update(proxy_entries)
        networks_used.add("edge")
        secrets |= set(proxy.proxy_secret_names(stack, routes, result.redirects))

    result.model["services"] = {name: _ordered(entry) for name, entry in services.items()}
    networks: dict[str, Any] = {}
    if "internal" in networks_used:
        networks["internal"] = {"internal": True}
    if "edge" in networks_used:
        networks["edge"] = {}
    if "outbound" in networks_used:
        networks["outbound"] = {}
    if result.blue_green:
        # The colour projects (<project>-blue/-green) join the main project's networks by their names
        # (compose's default name <project>_<network>, written out so every project uses the same one).
        for key, network in networks.items():
            network["name"] = f"{stack.project}_{key}"
    if networks:
        result.model["networks"] = networks
    user_volumes = user_compose_volumes(user_compose)
    if user_volumes:
        result.model["volumes"] = user_volumes
    result.secrets = sorted(secrets)
    return result


_KEY_ORDER = (
    "image", "command", "entrypoint", "environment", "volumes", "ports", "extra_hosts", "depends_on", "healthcheck",
    "restart", "stop_grace_period", "shm_size", "deploy", "networks",
)


def _ordered(entry: dict[str, Any]) -> dict[str, Any]:
    """Stable, readable key order: ours first, anything from a user's compose file after."""
    known = {key: entry[key] for key in _KEY_ORDER if key in entry}
    return known | {key: value for key, value in entry.items() if key not in known}


def _service_entry(
    stack: StackConfig, name: str, svc: ServiceConfig, base: dict[str, Any] | None, result: ComposeRender, data_dir: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if base is not None:
        if "env_file" in base:
            raise ValueError(
                f"app.composeFile: service '{name}' uses env_file, which does not exist on the host: "
                f"use app.services.{name}.environment and secretEnv"
            )
        for volume in base.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else str((volume or {}).get("source", ""))
            if source.startswith((".", "~")):
                raise ValueError(
                    f"app.composeFile: service '{name}' mounts {source}, a path relative to your checkout that does not "
                    f"exist on the host: use app.services.{name}.volumes or configFiles (kind generic)"
                )
        entry.update({key: value for key, value in base.items() if key not in ("ports", "networks", "deploy", "build")})
        if "build" in base and not svc.image and "image" not in base:
            raise ValueError(
                f"app.composeFile: service '{name}' only has `build:`; the host pulls images, so set "
                f"app.services.{name}.image (or an image in the compose file)"
            )
    if svc.image:
        entry["image"] = svc.image
    if "image" not in entry:
        raise ValueError(f"app.services.{name}.image: no image (neither in the stack config nor in the compose file)")
    if svc.entrypoint is not None:
        entry["entrypoint"] = literal(svc.entrypoint)

    volumes: list[Any] = list(entry.pop("volumes", []) or [])
    for volume, target in svc.volumes.items():
        source = f"{data_dir}/{volume}"
        result.data_dirs.append(source)
        volumes.append({"type": "bind", "source": source, "target": target})

    tuning = svc.config_files
    command: Any = literal(svc.command) if svc.command is not None else entry.get("command")
    environment: dict[str, Any] = normalise_env(entry.pop("environment", None))
    if isinstance(tuning, PostgresTuning):
        content = postgres.render_postgresql_conf(name, svc)
        path = stored_path(stack, name, "postgresql.conf", content)
        result.files[path] = content
        volumes.append(f"{path}:{postgres.CONTAINER_PATH}:ro")
        if command is None:
            command = ["postgres", "-c", f"config_file={postgres.CONTAINER_PATH}"]
        # Parallel queries use /dev/shm; Docker's 64 MB default is too small for real work.
        entry.setdefault("shm_size", "256m" if svc.limits.memory_mb >= 2048 else "128m")
        entry.setdefault("stop_grace_period", "60s")
    elif isinstance(tuning, RedisTuning):
        content = redis.render_redis_conf(name, svc)
        path = stored_path(stack, name, "redis.conf", content)
        result.files[path] = content
        volumes.append(f"{path}:{redis.CONTAINER_PATH}:ro")
        if command is None:
            command = ["redis-server", redis.CONTAINER_PATH]
        auth = redis.auth_files(name, svc)
        if auth:
            result.secret_files += auth
            source = "./" + auth[0].path.rsplit("/", 1)[0]  # relative to the release (the project directory)
            volumes.append({"type": "bind", "source": source, "target": redis.AUTH_DIR, "read_only": True})
        entry.setdefault("stop_grace_period", "60s")
    elif isinstance(tuning, GenericFiles):
        for index, (target, content) in enumerate(tuning.files.items()):
            filename = f"{index:02d}-{Path(target).name or 'file'}"
            path = stored_path(stack, name, filename, content)
            result.files[path] = content
            volumes.append(f"{path}:{target}:ro")
    if command is not None:
        entry["command"] = command

    for key, value in svc.environment.items():
        environment[key] = env_value(value)
    for secret in svc.secret_env:
        environment[secret] = secret_ref(secret)
    if environment:
        entry["environment"] = environment
    for host_path, target in svc.host_mounts.items():
        volumes.append({"type": "bind", "source": host_path, "target": target, "read_only": True})
    if volumes:
        entry["volumes"] = volumes
    for key, value in svc.extra.items():
        entry[key] = literal(value)
    health = _healthcheck(svc)
    if isinstance(tuning, RedisTuning) and tuning.password_secret and svc.healthcheck is None:
        health = _healthcheck_entry(redis.authenticated_healthcheck())
    if health is not None:
        entry["healthcheck"] = health
    entry["restart"] = svc.restart if base is None or "restart" not in base else base["restart"]
    if svc.stop_grace_period is not None:
        entry["stop_grace_period"] = svc.stop_grace_period
    entry["deploy"] = _resources(svc)
    return entry


def _proxy_entries(stack: StackConfig, routes: list[proxy.Route], result: ComposeRender, data_dir: str) -> dict[str, Any]:
    app = stack.app
    config = app.proxy
    state = f"{data_dir}/{PROXY_STATE_DIR}"
    lb_ip = proxy.load_balancer_ip(stack)
    ports = ["80:80", "443:443"]
    services: dict[str, Any] = {}
    auth_env = {route.basic_auth_secret: secret_ref(route.basic_auth_secret) for route in routes if route.basic_auth_secret}
    redirects = result.redirects
    check = proxy.lb_check_for(stack, result.server)
    if check is not None:
        private_ip = server_private_ips(stack).get(result.server)
        if private_ip:
            ports.append(f"{private_ip}:{PROXY_CHECK_PORT}:{PROXY_CHECK_PORT}")
        else:
            check = None
    dns01 = config.acme and "dns-01" in proxy.certificates(routes, redirects).values()
    proxy_services = app.proxy_services()
    switched = {route.service: route.port for route in routes if route.blue_green}
    live_mount: dict[str, Any] | None = None
    if switched:
        result.live_dir = f"{state}/{blue_green.LIVE_DIR}"
        result.data_dirs.append(result.live_dir)
        health = app.health_url if app.health_url is not None and app.health_url.startswith("/") else "/health"
        result.live_files = blue_green.release_live_files(config.kind, {name: (port, health) for name, port in switched.items()})
        target = blue_green.NGINX_LIVE_MOUNT if config.kind == "nginx" else blue_green.TRAEFIK_DYNAMIC_DIR
        live_mount = {"type": "bind", "source": result.live_dir, "target": target, "read_only": True}
    if config.kind == "traefik":
        static = proxy_traefik.traefik_static(stack, routes, redirects, check)
        dynamic = proxy_traefik.traefik_dynamic(stack, routes, redirects, check)
        static_path = stored_path(stack, "traefik", "traefik.yml", static)
        dynamic_path = stored_path(stack, "traefik", "app.yml", dynamic)
        result.files[static_path] = static
        result.files[dynamic_path] = dynamic
        acme_dir = f"{state}/traefik"
        result.data_dirs.append(acme_dir)
        environment = dict(auth_env)
        if dns01:
            environment[CLOUDFLARE_TOKEN_SECRET] = secret_ref(CLOUDFLARE_TOKEN_SECRET)
        # With blue-green services the watched directory is the live directory: the deploy copies app.yml
        # next to live.yml there, so a colour switch is a file change Traefik picks up without a restart.
        dynamic_mount: Any = f"{dynamic_path}:{blue_green.TRAEFIK_DYNAMIC_DIR}/{blue_green.TRAEFIK_APP_FILE}:ro"
        if live_mount is not None:
            dynamic_mount = live_mount
            result.live_files[blue_green.RELEASE_TRAEFIK_APP] = dynamic
        entry: dict[str, Any] = {
            "image": config.resolved_image,
            "ports": ports,
            "volumes": [
                f"{static_path}:/etc/traefik/traefik.yml:ro",
                dynamic_mount,
                {"type": "bind", "source": acme_dir, "target": proxy_traefik.ACME_DIR},
            ],
        }
        if environment:
            entry["environment"] = environment
        entry.update({
            "healthcheck": {"test": ["CMD", "traefik", "healthcheck"], "interval": "10s", "timeout": "5s",
                            "retries": 5, "start_period": "10s"},
            "restart": "unless-stopped",
            "networks": ["edge"],
            "deploy": _resources(proxy_services["traefik"]),
        })
        services["traefik"] = entry
        return services

    # nginx (+ certbot for Let's Encrypt)
    site = proxy_nginx.nginx_site(stack, routes, redirects, check)
    start = proxy_nginx.nginx_start_script(routes)
    site_path = stored_path(stack, "nginx", "default.conf", site)
    start_path = stored_path(stack, "nginx", "start.sh", start)
    result.files[site_path] = site
    result.files[start_path] = start
    letsencrypt = f"{state}/letsencrypt"
    webroot = f"{state}/certbot-www"
    result.data_dirs += [letsencrypt, webroot]
    if lb_ip:
        ports.append(f"127.0.0.1:{proxy_nginx.NGINX_LOCAL_PORT}:{proxy_nginx.NGINX_LOCAL_PORT}")
    entry = {
        "image": config.resolved_image,
        "command": ["sh", "/hp/start.sh"],
        "ports": ports,
        "volumes": [
            f"{site_path}:/etc/nginx/conf.d/default.conf:ro",
            f"{start_path}:/hp/start.sh:ro",
            {"type": "bind", "source": letsencrypt, "target": proxy_nginx.NGINX_CERT_ROOT, "read_only": True},
            {"type": "bind", "source": webroot, "target": proxy_nginx.CERTBOT_WEBROOT, "read_only": True},
            *([live_mount] if live_mount is not None else []),
        ],
    }
    if auth_env:
        entry["environment"] = auth_env
    entry.update({
        # The master process is alive; whether it serves is what the deploy's HTTP check proves.
        "healthcheck": {"test": ["CMD", "pgrep", "-x", "nginx"], "interval": "30s", "timeout": "5s",
                        "retries": 3, "start_period": "10s"},
        "restart": "unless-stopped",
        "networks": ["edge"],
        "deploy": _resources(proxy_services["nginx"]),
    })
    services["nginx"] = entry
    if config.acme:
        script = proxy_nginx.certbot_script(stack, routes, redirects)
        script_path = stored_path(stack, "certbot", "run.sh", script)
        result.files[script_path] = script
        certbot: dict[str, Any] = {
            "image": CERTBOT_IMAGES["dns-01" if dns01 else "http-01"],
            "entrypoint": ["sh", "/hp/run.sh"],
            "volumes": [
                f"{script_path}:/hp/run.sh:ro",
                {"type": "bind", "source": letsencrypt, "target": proxy_nginx.NGINX_CERT_ROOT},
                {"type": "bind", "source": webroot, "target": proxy_nginx.CERTBOT_WEBROOT},
            ],
        }
        if dns01:
            certbot["environment"] = {CLOUDFLARE_TOKEN_SECRET: secret_ref(CLOUDFLARE_TOKEN_SECRET)}
        certbot.update({
            "restart": "unless-stopped",
            "networks": ["edge"],
            "deploy": _resources(proxy_services["certbot"]),
        })
        services["certbot"] = certbot
    return services
