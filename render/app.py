"""The app step: a health-gated, rolled-back-on-failure compose release per server.

API used by the Pulumi wiring and the offline plan:
- `secret_names(config, server=None)`: every secret the app needs (on one server, or anywhere);
- `secret_specs(config)`: the same with whether pulumi-random may generate the value;
- `render_env_file(values)`: the env file text (compose dotenv syntax) from name -> value;
- `release_id(config, server)`: short hash of the rendered files (no secrets in it);
- `app_files(config, server)`: every file the step installs, secrets as placeholders (plan --out);
- `app_step(config, server, runtime, secrets)`: the HostStep named "app";
- `deploy_order(config)`: the order to run the servers' app steps in (providers of shared services first).
"""

from __future__ import annotations

import base64
import hashlib
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from config.app_values import CLOUDFLARE_TOKEN_SECRET
from config.schema import StackConfig
from config.stack_file import secret_placeholder
from render import blue_green_deploy, proxy, proxy_nginx, swarm_app
from render.app_templates import fill_app_template
from render.compose import render_compose
from render.compose_proxy import PROXY_STATE_DIR
from render.compose_render import COMPOSE_FILE, ComposeRender, base_dir
from render.registry import RegistryLogin, registry_logins, registry_secret_names
from render.secret_files import SECRETS_DIR, SecretFile, secret_file_content
from render.steps import HostRuntime, HostStep
from spec.host_paths import DOCKER_CONFIG_DIR
from spec.service_homes import placement, service_homes

SUMMARY = "hetzner-platform step=app changed="
MANIFEST = "MANIFEST"
ENV_FILE = ".env"


# --- secrets ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SecretSpec:
    name: str
    # True: the wiring may generate it once with pulumi-random when appSecrets.<name> is not set.
    generate: bool
    # Where the value comes from: "appSecrets" (stack secret config) or "cloudflare" (the DNS token).
    source: str
    servers: tuple[str, ...]


def secret_names(config: StackConfig, server: str | None = None) -> list[str]:
    if config.app.engine == "swarm":
        return swarm_app.swarm_secret_names(config, server)
    servers = [server] if server is not None else list(config.servers)
    names: set[str] = set()
    for name in servers:
        names |= set(render_compose(config, name).secrets)
        if has_app(config, name):
            names |= set(registry_secret_names(config))
    return sorted(names)


def secret_specs(config: StackConfig) -> list[SecretSpec]:
    by_name: dict[str, list[str]] = {}
    for server in config.servers:
        for name in secret_names(config, server):
            by_name.setdefault(name, []).append(server)
    specs = []
    for name in sorted(by_name):
        if name == CLOUDFLARE_TOKEN_SECRET:
            specs.append(SecretSpec(name, False, "cloudflare", tuple(by_name[name])))
        else:
            specs.append(SecretSpec(name, name in config.app.generate_secrets, "appSecrets", tuple(by_name[name])))
    return specs


def plan_placeholders(names: Iterable[str]) -> dict[str, str]:
    """Stand-ins for secret values in what the plan shows and writes."""
    return {name: secret_placeholder(f"appSecrets.{name}", "set at deploy time") for name in names}


def _env_line(name: str, value: str) -> str:
    if "\0" in value:
        raise ValueError(f"secret {name}: NUL bytes cannot go into an env file")
    if "'" not in value and "\n" not in value and "\r" not in value and not value.endswith("\\"):
        return f"{name}='{value}'"  # single quotes: taken literally by compose, `$` included
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'{name}="{escaped}"'


def render_env_file(values: Mapping[str, str]) -> str:
    """Compose env-file text; each value comes back byte for byte from `docker compose --env-file`."""
    lines = ["# Secrets for docker compose (written by hetzner-platform, mode 0600). Do not edit."]
    lines += [_env_line(name, values[name]) for name in sorted(values)]
    return "\n".join(lines) + "\n"


