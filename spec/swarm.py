"""Docker Swarm mode (app.engine swarm): who manages, how nodes are labelled, where replicas land.

Pure functions of the config, shared by the host steps (init, join, labels), the stack file renderer and
the capacity check, so all three agree on the same placement.

- The first manager (config/swarm_checks.py `swarm_managers`) initialises the swarm on its private address; the
  other managers join with the manager token, every other server with the worker token.
- Every node carries `hp.server=<server name>` and `hp.role.<role>=true` per role. A service is
  constrained to its role's label, a `server` pin to `hp.server` (a label, not node.hostname: the label
  survives a rename and is the same in the e2e harness, whose machines have generated host names).
- Replicas: a service's `replicas`, default one per server with its role; a stateful service (volumes,
  postgres, redis) runs once, pinned to its server (the first with its role), next to its data.
- Swarm's scheduler spreads a service's tasks evenly over the nodes that satisfy its constraints
  (https://docs.docker.com/engine/swarm/how-swarm-mode-works/services/ "spread"), so the capacity check
  counts ceil(replicas / eligible nodes) tasks on each eligible node, plus the proxy on every web node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from config.swarm_checks import swarm_managers
from spec.private_ips import assign_private_ips

if TYPE_CHECKING:
    from config.app_service import ServiceConfig
    from config.schema import StackConfig

LABEL_PREFIX = "hp"
SERVER_LABEL = f"{LABEL_PREFIX}.server"
# Swarm's own ports (https://docs.docker.com/engine/swarm/swarm-tutorial/#open-protocols-and-ports-between-the-hosts).
MANAGER_PORT = 2377  # tcp: cluster management (Raft), managers only but harmless to open on all nodes
GOSSIP_PORT = 7946  # tcp + udp: node discovery
VXLAN_PORT = 4789  # udp: overlay network data path
SWARM_PORTS: tuple[tuple[int, str | None], ...] = ((MANAGER_PORT, "tcp"), (GOSSIP_PORT, None), (VXLAN_PORT, "udp"))
PROXY_ROLE = "web"  # the proxy runs (mode global) on every node with this role


def role_label(role: str) -> str:
    return f"{LABEL_PREFIX}.role.{role}"


@dataclass(frozen=True)
class SwarmNode:
    server: str
    manager: bool
    private_ip: str
    labels: dict[str, str]


@dataclass(frozen=True)
class SwarmSpec:
    leader: str  # initialises the swarm; the stack is deployed from it
    nodes: tuple[SwarmNode, ...]

    def node(self, server: str) -> SwarmNode:
        return next(node for node in self.nodes if node.server == server)

    @property
    def managers(self) -> list[str]:
        return [node.server for node in self.nodes if node.manager]


def node_labels(stack: StackConfig, server: str) -> dict[str, str]:
    roles = [role for role in stack.servers[server].roles if role != "manager"]
    return {SERVER_LABEL: server, **{role_label(role): "true" for role in roles}}


def swarm_spec(stack: StackConfig) -> SwarmSpec:
    if stack.network is None:
        raise ValueError("app.engine swarm needs a private network")
    pinned = {name: server.private_ip for name, server in stack.servers.items() if server.private_ip is not None}
    addresses, _ = assign_private_ips(stack.network.subnet, list(stack.servers), pinned)
    managers = swarm_managers(stack)
    nodes = tuple(
        SwarmNode(server=name, manager=name in managers, private_ip=addresses[name], labels=node_labels(stack, name))
        for name in stack.servers
    )
    return SwarmSpec(leader=managers[0], nodes=nodes)


def eligible_servers(stack: StackConfig, service: ServiceConfig) -> list[str]:
    """Servers whose labels satisfy the service's constraints (a stateful service: its one server)."""
    if service.server is not None:
        return [service.server]
    servers = stack.servers_with_role(service.role)
    return servers[:1] if service.stateful else servers


def constraints(stack: StackConfig, service: ServiceConfig) -> list[str]:
    """deploy.placement.constraints: the server pin for stateful or pinned services, else the role."""
    eligible = eligible_servers(stack, service)
    if service.server is not None or service.stateful:
        return [f"node.labels.{SERVER_LABEL} == {eligible[0]}"] if eligible else []
    return [f"node.labels.{role_label(service.role)} == true"]


def replica_count(stack: StackConfig, service: ServiceConfig) -> int:
    if service.replicas is not None:
        return service.replicas
    return 1 if service.stateful else max(len(eligible_servers(stack, service)), 1)


def tasks_per_server(stack: StackConfig, service: ServiceConfig) -> dict[str, int]:
    """How many of the service's tasks each eligible server runs when swarm spreads them evenly (the most)."""
    eligible = eligible_servers(stack, service)
    if not eligible:
        return {}
    replicas = replica_count(stack, service)
    per_node = -(-replicas // len(eligible))  # ceil: an uneven split puts the extra task on any of them
    return {server: per_node for server in eligible}


def proxy_servers(stack: StackConfig) -> list[str]:
    return stack.servers_with_role(PROXY_ROLE) if stack.app.exposed() else []


def swarm_placement(stack: StackConfig) -> dict[str, dict[str, ServiceConfig]]:
    """server -> {task name: ServiceConfig}: every task the swarm may run there (`<service>.<n>`).

    The shape of spec.service_homes.placement, so the capacity check sums replicas x limits per node.
    """
    result: dict[str, dict[str, ServiceConfig]] = {name: {} for name in stack.servers}
    for name, service in stack.app.services.items():
        for server, count in tasks_per_server(stack, service).items():
            for index in range(1, count + 1):
                result[server][name if index == 1 else f"{name}.{index}"] = service
    for server in proxy_servers(stack):
        result[server].update(stack.app.proxy_services())
    return result
