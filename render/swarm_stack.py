"""The swarm stack file (app.engine swarm): one `docker stack deploy` file for all servers.

Built from the same service entries as the compose files (render/compose.py), then turned into what
Swarm mode runs (https://docs.docker.com/reference/compose-file/deploy/):
- `deploy`: replicas and placement constraints from spec/swarm.py; update_config start-first with
  failure_action rollback and a monitor window (a task that is not healthy within it fails the update,
  and the swarm rolls back by itself); rollback_config; resources; restart_policy instead of `restart`.
  Stateful services (volumes, postgres, redis) update stop-first: two tasks must never share a data dir.
- `endpoint_mode: dnsrr`: the service name resolves to its healthy tasks' addresses. The proxies find
  tasks themselves (Traefik's swarm provider dials task addresses; nginx resolves per request), so no
  virtual IP and no IPVS is needed (the e2e kernel has none; tests/e2e/README.md).
- networks are overlays, encrypted with IPsec when app.swarm.encrypted (`driver_opts: encrypted`).
- config files (postgresql.conf, redis.conf, proxy config) become swarm configs, named by their content
  hash (configs are immutable): every node gets them from the managers, no file on the node.
- secrets become swarm secrets, never an env file: secretEnv NAME is the file /run/secrets/NAME and the
  variable NAME_FILE points to it (the convention of the official postgres/mysql/redis images); secret
  files (Redis' auth) are secrets at their target path. Their swarm names come from the deploy script
  (`${HP_SECRET_...}`): `<project>_<key>_<hash of the value>`, so a new value is a new secret and a
  rolling update. A `${NAME}` inside a plain environment value (a URL with a password) is filled by
  `docker stack deploy` from the deploy script's environment and is then part of the service spec, which
  only root on a manager can read.
- the proxy runs in mode global on every web node with host-mode ports 80/443 (the load balancer targets
  the web nodes; the ingress routing mesh is not used: it hides the client address and needs IPVS).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from config.app_service import ServiceConfig
from config.app_values import CLOUDFLARE_TOKEN_SECRET
from config.schema import StackConfig
from render import proxy
from render.compose_proxy import proxy_entries
from render.compose_render import ComposeRender
from render.compose_services import service_entry
from render.secret_files import SecretFile
from spec.swarm import PROXY_ROLE, constraints, eligible_servers, replica_count, role_label, swarm_spec

STACK_FILE = "stack.yml"
STACK_VERSION = "3.8"  # the compose file format docker stack deploy reads (deploy keys of 3.8)
SECRETS_TARGET_DIR = "/run/secrets"
DOCKER_SOCKET = "/var/run/docker.sock"
SECRET_NAME_VAR_PREFIX = "HP_SECRET_"
# secretEnv files: readable by the container's own user, whoever that is (the official postgres image reads
# POSTGRES_PASSWORD_FILE after dropping to uid 999); the file lives on a tmpfs only that task sees.
# Docker's own default for stack secrets is 0444 too (https://docs.docker.com/reference/compose-file/services/#secrets).
SECRET_ENV_MODE = 0o444
_CONFIG_MOUNT_RE = re.compile(r"^(?P<source>/[^:]+):(?P<target>/[^:]+):ro$")
_RESTART_CONDITIONS = {"always": "any", "unless-stopped": "any", "on-failure": "on-failure"}


@dataclass(frozen=True)
class SwarmSecret:
    """One swarm secret of the stack: its key in the stack file and what the deploy script fills it with."""

    key: str  # stack-file key, also the variable suffix of its swarm name
    secret: str  # appSecrets name whose value it holds
    file: SecretFile | None = None  # a formatted secret file (Redis auth), else the raw value

    @property
    def name_variable(self) -> str:
        return SECRET_NAME_VAR_PREFIX + self.key.upper()


@dataclass
class SwarmStackRender:
    project: str
    model: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)  # config files written on the leader (path -> content)
    data_dirs: dict[str, list[str]] = field(default_factory=dict)  # server -> bind-mount dirs to create
    swarm_secrets: list[SwarmSecret] = field(default_factory=list)
    interpolated: list[str] = field(default_factory=list)  # secrets filled in by docker stack deploy

    @property
    def text(self) -> str:
        header = (
            f"# docker stack '{self.project}' (Docker Swarm mode), rendered by hetzner-platform.\n"
            "# Deployed from the swarm leader: docker stack deploy -c stack.yml. Secrets are swarm secrets.\n"
        )
        return header + yaml.safe_dump(self.model, sort_keys=False, width=200)


def config_key(path: str) -> str:
    """A swarm config's stack key from its content-addressed path .../files/<service>/<hash>/<name>."""
    service, digest, filename = path.split("/")[-3:]
    return re.sub(r"[^a-zA-Z0-9_]", "_", f"{service}_{filename}_{digest}")