# --- release ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Release:
    server: str
    release_id: str
    compose: ComposeRender
    release_files: dict[str, str]  # relative to the release directory (no env file)
    shared_files: dict[str, str]  # absolute, content-addressed
    settings: str  # the shell settings deploy.sh and hp-rollback share (no secrets)


def build_release(config: StackConfig, server: str) -> Release:
    compose = render_compose(config, server)
    shared = dict(sorted(compose.files.items()))
    settings = _shared_settings(config, compose)
    files = {COMPOSE_FILE: compose.text, MANIFEST: "".join(f"{path}\n" for path in shared), **compose.live_files,
             blue_green_deploy.ROLLBACK_FILE: blue_green_deploy.render_rollback(settings)}
    digest = hashlib.sha256()
    for path, content in [*files.items(), *shared.items()]:
        digest.update(path.encode() + b"\0" + content.encode() + b"\0")
    return Release(server=server, release_id=digest.hexdigest()[:12], compose=compose, release_files=files,
                   shared_files=shared, settings=settings)


def release_id(config: StackConfig, server: str) -> str:
    return build_release(config, server).release_id


def app_files(config: StackConfig, server: str, release: Release | None = None) -> dict[str, str]:
    """Every file the app step installs on `server` (absolute path -> content); secrets as placeholders.

    `release`: the server's release when the caller already built it (app_step does).
    """
    if config.app.engine == "swarm":
        return swarm_app.swarm_app_files(config, server)
    release = release if release is not None else build_release(config, server)
    directory = f"{base_dir(config)}/releases/{release.release_id}"
    files = {f"{directory}/{name}": content for name, content in release.release_files.items()}
    if release.compose.service_names:
        placeholders = plan_placeholders(release.compose.secrets)
        files[f"{directory}/{ENV_FILE}"] = render_env_file(placeholders)
        for secret_file in release.compose.secret_files:
            files[f"{directory}/{secret_file.path}"] = secret_file_content(secret_file, placeholders[secret_file.secret])
    files.update(release.shared_files)
    return files


def has_app(config: StackConfig, server: str) -> bool:
    return bool(placement(config).get(server))


def deploy_order(config: StackConfig) -> list[str]:
    """Servers in the order their app steps should run: a server whose services others depend on
    (dependsOn across servers, e.g. the db server for the web server's migrations) comes first.
    Ties and cycles keep the stack file's order."""
    if config.app.engine == "swarm":
        return swarm_app.swarm_deploy_order(config)
    where = placement(config)
    home = service_homes(where)
    before: dict[str, set[str]] = {server: set() for server in config.servers}
    for server, services in where.items():
        for name in services:
            service = config.app.services.get(name)
            for target in service.depends_on if service is not None else {}:
                if target in home and home[target] != server and target not in services:
                    before[server].add(home[target])
    order: list[str] = []
    pending = list(config.servers)
    while pending:
        ready = [server for server in pending if before[server] <= set(order)] or pending[:1]
        order.append(ready[0])
        pending.remove(ready[0])
    return order


# --- the step --------------------------------------------------------------------------------------

def _b64(content: str) -> str:
    return base64.encodebytes(content.encode()).decode()


def _heredoc(command: str, content: str) -> str:
    return f"    {command} <<'HP_B64'\n{_b64(content)}HP_B64\n"


def _array(name: str, values: list[str]) -> str:
    return f"{name}=({' '.join(shlex.quote(value) for value in values)})"


def _health(config: StackConfig, compose: ComposeRender) -> dict[str, str]:
    routes = [route for route in compose.routes if not route.admin_only] or compose.routes
    if not routes:
        return {"HEALTH_MODE": "none", "HEALTH_HOST": "", "HEALTH_PORT": "", "HEALTH_PATH": "", "HEALTH_URL": "", "HEALTH_DESC": ""}
    port = "443"
    if compose.proxy_kind == "nginx" and proxy.load_balancer_ip(config):
        port = str(proxy_nginx.NGINX_LOCAL_PORT)
    primary = routes[0]
    host, path = primary.fqdn, f"{primary.path or ''}/health"
    url = config.app.health_url
    if url is not None and url.startswith("/"):
        path = url
    elif url is not None:
        parts = urlsplit(url)
        known = {route.fqdn for route in compose.routes}
        if parts.hostname in known:
            host = parts.hostname or host
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        else:
            return {"HEALTH_MODE": "url", "HEALTH_HOST": "", "HEALTH_PORT": "", "HEALTH_PATH": "", "HEALTH_URL": url,
                    "HEALTH_DESC": url}
    return {"HEALTH_MODE": "local", "HEALTH_HOST": host, "HEALTH_PORT": port, "HEALTH_PATH": path, "HEALTH_URL": "",
            "HEALTH_DESC": f"https://{host}{path} via 127.0.0.1:{port}"}


