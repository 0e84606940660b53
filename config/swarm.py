"""`app.engine: swarm`: Docker Swarm mode across the stack's servers (the settings and their checks).

With `compose` (the default) every server runs its own compose project. With `swarm` the servers form
one swarm over the private network: the managers are the servers with the `manager` role (none: the
first server alone), the first manager initialises the swarm and the others join; the app becomes one
stack (`docker stack deploy`) whose services the swarm places by node labels (the servers' roles).

Why the limits below:
- Managers keep the swarm state with Raft, which needs a majority of managers up. Two managers
  tolerate no failure, like one, but halve the chance that a majority is up: an even count is refused.
  https://docs.docker.com/engine/swarm/admin_guide/#add-manager-nodes-for-fault-tolerance
- Swarm's own addresses (2377/tcp, 7946/tcp+udp, 4789/udp) must be reachable between the nodes only:
  https://docs.docker.com/engine/swarm/swarm-tutorial/#open-protocols-and-ports-between-the-hosts
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator

from config.base import ConfigModel
from config.errors import ConfigIssue

if TYPE_CHECKING:
    from config.schema import StackConfig

Engine = Literal["compose", "swarm"]
MANAGER_ROLE = "manager"
# Raft: an odd number of managers; more than 7 is Docker's own advice against (and past any stack here).
ALLOWED_MANAGER_COUNTS = (1, 3, 5, 7)
# Hetzner names the first private-network NIC ens10 on its x86 types (enp7s0 on some others: set it).
DEFAULT_PRIVATE_INTERFACE = "ens10"
_IFACE_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$")


class SwarmUpdateConfig(ConfigModel):
    """How a service's tasks are replaced (update_config and rollback_config of every app service)."""

    parallelism: Annotated[int, Field(ge=1, le=100)] = 1
    # How long a new task must stay healthy before the update goes on (and counts as failed if not).
    monitor: str = "10s"
    delay: str = "0s"

    @field_validator("monitor", "delay", mode="before")
    @classmethod
    def _durations(cls, value: str | int) -> str:
        from config.app import _duration as check_duration  # config.app imports this module

        return check_duration(value)


class SwarmConfig(ConfigModel):
    # The NIC on the private network: swarm's ports are opened on it only, and the swarm advertises the
    # server's private address on it.
    private_interface: str = DEFAULT_PRIVATE_INTERFACE
    # Overlay networks with IPsec (ESP) between nodes: the app's traffic crosses the private network
    # encrypted. Needs the kernel's esp4 and GCM support (Hetzner's images have them).
    encrypted: bool = True
    update: SwarmUpdateConfig = Field(default_factory=SwarmUpdateConfig)

    @field_validator("private_interface")
    @classmethod
    def _interface(cls, value: str) -> str:
        if not _IFACE_RE.fullmatch(value):
            raise ValueError(f"'{value}' is not a network interface name (at most 15 letters, digits, _ . -)")
        return value


def swarm_managers(stack: StackConfig) -> list[str]:
    """The managers in stack-file order: the servers with the manager role, else the first server."""
    managers = stack.servers_with_role(MANAGER_ROLE)
    return managers or [next(iter(stack.servers))]


def swarm_issues(stack: StackConfig) -> list[ConfigIssue]:
    """Checks of app.engine against the servers, the network and the services."""
    app = stack.app
    issues: list[ConfigIssue] = []
    if app.engine != "swarm":
        for name, server in stack.servers.items():
            if MANAGER_ROLE in server.roles:
                issues.append(ConfigIssue(f"servers.{name}.roles", "the manager role needs app.engine swarm"))
        for name, service in app.services.items():
            if service.replicas is not None:
                issues.append(ConfigIssue(
                    f"app.services.{name}.replicas",
                    "replicas needs app.engine swarm (with compose a service runs once on every server with its role)",
                ))
        return issues
    if stack.network is None:
        issues.append(ConfigIssue("app.engine", "swarm needs a private network (`network`): the nodes talk over it"))
    managers = swarm_managers(stack)
    if len(managers) not in ALLOWED_MANAGER_COUNTS:
        issues.append(ConfigIssue("servers", (
            f"{len(managers)} servers have the manager role ({', '.join(managers)}): a swarm needs an odd number "
            "(1 or 3) so that a majority of managers survives a failure; 2 managers fail when either one does"
        )))
    if app.compose_file is not None:
        issues.append(ConfigIssue("app.composeFile", "not supported with app.engine swarm: describe the services in app.services"))
    for name, service in app.services.items():
        if service.strategy == "blue-green":
            issues.append(ConfigIssue(f"app.services.{name}.strategy", (
                "blue-green is the compose engine's rollout; with app.engine swarm the swarm starts the new task "
                "first and rolls back by itself (app.swarm.update): remove strategy"
            )))
    if app.jobs:
        issues.append(ConfigIssue("app.jobs", "scheduled jobs run as one-off compose containers: not supported with app.engine swarm yet"))
    if app.registries:
        issues.append(ConfigIssue("app.registries", "the swarm deploy does not log in to private registries yet: use public images"))
    lb = stack.load_balancer
    if lb is not None and lb.health_check.protocol == "http" and lb.health_check.port is None:
        issues.append(ConfigIssue("loadBalancer.healthCheck.protocol", (
            "the proxy's private HTTP check port is compose-only: with app.engine swarm use protocol tcp "
            "(the load balancer then checks the proxy on each web node)"
        )))
    if app.exposed():
        web = stack.servers_with_role("web")
        if not web:
            issues.append(ConfigIssue("servers", "exposed services need a server with the web role: the proxy runs there"))
        if app.proxy.kind == "traefik":
            # Traefik's swarm provider reads services from the Docker API of a manager.
            # https://doc.traefik.io/traefik/providers/swarm/ (endpoint: the manager's socket)
            outside = [name for name in web if name not in managers]
            if outside:
                issues.append(ConfigIssue("app.proxy.kind", (
                    f"Traefik's swarm provider must run on managers, and web servers {', '.join(outside)} are not: "
                    "give them the manager role or use proxy kind nginx"
                )))
    for name, service in app.services.items():
        path = f"app.services.{name}"
        if service.replicas is not None and service.stateful and service.replicas != 1:
            issues.append(ConfigIssue(f"{path}.replicas", (
                "a stateful service (volumes, postgres, redis) runs once, pinned to the node that holds its data"
            )))
        if service.restart == "no":
            issues.append(ConfigIssue(f"{path}.restart", "a swarm service is always restarted (restart_policy); drop restart: no"))
    return issues