def _deploy_block(stack: StackConfig, name: str, service: ServiceConfig, resources: dict[str, Any]) -> dict[str, Any]:
    update = stack.app.swarm.update
    # Never two tasks on one data directory: stateful services stop the old task first.
    order = "stop-first" if service.stateful else "start-first"
    block: dict[str, Any] = {
        "mode": "replicated",
        "replicas": replica_count(stack, service),
        "endpoint_mode": "dnsrr",
        "placement": {"constraints": constraints(stack, service)},
        "update_config": {
            "parallelism": update.parallelism, "delay": update.delay, "order": order,
            "failure_action": "rollback", "monitor": update.monitor, "max_failure_ratio": 0,
        },
        "rollback_config": {"parallelism": update.parallelism, "order": order, "monitor": update.monitor},
        "restart_policy": {"condition": _RESTART_CONDITIONS.get(service.restart, "any"), "delay": "5s"},
    }
    block.update(resources)
    return block


def _move_files_and_secrets(
    entry: dict[str, Any], scratch: ComposeRender, result: SwarmStackRender, name: str
) -> None:
    """Config-file mounts -> swarm configs; the release's secret files -> swarm secrets."""
    volumes: list[Any] = []
    configs: list[dict[str, Any]] = []
    secrets: list[dict[str, Any]] = list(entry.get("secrets", []))
    by_dir: dict[str, list[SecretFile]] = {}
    for file in scratch.secret_files:
        by_dir.setdefault(file.path.rsplit("/", 1)[0], []).append(file)
    for volume in entry.get("volumes", []):
        match = _CONFIG_MOUNT_RE.match(volume) if isinstance(volume, str) else None
        if match and match["source"] in scratch.files:
            key = config_key(match["source"])
            result.files[match["source"]] = scratch.files[match["source"]]
            result.model.setdefault("configs", {})[key] = {"file": match["source"]}
            configs.append({"source": key, "target": match["target"], "mode": 0o444})
            continue
        source = str(volume.get("source", "")) if isinstance(volume, dict) else ""
        if source.startswith("./"):
            for file in by_dir.get(source[2:], []):
                key = re.sub(r"[^a-zA-Z0-9_]", "_", f"{name}_{file.path.rsplit('/', 1)[1]}")
                result.swarm_secrets.append(SwarmSecret(key=key, secret=file.secret, file=file))
                secrets.append({
                    "source": key, "target": f"{volume['target']}/{file.path.rsplit('/', 1)[1]}",
                    "uid": str(file.owner_uid), "gid": str(file.owner_uid), "mode": 0o400,
                })
            continue
        volumes.append(volume)
    if volumes:
        entry["volumes"] = volumes
    else:
        entry.pop("volumes", None)
    if configs:
        entry["configs"] = configs
    if secrets:
        entry["secrets"] = secrets


def _secret_env_to_files(entry: dict[str, Any], service: ServiceConfig, result: SwarmStackRender) -> None:
    environment = entry.get("environment", {})
    secrets = list(entry.get("secrets", []))
    for name in service.secret_env:
        environment.pop(name, None)
        environment[f"{name}_FILE"] = f"{SECRETS_TARGET_DIR}/{name}"
        if name not in [s.key for s in result.swarm_secrets]:
            result.swarm_secrets.append(SwarmSecret(key=name, secret=name))
        secrets.append({"source": name, "target": name, "mode": SECRET_ENV_MODE})
    if environment:
        entry["environment"] = environment
    if secrets:
        entry["secrets"] = secrets


def _shm_as_tmpfs(entry: dict[str, Any]) -> None:
    """`shm_size` is not a swarm service option: a tmpfs mount on /dev/shm of that size is."""
    size = entry.pop("shm_size", None)
    if size is None:
        return
    number, unit = re.fullmatch(r"(\d+)([kmg]?)b?", str(size).lower()).groups()  # type: ignore[union-attr]
    size_bytes = int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]
    entry.setdefault("volumes", []).append({"type": "tmpfs", "target": "/dev/shm", "tmpfs": {"size": size_bytes}})


def _swarm_service(stack: StackConfig, name: str, service: ServiceConfig, entry: dict[str, Any],
                   scratch: ComposeRender, result: SwarmStackRender) -> dict[str, Any]:
    entry.pop("restart", None)
    entry.pop("depends_on", None)  # swarm starts everything at once; health checks and restarts order it
    entry.pop("extra_hosts", None)
    _move_files_and_secrets(entry, scratch, result, name)
    _secret_env_to_files(entry, service, result)
    _shm_as_tmpfs(entry)
    entry["deploy"] = _deploy_block(stack, name, service, entry.pop("deploy", {}))
    return entry


