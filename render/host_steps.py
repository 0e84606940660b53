"""Everything a server receives over SSH, as an ordered chain of idempotent steps (one per concern).

    host_steps(config, spec, server, runtime) -> [wait, base, ssh, firewall, fail2ban, upgrades, docker,
                                                  storage, network]

`docker` is left out when `host.docker.enabled` is false, `storage` when no volume is attached to the
server, `network` when the floating IP is not assigned to it. Which steps exist depends on the config
alone (never on `runtime`), so resources can be declared before ids and addresses are known.

Each step's script is bash (`set -euo pipefail`), reads nothing but its own text, reports
`changed:`/`unchanged:` per item and ends with `hetzner-platform step=<name> changed=<N>`. The
environment variable HP_SKIP switches off what cannot run in a container (see templates/host/lib.sh).
"""

from __future__ import annotations

from config.schema import StackConfig
from render.cloud_init import render_user_data
from render.host_base import base_step, wait_step
from render.host_docker import docker_step
from render.host_fail2ban import fail2ban_step
from render.host_firewall import firewall_step
from render.host_network import network_step
from render.host_ssh import ssh_step
from render.host_storage import storage_step
from render.host_upgrades import upgrades_step
from render.steps import HostRuntime, HostStep
from spec.resources import PlatformSpec

STEP_ORDER = ("wait", "base", "ssh", "firewall", "fail2ban", "upgrades", "docker", "storage", "network")
USER_DATA = "user-data.yaml"


def host_steps(config: StackConfig, spec: PlatformSpec, server: str, runtime: HostRuntime) -> list[HostStep]:
    """The steps of `server`; `spec` is the stack's resolved resources (spec.resources.resolve, done once by
    the caller), which say which volumes are attached to the server and where the floating IP points."""
    if server not in config.servers:
        raise KeyError(f"no server named {server!r} in the stack")
    volumes = [volume for volume in spec.volumes if volume.server == server]
    steps = [
        wait_step(config, server),
        base_step(config, server, xfs=any(volume.format == "xfs" for volume in volumes)),
        ssh_step(config, server),
        firewall_step(config, server),
        fail2ban_step(config, server),
        upgrades_step(config, server),
    ]
    if config.host.docker.enabled:
        steps.append(docker_step(config, server))
    if volumes:
        steps.append(storage_step(config, server, runtime, volumes))
    if spec.floating_ip is not None and spec.floating_ip.server == server:
        steps.append(network_step(config, server, runtime, spec.floating_ip))
    return steps


def render_host_files(config: StackConfig, spec: PlatformSpec, server: str, runtime: HostRuntime) -> dict[str, str]:
    """Every file the steps install on `server` (host path -> content), plus the cloud-init user-data."""
    files: dict[str, str] = {}
    for step in host_steps(config, spec, server, runtime):
        for path, content in step.files.items():
            if path in files and files[path] != content:
                raise ValueError(f"two steps install different content at {path}")
            files[path] = content
    files[USER_DATA] = render_user_data(config)
    return files
