"""Checks that need several fields of a stack at once (a type sold in the stack's location, references
between servers, volumes and IPs, the load balancer's health check, paths against each other, the app
against the servers and DNS). config/loader.py runs them once every field is valid, as pydantic would
run a model validator: every problem is reported with its own config path.
"""

from __future__ import annotations

import ipaddress

from config.app_stack_rules import app_stack_issues
from config.catalogue import Catalogue, load_catalogue
from config.compose_file import closest
from config.errors import ConfigIssue
from config.health_route import proxy_check
from config.network import PROXY_PORTS, health_check_port_issues
from config.path_checks import path_issues
from config.private_network import FIRST_SERVER_HOST_INDEX, LOAD_BALANCER_HOST_INDEX, reserved_addresses
from config.references import reference_issues
from config.schema import StackConfig
from config.swarm_checks import swarm_issues


def cross_field_issues(stack: StackConfig) -> list[ConfigIssue]:
    """Every problem that needs several fields at once, each with its own path."""
    catalogue = load_catalogue()
    return (
        _server_issues(stack, catalogue) + _volume_issues(stack) + _load_balancer_issues(stack, catalogue)
        + _floating_ip_issues(stack) + _private_ip_issues(stack) + _network_issues(stack) + _docker_issues(stack)
        + path_issues(stack) + reference_issues(stack) + stack.app.role_issues(stack.served_roles())
        + app_stack_issues(stack) + swarm_issues(stack) + stack.ops.schedule_issues()
    )


def _server_issues(stack: StackConfig, catalogue: Catalogue) -> list[ConfigIssue]:
    """Types sold in the location, swap against each disk."""
    issues: list[ConfigIssue] = []
    for name, server in stack.servers.items():
        problem = catalogue.server_type_problem(server.server_type, stack.location)
        if problem:
            issues.append(ConfigIssue(f"servers.{name}.serverType", problem))
        disk = catalogue.server_types[server.server_type].disk_gb if server.server_type in catalogue.server_types else None
        if disk is not None and stack.host.swap_gb * 2 > disk:
            issues.append(ConfigIssue("host.swapGb", (
                f"{stack.host.swap_gb} GiB of swap is more than half of server {name}'s {disk} GB disk "
                f"({server.server_type}); the swap file is written in full on the root disk"
            )))
    return issues


def _volume_issues(stack: StackConfig) -> list[ConfigIssue]:
    """Volumes on servers that exist, one volume per mount point and server."""
    issues: list[ConfigIssue] = []
    for name, volume in stack.volumes.items():
        if volume.server is not None and volume.server not in stack.servers:
            suggestion = closest(volume.server, set(stack.servers))
            issues.append(ConfigIssue(f"volumes.{name}.server", f"no server named '{volume.server}'{suggestion}"))
    seen_mounts: dict[tuple[str, str], str] = {}
    for name, volume in stack.volumes.items():
        key = (stack.volume_server(name), volume.mount_point)
        if key in seen_mounts:
            reason = f"{volume.mount_point} is already used by volume '{seen_mounts[key]}'"
            issues.append(ConfigIssue(f"volumes.{name}.mountPoint", reason))
        seen_mounts[key] = name
    return issues


def _load_balancer_issues(stack: StackConfig, catalogue: Catalogue) -> list[ConfigIssue]:
    """The type, targets, services and health check of the load balancer."""
    issues: list[ConfigIssue] = []
    lb = stack.load_balancer
    if lb is None:
        return []
    problem = catalogue.load_balancer_problem(lb.type, stack.location)
    if problem:
        issues.append(ConfigIssue("loadBalancer.type", problem))
    if not stack.servers_with_role(lb.target_role):
        reason = f"no server has the '{lb.target_role}' role, so the load balancer would have no target"
        issues.append(ConfigIssue("loadBalancer.targetRole", reason))
    if lb.use_private_ip and stack.network is None:
        issues.append(ConfigIssue("loadBalancer.usePrivateIp", "needs a private network: add `network` or set usePrivateIp false"))
    limit = catalogue.load_balancer_types[lb.type].services
    if len(lb.services) > limit:
        issues.append(ConfigIssue("loadBalancer.services", f"{lb.type} allows at most {limit} services"))
    for index, service in enumerate(lb.services):
        if service.listen_port == stack.ssh.port:
            issues.append(ConfigIssue(f"loadBalancer.services[{index}].listenPort", f"{service.listen_port} is the SSH port"))
    check = lb.health_check
    check_ports = [check.port] if check.port is not None else [s.destination_port for s in lb.services]
    issues += health_check_port_issues(lb)
    on_proxy = sorted({port for port in check_ports if port in PROXY_PORTS})
    if check.protocol == "http" and check.port is None and (not lb.use_private_ip or proxy_check(stack) is None):
        issues.append(ConfigIssue("loadBalancer.healthCheck.protocol", (
            "http without a port checks the app through the hosts' proxy: that needs usePrivateIp and a "
            "public exposed service whose health path the proxy routes (app.healthUrl); else set a port "
            "of your own that answers 2xx, or protocol tcp"
        )))
    if check.protocol == "http" and check.port is not None and on_proxy:
        issues.append(ConfigIssue("loadBalancer.healthCheck.port", (
            f"an HTTP check on {', '.join(map(str, on_proxy))} cannot see the app: the hosts' proxy redirects "
            "every request on 80 to HTTPS and speaks TLS behind PROXY protocol on 443. Use protocol tcp (the "
            "default), or HTTP on a port of your own that answers 2xx"
        )))
    return issues


