"""Resolve a validated StackConfig into the exact list of cloud resources the program creates.

This is pure (no Pulumi): the components create resources from these specs, and the cost component
prices the very same specs, so the bill can never describe a different stack than the one deployed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from config.base import protected_by_default
from config.network import HealthCheckConfig, LbServiceConfig
from config.schema import StackConfig
from spec.dns import caa_names
from spec.lb_checks import LbCheck, lb_checks
from spec.private_ips import assign_private_ips

MANAGED_BY = "hetzner-platform"


@dataclass(frozen=True)
class ServerSpec:
    name: str
    resource_name: str
    server_type: str
    image: str
    location: str
    backups: bool
    roles: tuple[str, ...]
    labels: dict[str, str]
    protected: bool
    ordered_on: dt.date | None
    hours_per_month: int | None
    private_ip: str | None
    keep_disk: bool = False
    snapshot_before_resize: bool = False


@dataclass(frozen=True)
class PrimaryIpSpec:
    server: str
    resource_name: str
    ip_type: str  # "ipv4" | "ipv6"
    location: str


@dataclass(frozen=True)
class VolumeSpec:
    name: str
    resource_name: str
    size_gb: int
    server: str
    mount_point: str
    format: str
    location: str
    protected: bool


@dataclass(frozen=True)
class NetworkSpec:
    resource_name: str
    ip_range: str
    subnet: str
    network_zone: str


@dataclass(frozen=True)
class LoadBalancerSpec:
    resource_name: str
    lb_type: str
    location: str
    algorithm: str
    services: tuple[LbServiceConfig, ...]
    health_check: HealthCheckConfig
    checks: dict[int, LbCheck]  # listen port -> its health check (spec/lb_checks.py)
    targets: tuple[str, ...]
    use_private_ip: bool
    private_ip: str | None
    protected: bool


@dataclass(frozen=True)
class FloatingIpSpec:
    resource_name: str
    ip_type: str
    server: str
    location: str
    dns_ptr: str | None
    protected: bool


@dataclass(frozen=True)
class DnsRecordSpec:
    fqdn: str
    record_type: str  # A | AAAA | CAA
    target: str  # "load_balancer" | "floating_ip" | "server:<name>" | "caa"
    proxied: bool
    ttl: int


@dataclass(frozen=True)
class PlatformSpec:
    prefix: str
    location: str
    labels: dict[str, str]
    servers: tuple[ServerSpec, ...]
    primary_ips: tuple[PrimaryIpSpec, ...]
    volumes: tuple[VolumeSpec, ...]
    network: NetworkSpec | None
    load_balancer: LoadBalancerSpec | None
    floating_ip: FloatingIpSpec | None
    dns_zone: str | None
    dns_records: tuple[DnsRecordSpec, ...] = field(default_factory=tuple)

    def server(self, name: str) -> ServerSpec:
        return next(server for server in self.servers if server.name == name)


def private_addresses(config: StackConfig) -> tuple[dict[str, str], str | None]:
    """Private addresses: pinned ones, the others from .10 in name order; the LB gets .5 (spec/private_ips.py)."""
    if config.network is None:
        return {}, None
    pinned = {name: server.private_ip for name, server in config.servers.items() if server.private_ip is not None}
    return assign_private_ips(config.network.subnet, list(config.servers), pinned)


# The parts of the spec the renderers need on their own: the same functions `resolve` uses, so a renderer
# never resolves the whole stack for one address and can never disagree with the resources.
def server_private_ips(config: StackConfig) -> dict[str, str]:
    """Server name -> its private address, in stack-file order (empty without a network)."""
    addresses, _ = private_addresses(config)
    return {name: addresses[name] for name in config.servers if addresses.get(name)}


def lb_targets(config: StackConfig) -> tuple[str, ...]:
    """The servers the load balancer forwards to (empty without one)."""
    lb = config.load_balancer
    return tuple(config.servers_with_role(lb.target_role)) if lb is not None else ()


def lb_private_ip(config: StackConfig) -> str | None:
    """The load balancer's private address when it reaches its targets over the private network."""
    lb = config.load_balancer
    return private_addresses(config)[1] if lb is not None and lb.use_private_ip else None