def _shared_settings(config: StackConfig, compose: ComposeRender) -> str:
    """Settings both deploy.sh and hp-rollback read: the project, health checks and the strategies."""
    deploy = config.app.deploy
    scalars, arrays = blue_green_deploy.strategy_settings(config, compose)
    settings = {
        "PROJECT": config.project,
        "HEALTH_RETRIES": str(deploy.health_retries),
        "HEALTH_INTERVAL": str(deploy.health_interval_s),
        "HEALTH_TIMEOUT": str(deploy.health_timeout_s),
        "WAIT_TIMEOUT": str(deploy.wait_timeout_s),
        "DOCKER_CONFIG_DIR": DOCKER_CONFIG_DIR,
        **scalars,
    }
    lines = [f"{key}={shlex.quote(value)}" for key, value in settings.items()]
    return "\n".join(lines + [_array(name, values) for name, values in arrays.items()])


def render_deploy_script(config: StackConfig, server: str, secrets: Mapping[str, str], release: Release | None = None) -> str:
    """deploy.sh for `server`: its settings, then the functions that install the release's files, with the
    secret values embedded (the script travels on stdin, never on a command line)."""
    release = release if release is not None else build_release(config, server)
    compose = release.compose
    logins = registry_logins(config)
    missing = [name for name in [*compose.secrets, *(login.secret for login in logins)] if name not in secrets]
    if missing:
        raise ValueError(f"app secrets missing for server '{server}': {', '.join(missing)} (set appSecrets.<NAME>)")
    env = render_env_file({name: secrets[name] for name in compose.secrets})
    functions = [
        *_release_functions(release),
        *_write_env_function(env),
        *_registry_login_function(logins, secrets),
        *_secret_files_function(compose.secret_files, secrets),
    ]
    script = fill_app_template("deploy.sh", _deploy_settings(config, server, release), functions)
    script = script.replace("#@@COLOURS@@", blue_green_deploy.colours_library())
    return script


def _deploy_settings(config: StackConfig, server: str, release: Release) -> list[str]:
    """The settings deploy.sh reads: the shared ones, then this release's, migration, certificates and health."""
    compose = release.compose
    migrate_service, migrate_args = _migration(config, server, compose)
    cert_hosts: list[str] = []
    cert_dir = ""
    if compose.proxy_kind == "nginx":
        cert_hosts = sorted(proxy.certificates(compose.routes, compose.redirects))
        cert_dir = f"{config.app.resolved_data_dir(config.project)}/{PROXY_STATE_DIR}/letsencrypt"
    settings = {
        "RELEASES_BASE": base_dir(config),  # /opt/<project> (spec/host_paths.py releases_dir)
        "RELEASE": release.release_id,
        "KEEP": str(config.app.deploy.keep_releases),
        "MIGRATE_SERVICE": migrate_service,
        "CERT_DIR": cert_dir,
        **_health(config, compose),
    }
    lines = [release.settings]
    lines += [f"{key}={shlex.quote(value)}" for key, value in settings.items()]
    return [
        *lines,
        _array("MIGRATE_ARGS", migrate_args),
        _array("DATA_DIRS", sorted(set(compose.data_dirs))),
        _array("CERT_HOSTS", cert_hosts),
    ]


