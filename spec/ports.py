"""One port table per server: every host port something listens on, with its owner and config field.

Built from the validated config (the same placement the compose renderer uses). Two owners of one port
on one server are refused, and a load balancer destination may only reach the proxy or a service marked
`public`: the load balancer talks to the targets over the private network, which neither the Cloud
Firewall nor DOCKER-USER filter, so a destination on sshd or Redis would publish it past adminCidrs.
"""

from __future__ import annotations

from dataclasses import dataclass

from config.app_values import RESERVED_SERVICE_NAMES
from config.errors import ConfigIssue
from config.network import PROXY_PORTS
from config.schema import StackConfig
from spec.service_homes import placement

# The optional Prometheus + Grafana preset listens on these loopback ports (render/ops.py renders them).
PROMETHEUS_PORT = 9090
GRAFANA_PORT = 3000


@dataclass(frozen=True)
class PortUse:
    port: int
    owner: str  # "sshd", "the proxy (traefik)", "service redis", ...
    field: str  # the config path that sets it
    lb_destination_ok: bool = False  # the proxy and services marked public


def _publishes_private_ports(stack: StackConfig) -> bool:
    """Services publish their `ports` on the private address only in a multi-server stack (render/compose.py)."""
    hosting = [server for server, services in placement(stack).items() if services]
    return len(hosting) > 1 and stack.network is not None


def port_table(stack: StackConfig) -> dict[str, list[PortUse]]:
    """server -> the ports in use there, in a stable order (host daemons first, then containers)."""
    where = placement(stack)
    publish = _publishes_private_ports(stack)
    first_server = next(iter(stack.servers))
    ops, monitoring, docker = stack.ops, stack.ops.monitoring, stack.host.docker
    table: dict[str, list[PortUse]] = {}
    for server in stack.servers:
        uses = [PortUse(stack.ssh.port, "sshd", "ssh.port")]
        if ops.enabled and monitoring.node_exporter.enabled:
            uses.append(PortUse(monitoring.node_exporter.port, "node-exporter", "ops.monitoring.nodeExporter.port"))
        if docker.enabled and docker.metrics_addr is not None:
            uses.append(PortUse(int(docker.metrics_addr.rsplit(":", 1)[1]), "Docker's metrics", "host.docker.metricsAddr"))
        if ops.enabled and monitoring.prometheus.enabled and server == first_server:
            uses.append(PortUse(PROMETHEUS_PORT, "Prometheus", "ops.monitoring.prometheus.enabled"))
            if monitoring.prometheus.grafana:
                uses.append(PortUse(GRAFANA_PORT, "Grafana", "ops.monitoring.prometheus.grafana"))
        services = where[server]
        if any(name in RESERVED_SERVICE_NAMES for name in services):
            owner = f"the proxy ({stack.app.proxy.kind})"
            uses += [PortUse(port, owner, "app.proxy", lb_destination_ok=True) for port in PROXY_PORTS]
        if publish:
            for name, service in services.items():
                if name in stack.app.services:
                    uses += [
                        PortUse(port, f"service {name}", f"app.services.{name}.ports", lb_destination_ok=service.public)
                        for port in service.private_ports
                    ]
        table[server] = uses
    return table


def port_issues(stack: StackConfig) -> list[ConfigIssue]:
    table = port_table(stack)
    issues: list[ConfigIssue] = []
    reported: set[tuple[str, int]] = set()
    for server, uses in table.items():
        owners: dict[int, PortUse] = {}
        for use in uses:
            first = owners.setdefault(use.port, use)
            if first is not use and (use.field, use.port) not in reported:
                reported.add((use.field, use.port))
                issues.append(ConfigIssue(use.field, (
                    f"port {use.port} of {use.owner} on server {server} is already used by {first.owner} ({first.field})"
                )))
    lb = stack.load_balancer
    if lb is None:
        return issues
    for index, service in enumerate(lb.services):
        for server in stack.servers_with_role(lb.target_role):
            reached = next((u for u in table[server] if u.port == service.destination_port), None)
            if reached is not None and not reached.lb_destination_ok:
                issues.append(ConfigIssue(f"loadBalancer.services[{index}].destinationPort", (
                    f"{service.destination_port} is {reached.owner} ({reached.field}) on server {server}: the load balancer reaches "
                    "it over the private network, past adminCidrs, the Cloud Firewall and DOCKER-USER. A destination "
                    "may only be the proxy (80, 443) or a service with `public: true`"
                )))
                break
    return issues