def _networks(stack: StackConfig, used: set[str]) -> dict[str, Any]:
    options = {"encrypted": ""} if stack.app.swarm.encrypted else {}
    networks: dict[str, Any] = {}
    for network in ("internal", "edge", "outbound"):
        if network in used:
            definition: dict[str, Any] = {"driver": "overlay"}
            if network == "internal":
                definition["internal"] = True
            if options:
                definition["driver_opts"] = dict(options)
            networks[network] = definition
    return networks


def edge_network(stack: StackConfig) -> str:
    """The edge overlay's name in the swarm (docker stack deploy prefixes it with the stack name)."""
    return f"{stack.project}_edge"


def _traefik_for_swarm(stack: StackConfig, entry: dict[str, Any], result: SwarmStackRender) -> None:
    """Traefik reads the services from the swarm (providers.swarm); routes and middlewares stay in the file.

    Routers of the file provider name their service `<service>@swarm`, the service the swarm provider makes
    from the labels traefik.http.services.<service>.loadbalancer.server.port on that swarm service.
    https://doc.traefik.io/traefik/providers/swarm/ ; the provider talks to the manager's Docker socket,
    so Traefik runs on managers only (config/swarm_checks.py refuses web servers that are not managers).
    """
    for config in entry.get("configs", []):
        source = result.model["configs"][config["source"]]["file"]
        document = yaml.safe_load(result.files[source])
        if config["target"].endswith("/traefik.yml"):
            document["providers"]["swarm"] = {
                "endpoint": f"unix://{DOCKER_SOCKET}",
                "exposedByDefault": False,
                "network": edge_network(stack),
                # Without a router in its labels Traefik would add one per service with this rule: one
                # that never matches, since the routers live in the file provider.
                "defaultRule": "Host(`unrouted.invalid`)",
            }
            header = "# Traefik static configuration (swarm), rendered by hetzner-platform.\n"
        else:
            http = document.get("http", {})
            for router in http.get("routers", {}).values():
                if router.get("service") in stack.app.services:
                    router["service"] = f"{router['service']}@swarm"
            http["services"] = {k: v for k, v in http.get("services", {}).items() if k not in stack.app.services}
            if not http["services"]:
                del http["services"]
            header = "# Traefik dynamic configuration (file provider, services from the swarm), rendered by hetzner-platform.\n"
        text = header + yaml.safe_dump(document, sort_keys=False)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        directory, filename = source.rsplit("/", 2)[0], source.rsplit("/", 1)[1]
        path = f"{directory}/{digest}/{filename}"
        del result.files[source]
        del result.model["configs"][config["source"]]
        result.files[path] = text
        config["source"] = config_key(path)
        result.model["configs"][config["source"]] = {"file": path}
    entry.setdefault("volumes", []).append({"type": "bind", "source": DOCKER_SOCKET, "target": DOCKER_SOCKET, "read_only": True})


def _cloudflare_token_as_file(entry: dict[str, Any], result: SwarmStackRender) -> None:
    """Traefik's DNS-01 token as a swarm secret: lego reads every variable from <NAME>_FILE too
    (https://go-acme.github.io/lego/dns/#configuration-and-credentials)."""
    environment = entry.get("environment", {})
    if CLOUDFLARE_TOKEN_SECRET not in environment:
        return
    del environment[CLOUDFLARE_TOKEN_SECRET]
    environment[f"{CLOUDFLARE_TOKEN_SECRET}_FILE"] = f"{SECRETS_TARGET_DIR}/{CLOUDFLARE_TOKEN_SECRET}"
    if CLOUDFLARE_TOKEN_SECRET not in [s.key for s in result.swarm_secrets]:
        result.swarm_secrets.append(SwarmSecret(key=CLOUDFLARE_TOKEN_SECRET, secret=CLOUDFLARE_TOKEN_SECRET))
    entry.setdefault("secrets", []).append({"source": CLOUDFLARE_TOKEN_SECRET, "target": CLOUDFLARE_TOKEN_SECRET, "mode": SECRET_ENV_MODE})


