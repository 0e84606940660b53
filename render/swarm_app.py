"""The app step of app.engine swarm (render/templates/app/swarm-deploy.sh).

Every server creates the bind-mount directories of the tasks the swarm may place on it; the first
manager, whose app step runs last (deploy_order), installs the swarm config files, creates the swarm
secrets and runs `docker stack deploy`, then waits for the stack to converge.
"""

from __future__ import annotations

import base64
import shlex
from collections.abc import Mapping

from config.schema import StackConfig
from render import proxy
from render.app_templates import fill_app_template
from render.compose_proxy import PROXY_STATE_DIR
from render.secret_files import secret_file_content
from render.steps import HostStep
from render.swarm_stack import STACK_FILE, SwarmStackRender, render_stack
from spec.host_paths import releases_dir
from spec.swarm import proxy_servers, swarm_spec


def stack_path(config: StackConfig) -> str:
    return f"{releases_dir(config.project)}/stack/{STACK_FILE}"


def swarm_secret_names(config: StackConfig, server: str | None = None) -> list[str]:
    """appSecrets the leader's deploy needs (none on the other servers)."""
    if server is not None and server != swarm_spec(config).leader:
        return []
    render = render_stack(config)
    return sorted({secret.secret for secret in render.swarm_secrets} | set(render.interpolated))


def swarm_deploy_order(config: StackConfig) -> list[str]:
    """The leader deploys last, after every server made its data directories."""
    leader = swarm_spec(config).leader
    return [*(server for server in config.servers if server != leader), leader]


def swarm_app_files(config: StackConfig, server: str) -> dict[str, str]:
    if server != swarm_spec(config).leader:
        return {}
    render = render_stack(config)
    return {stack_path(config): render.text, **dict(sorted(render.files.items()))}


def _heredoc(command: str, content: str) -> str:
    return f"    {command} <<'HP_B64'\n{base64.encodebytes(content.encode()).decode()}HP_B64\n"


def _array(name: str, values: list[str]) -> str:
    return f"{name}=({' '.join(shlex.quote(value) for value in values)})"


def _functions(render: SwarmStackRender, secrets: Mapping[str, str]) -> list[str]:
    lines = ["install_files() {"]
    lines += [_heredoc(f"install_file {shlex.quote(path)}", content) for path, content in sorted(render.files.items())]
    lines += ["    :", "}", "", "create_secrets() {"]
    for secret in render.swarm_secrets:
        value = secrets[secret.secret]
        content = secret_file_content(secret.file, value) if secret.file is not None else value
        lines.append(_heredoc(f"swarm_secret {shlex.quote(secret.key)}", content).rstrip("\n"))
    lines += ["    :", "}", "", "export_interpolated() {"]
    for name in render.interpolated:
        lines.append(_heredoc(f"interpolated {name}", secrets[name]).rstrip("\n"))
    lines += ["    :", "}", "", "stage_stack() {", _heredoc("base64 -d", render.text).rstrip("\n"), "}"]
    return lines


def _nginx_certificates(config: StackConfig, server: str) -> tuple[list[str], str]:
    """(hosts, letsencrypt dir) for nginx's placeholder certificates on a node that runs the proxy."""
    if config.app.proxy.kind != "nginx" or server not in proxy_servers(config):
        return [], ""
    routes = proxy.routes_for(config, config.app.services)
    hosts = sorted(proxy.certificates(routes, proxy.redirects_for(config)))
    return hosts, f"{config.app.resolved_data_dir(config.project)}/{PROXY_STATE_DIR}/letsencrypt"


def swarm_app_step(config: StackConfig, server: str, secrets: Mapping[str, str]) -> HostStep:
    """The "app" HostStep of one server; `secrets` holds swarm_secret_names(config, server)."""
    render = render_stack(config)
    leader = swarm_spec(config).leader
    deploy = server == leader
    missing = [name for name in swarm_secret_names(config, server) if name not in secrets]
    if missing:
        raise ValueError(f"app secrets missing for the swarm deploy: {', '.join(missing)} (set appSecrets.<NAME>)")
    settings = {
        "PROJECT": config.project,
        "RELEASES_BASE": releases_dir(config.project),
        "DEPLOY": "1" if deploy else "0",
        "WAIT_TIMEOUT": str(config.app.deploy.wait_timeout_s),
    }
    lines = [f"{key}={shlex.quote(value)}" for key, value in settings.items()]
    lines.append(_array("DATA_DIRS", sorted(set(render.data_dirs.get(server, [])))))
    cert_hosts, cert_dir = _nginx_certificates(config, server)
    lines += [f"CERT_DIR={shlex.quote(cert_dir)}", _array("CERT_HOSTS", cert_hosts)]
    functions = _functions(render, secrets) if deploy else [
        "install_files() { :; }", "create_secrets() { :; }", "export_interpolated() { :; }", "stage_stack() { :; }",
    ]
    script = fill_app_template("swarm-deploy.sh", lines, functions)
    return HostStep(name="app", script=script, files=swarm_app_files(config, server))