def _migration(config: StackConfig, server: str, compose: ComposeRender) -> tuple[str, list[str]]:
    """The migration service and its arguments, on the first server that hosts that service (run once per
    stack); empty elsewhere."""
    target = config.app.migrate_target()
    if config.app.migrate_command is None or target not in compose.service_names:
        return "", []
    if service_homes(placement(config))[target] != server:
        return "", []
    return target or "", config.app.migrate_args()


def _release_functions(release: Release) -> list[str]:
    """install_files (the shared, content-addressed files) and stage_release (the release directory)."""
    functions = ["install_files() {"]
    functions += [_heredoc(f"install_file {shlex.quote(path)}", content) for path, content in release.shared_files.items()]
    functions.append("    :\n}\n")
    functions.append("stage_release() {")
    for name, content in release.release_files.items():
        functions.append(_heredoc(f'base64 -d >"$1/{name}"', content))
    staged = " ".join(f'"$1/{name}"' for name in release.release_files)
    functions.append(f"    chmod 644 {staged}\n}}\n")
    return functions


def _write_env_function(env: str) -> list[str]:
    """write_env: the release's env file (the secrets), created 0600 and moved into place."""
    return [
        "write_env() {",
        "    local tmp",
        '    tmp=$(umask 077 && mktemp "$1.XXXXXX")',
        _heredoc('base64 -d >"$tmp"', env).rstrip("\n"),
        '    chmod 600 "$tmp"',
        '    mv -f "$tmp" "$1"',
        "}",
        "",
    ]


def _registry_login_function(logins: list[RegistryLogin], secrets: Mapping[str, str]) -> list[str]:
    functions = [
        "# docker login per private registry: the token goes from this script's stdin to docker's, never argv.",
        "registry_login() {",
    ]
    for login in logins:
        words = " ".join(shlex.quote(word) for word in (login.username, login.server_arg, login.host))
        functions.append(_heredoc(f"docker_login {words}", secrets[login.secret]).rstrip("\n"))
    return [*functions, "    :", "}", ""]


def _secret_files_function(secret_files: list[SecretFile], secrets: Mapping[str, str]) -> list[str]:
    functions = [
        "# The release's secret files (e.g. Redis' requirepass): mode 0400, owned by the container user that reads them.",
        "write_secret_files() {",
    ]
    owners = {f.path.rsplit("/", 1)[0]: f.owner_uid for f in secret_files}  # directory -> its reader
    if owners:
        functions.append(f'    install -d -m 0755 "$1/{SECRETS_DIR}"')
    for directory, owner in sorted(owners.items()):
        functions.append(f'    install -d -m 0500 -o {owner} "$1/{directory}"')
    for secret_file in secret_files:
        content = secret_file_content(secret_file, secrets[secret_file.secret])
        functions.append(_heredoc(f'(umask 077 && base64 -d >"$1/{secret_file.path}")', content).rstrip("\n"))
        functions.append(f'    chown {secret_file.owner_uid} "$1/{secret_file.path}"')
        functions.append(f'    chmod 0400 "$1/{secret_file.path}"')
    return [*functions, "    :", "}"]


def _noop_script(server: str) -> str:
    return (
        "#!/usr/bin/env bash\n"
        f"# hetzner-platform app step: no app service runs on server '{server}'.\n"
        "set -euo pipefail\n"
        f'echo "{SUMMARY}0"\n'
    )


def app_step(config: StackConfig, server: str, runtime: HostRuntime, secrets: Mapping[str, str]) -> HostStep:
    """The "app" HostStep for one server; `secrets` maps every name of secret_names(config, server) to its value.

    `runtime` is accepted for the common step signature: private addresses come from spec.resources,
    which assigns them deterministically, so the rendered files are identical in plan and deploy.
    """
    del runtime
    if config.app.engine == "swarm":
        return swarm_app.swarm_app_step(config, server, secrets)
    if not has_app(config, server):
        return HostStep(name="app", script=_noop_script(server), files={})
    release = build_release(config, server)  # rendered once for both the script and the file list
    return HostStep(
        name="app", script=render_deploy_script(config, server, secrets, release), files=app_files(config, server, release)
    )