def resolve(config: StackConfig) -> PlatformSpec:
    """The exact resources the stack creates: names, labels, protection, addresses and DNS records."""
    prefix = config.resource_prefix()
    base_labels = {"managed-by": MANAGED_BY, "project": config.project, "environment": config.environment}
    servers = _servers(config, base_labels)
    primary_ips = tuple(
        PrimaryIpSpec(server.name, f"{server.resource_name}-{ip_type}", ip_type, config.location)
        for server in servers
        for ip_type in ("ipv4", "ipv6")
    )
    volumes = tuple(
        VolumeSpec(
            name=name,
            resource_name=f"{prefix}-{name}",
            size_gb=volume.size_gb,
            server=config.volume_server(name),
            mount_point=volume.mount_point,
            format=volume.format,
            location=config.location,
            protected=volume.protected(config.environment),
        )
        for name, volume in config.volumes.items()
    )
    network = (
        NetworkSpec(f"{prefix}-net", config.network.ip_range, config.network.subnet, config.network_zone)
        if config.network
        else None
    )
    load_balancer = _load_balancer(config)
    floating_ip = _floating_ip(config)
    return PlatformSpec(
        prefix=prefix,
        location=config.location,
        labels=base_labels,
        servers=servers,
        primary_ips=primary_ips,
        volumes=volumes,
        network=network,
        load_balancer=load_balancer,
        floating_ip=floating_ip,
        dns_zone=config.dns.zone if config.dns else None,
        dns_records=_dns_records(config, load_balancer, floating_ip),
    )


def _servers(config: StackConfig, base_labels: dict[str, str]) -> tuple[ServerSpec, ...]:
    """Each server with its labels (its own, the stack's, one per role) and its private address."""
    prefix = config.resource_prefix()
    server_ips, _ = private_addresses(config)
    return tuple(
        ServerSpec(
            name=name,
            resource_name=f"{prefix}-{name}",
            server_type=server.server_type,
            image=server.image,
            location=config.location,
            backups=server.backups,
            roles=tuple(server.roles),
            labels={**server.labels, **base_labels, **{f"role-{role}": "true" for role in server.roles}},
            protected=server.protected(config.environment),
            ordered_on=server.ordered_on,
            hours_per_month=server.hours_per_month,
            private_ip=server_ips.get(name),
            keep_disk=server.keep_disk,
            snapshot_before_resize=server.snapshot_before_resize,
        )
        for name, server in config.servers.items()
    )


def _load_balancer(config: StackConfig) -> LoadBalancerSpec | None:
    lb = config.load_balancer
    if lb is None:
        return None
    return LoadBalancerSpec(
        resource_name=f"{config.resource_prefix()}-lb",
        lb_type=lb.type,
        location=config.location,
        algorithm=lb.algorithm,
        services=tuple(lb.services),
        health_check=lb.health_check,
        checks=lb_checks(config),
        targets=lb_targets(config),
        use_private_ip=lb.use_private_ip,
        private_ip=lb_private_ip(config),
        protected=protected_by_default(config.environment),
    )


def _floating_ip(config: StackConfig) -> FloatingIpSpec | None:
    server = config.floating_ip_server()
    if config.floating_ip is None or server is None:
        return None
    return FloatingIpSpec(
        resource_name=f"{config.resource_prefix()}-fip",
        ip_type=config.floating_ip.type,
        server=server,
        location=config.location,
        dns_ptr=config.floating_ip.dns_ptr,
        protected=protected_by_default(config.environment),
    )


def _dns_records(
    config: StackConfig, load_balancer: LoadBalancerSpec | None, floating_ip: FloatingIpSpec | None
) -> tuple[DnsRecordSpec, ...]:
    """A/AAAA records point at the LB, else the floating IP, else the (first web) server."""
    if config.dns is None:
        return ()
    if load_balancer is not None:
        target, has_v4, has_v6 = "load_balancer", True, True
    elif floating_ip is not None:
        target = "floating_ip"
        has_v4, has_v6 = floating_ip.ip_type == "ipv4", floating_ip.ip_type == "ipv6"
    else:
        web = config.servers_with_role("web") or list(config.servers)
        target, has_v4, has_v6 = f"server:{web[0]}", True, True
    records: list[DnsRecordSpec] = []
    for record in config.dns.records:
        fqdn = config.dns.fqdn(record)
        proxied = config.dns.is_proxied(record)
        if has_v4:
            records.append(DnsRecordSpec(fqdn, "A", target, proxied, config.dns.ttl))
        if has_v6 and record.ipv6:
            records.append(DnsRecordSpec(fqdn, "AAAA", target, proxied, config.dns.ttl))
    if config.dns.caa_letsencrypt:
        records += [DnsRecordSpec(name, "CAA", "caa", False, config.dns.ttl) for name in caa_names(config.dns)]
    return tuple(records)