def _proxy_for_swarm(stack: StackConfig, name: str, entry: dict[str, Any], scratch: ComposeRender,
                     result: SwarmStackRender) -> dict[str, Any]:
    ports = []
    for port in entry.pop("ports", []):
        host, _, container = str(port).rpartition(":")
        if host.isdigit() and int(container) in (80, 443):  # 80:80 and 443:443; private-address ports are not swarm's
            ports.append({"target": int(container), "published": int(host), "protocol": "tcp", "mode": "host"})
    if ports:
        entry["ports"] = ports
    entry.pop("restart", None)
    _move_files_and_secrets(entry, scratch, result, name)
    placement = [f"node.labels.{role_label(PROXY_ROLE)} == true"]
    if name == "traefik":
        placement.append("node.role == manager")
        _traefik_for_swarm(stack, entry, result)
        _cloudflare_token_as_file(entry, result)
    resources = entry.pop("deploy", {})
    entry["deploy"] = {
        "mode": "global",
        "endpoint_mode": "dnsrr",
        "placement": {"constraints": placement},
        # Global with host ports: the old task must free 80/443 before the new one binds them.
        "update_config": {"parallelism": 1, "order": "stop-first", "failure_action": "rollback",
                          "monitor": stack.app.swarm.update.monitor},
        "restart_policy": {"condition": "any", "delay": "5s"},
        **resources,
    }
    return entry


# nginx in a swarm: task addresses change with every update. Re-resolve the dnsrr names every second, and
# give up on an address that does not answer within a second (a task that just stopped: its overlay
# address no longer answers at all) so that nginx tries the service's next address instead of hanging
# (proxy_next_upstream's default covers error and timeout: https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_next_upstream).
NGINX_SWARM_SETTINGS = {
    "resolver 127.0.0.11 valid=30s": "resolver 127.0.0.11 valid=1s",
    "proxy_connect_timeout 60s;": "proxy_connect_timeout 1s;",
}


def _nginx_for_swarm(result: SwarmStackRender) -> None:
    for path, content in list(result.files.items()):
        if not path.endswith("/default.conf"):
            continue
        text = content
        for before, after in NGINX_SWARM_SETTINGS.items():
            if before not in text:
                raise ValueError(f"the nginx site has no '{before}' to adapt for swarm")
            text = text.replace(before, after)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        new_path = f"{path.rsplit('/', 2)[0]}/{digest}/default.conf"
        del result.files[path]
        result.files[new_path] = text
        old_key, new_key = config_key(path), config_key(new_path)
        result.model["configs"][new_key] = {"file": new_path}
        del result.model["configs"][old_key]
        for entry in result.model["services"].values():
            for config in entry.get("configs", []):
                if config["source"] == old_key:
                    config["source"] = new_key


def render_stack(stack: StackConfig) -> SwarmStackRender:
    """The stack file and everything it refers to, for app.engine swarm."""
    app = stack.app
    data_dir = app.resolved_data_dir(stack.project)
    spec = swarm_spec(stack)
    result = SwarmStackRender(project=stack.project, model={"version": STACK_VERSION})
    result.data_dirs = {node.server: [] for node in spec.nodes}
    services: dict[str, Any] = {}
    networks_used: set[str] = set()
    interpolated: set[str] = set()
    for name, service in app.services.items():
        scratch = ComposeRender(server=spec.leader, model={})
        entry = service_entry(stack, name, service, None, scratch, data_dir)
        nets = ["internal"]
        if service.expose is not None:
            nets.append("edge")
            port = service.expose.port
            if app.proxy.kind == "traefik":
                entry["deploy"]["labels"] = {
                    "traefik.enable": "true",
                    f"traefik.http.services.{name}.loadbalancer.server.port": str(port),
                }
        elif service.needs_outbound:
            nets.append("outbound")
        entry["networks"] = nets
        networks_used.update(nets)
        for directory in scratch.data_dirs:
            for server in eligible_servers(stack, service):
                result.data_dirs[server].append(directory)
        interpolated |= service.secret_refs() - set(service.secret_env) - {f.secret for f in scratch.secret_files}
        services[name] = _swarm_service(stack, name, service, entry, scratch, result)
    result.model["services"] = services
    routes = proxy.routes_for(stack, app.services)
    if routes:
        scratch = ComposeRender(server=spec.leader, model={})
        scratch.routes = routes
        scratch.redirects = proxy.redirects_for(stack)
        scratch.proxy_kind = app.proxy.kind
        for name, entry in proxy_entries(stack, routes, scratch, data_dir).items():
            services[name] = _proxy_for_swarm(stack, name, entry, scratch, result)
            environment = yaml.safe_dump(entry.get("environment", {}))
            interpolated |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):\?", environment))
        for server in [node.server for node in spec.nodes if role_label(PROXY_ROLE) in node.labels]:
            result.data_dirs[server] += scratch.data_dirs
        networks_used.add("edge")
        if app.proxy.kind == "nginx":
            _nginx_for_swarm(result)
    result.model["networks"] = _networks(stack, networks_used)
    if result.swarm_secrets:
        result.model["secrets"] = {
            secret.key: {"external": True, "name": f"${{{secret.name_variable}:?set by the deploy script}}"}
            for secret in result.swarm_secrets
        }
    result.interpolated = sorted(interpolated)
    return result