def _floating_ip_issues(stack: StackConfig) -> list[ConfigIssue]:
    """The server the floating IP goes to."""
    issues: list[ConfigIssue] = []
    if stack.floating_ip is not None and stack.floating_ip.server is not None and stack.floating_ip.server not in stack.servers:
        suggestion = closest(stack.floating_ip.server, set(stack.servers))
        issues.append(ConfigIssue("floatingIp.server", f"no server named '{stack.floating_ip.server}'{suggestion}"))
    if stack.floating_ip is not None and stack.floating_ip.server is None and len(stack.servers) > 1 and not stack.servers_with_role("web"):
        issues.append(ConfigIssue("floatingIp.server", "several servers and none has the web role: name the server"))
    return issues


def _network_issues(stack: StackConfig) -> list[ConfigIssue]:
    """Several servers talk over a private network."""
    issues: list[ConfigIssue] = []
    if len(stack.servers) > 1 and stack.network is None:
        issues.append(ConfigIssue("network", "a stack with several servers needs a private network for their traffic"))
    return issues


def _docker_issues(stack: StackConfig) -> list[ConfigIssue]:
    """Docker from Debian's archive on Debian 12 needs the compose plugin's download."""
    issues: list[ConfigIssue] = []
    docker = stack.host.docker
    if docker.enabled and docker.source == "debian" and docker.compose_plugin is None:
        debian = sorted(name for name, server in stack.servers.items() if server.image == "debian-12")
        if debian:
            issues.append(ConfigIssue("host.docker.composePlugin", (
                f"source debian on Debian 12 ({', '.join(debian)}) needs the compose v2 plugin's url and sha256: "
                "bookworm's archive has no compose v2 package (its docker-compose is the old v1)"
            )))
    return issues


def _private_ip_issues(stack: StackConfig) -> list[ConfigIssue]:
    pinned = {name: server.private_ip for name, server in stack.servers.items() if server.private_ip is not None}
    if stack.network is None:
        return [ConfigIssue(f"servers.{name}.privateIp", "needs a private network (`network`)") for name in pinned]
    issues: list[ConfigIssue] = []
    subnet = ipaddress.ip_network(stack.network.subnet)
    reserved = reserved_addresses(stack.network.subnet)
    seen: dict[str, str] = {}
    for name, address in pinned.items():
        path = f"servers.{name}.privateIp"
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            issues.append(ConfigIssue(path, f"'{address}' is not an IPv4 address"))
            continue
        if parsed not in subnet or parsed in (subnet.network_address, subnet.broadcast_address):
            issues.append(ConfigIssue(path, f"{address} is not a host address of the subnet {stack.network.subnet}"))
        elif str(parsed) in reserved:
            issues.append(ConfigIssue(path, f"{address} is reserved for {reserved[str(parsed)]}"))
        elif str(parsed) in seen:
            issues.append(ConfigIssue(path, f"{address} is already the address of server '{seen[str(parsed)]}'"))
        seen.setdefault(str(parsed), name)
    if not issues:
        issues += _subnet_size_issues(stack, stack.network.subnet, pinned)
    return issues

def _subnet_size_issues(stack: StackConfig, subnet: str, pinned: dict[str, str]) -> list[ConfigIssue]:
    # Servers without a pinned address take the free hosts from FIRST_SERVER_HOST_INDEX on.
    network = ipaddress.IPv4Network(subnet)
    first = network.network_address + 1 + FIRST_SERVER_HOST_INDEX
    pinned_above = {address for address in pinned.values() if ipaddress.IPv4Address(address) >= first}
    free = max(network.num_addresses - 2 - FIRST_SERVER_HOST_INDEX, 0) - len(pinned_above)
    unpinned = len(stack.servers) - len(pinned)
    if free < unpinned:
        return [ConfigIssue("network.subnet", (
            f"{subnet} has {free} free host address(es) from host {FIRST_SERVER_HOST_INDEX + 1} on for "
            f"{unpinned} server(s) without a privateIp (the load balancer is host {LOAD_BALANCER_HOST_INDEX + 1}): "
            "use a larger subnet such as a /24"
        ))]
    return []
