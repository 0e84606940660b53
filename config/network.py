"""The load balancer with its services and health check, the floating IP and the private network."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from config.base import ConfigModel, Port, Role, check_cidr
from config.catalogue import load_catalogue
from config.errors import ConfigIssue
from config.formats import check_domain


class LbServiceConfig(ConfigModel):
    protocol: Literal["tcp", "http"] = "tcp"
    listen_port: Port
    destination_port: Port
    proxy_protocol: bool = False

    @field_validator("protocol", mode="before")
    @classmethod
    def _no_https(cls, value: object) -> object:
        if value == "https":
            raise ValueError(
                "https would terminate TLS on the load balancer and needs a certificate there; TLS terminates on "
                "the hosts' proxy in this project, so use tcp on 443 with proxyProtocol (the default services)"
            )
        return value


# Ports where the hosts' proxy (Traefik or nginx) only redirects to HTTPS or speaks TLS.
PROXY_PORTS = (80, 443)


class HealthCheckConfig(ConfigModel):
    # TCP by default, each service on its own destination port: the load balancer checks what it
    # forwards (and no two services share a check port). An HTTP check on the proxy's ports cannot work:
    # port 80 answers every path with a redirect (a check accepting it would pass whatever the app's
    # state) and 443 speaks TLS behind PROXY protocol.
    # None: HTTP through the hosts' proxy when an exposed service is behind the load balancer (spec/lb_checks.py),
    # else TCP. "http" with a port of your own checks that port directly.
    protocol: Literal["http", "tcp"] | None = None
    port: Port | None = None  # None: each service's destination port (TCP), the proxy's check port (HTTP)
    path: str = "/health"
    interval_s: Annotated[int, Field(ge=3, le=60)] = 15
    timeout_s: Annotated[int, Field(ge=1, le=60)] = 10
    retries: Annotated[int, Field(ge=0, le=5)] = 3

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not re.fullmatch(r"/[\x21-\x7e]*", value, re.ASCII) or '"' in value or "\\" in value:
            raise ValueError(f"'{value}' must be an absolute URL path such as /health")
        return value


def _default_lb_services() -> list[LbServiceConfig]:
    # TCP passthrough: TLS terminates on the host's proxy; PROXY protocol keeps client addresses.
    return [
        LbServiceConfig(protocol="tcp", listen_port=443, destination_port=443, proxy_protocol=True),
        LbServiceConfig(protocol="tcp", listen_port=80, destination_port=80, proxy_protocol=True),
    ]


class LoadBalancerConfig(ConfigModel):
    type: str = "lb11"
    algorithm: Literal["round_robin", "least_connections"] = "round_robin"
    services: list[LbServiceConfig] = Field(default_factory=_default_lb_services, min_length=1)
    health_check: HealthCheckConfig = Field(default_factory=HealthCheckConfig)
    target_role: Role = "web"
    use_private_ip: bool = True

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        catalogue = load_catalogue()
        if value not in catalogue.load_balancer_types:
            raise ValueError(catalogue.load_balancer_problem(value, ""))
        return value

    @field_validator("services")
    @classmethod
    def _unique_ports(cls, value: list[LbServiceConfig]) -> list[LbServiceConfig]:
        ports = [service.listen_port for service in value]
        duplicates = sorted({port for port in ports if ports.count(port) > 1})
        if duplicates:
            raise ValueError(f"listen ports used twice: {duplicates}")
        return value


def health_check_port_issues(lb: LoadBalancerConfig) -> list[ConfigIssue]:
    """Each service's health check needs its own port: the provider documents the check port as "Must be
    unique per Load Balancer" (pulumi-hcloud LoadBalancerServiceHealthCheckArgs.port docstring; Hetzner API
    docs, load balancer services), so one explicit port cannot serve several services."""
    check = lb.health_check
    if check.port is not None and len(lb.services) > 1:
        return [ConfigIssue("loadBalancer.healthCheck.port", (
            f"port {check.port} would be the health-check port of all {len(lb.services)} services, but Hetzner "
            "requires a check port unique per load balancer. Leave healthCheck.port unset (each service checks "
            "its own destination port) or keep a single service"
        ))]
    ports = [service.destination_port for service in lb.services]
    shared = sorted({port for port in ports if ports.count(port) > 1})
    if check.port is None and shared:
        return [ConfigIssue("loadBalancer.services", (
            f"destination port(s) {shared} are used by several services, so their health checks would share a "
            "port; Hetzner requires a check port unique per load balancer. Give each service its own destinationPort"
        ))]
    return []


class FloatingIpConfig(ConfigModel):
    type: Literal["ipv4", "ipv6"] = "ipv4"
    server: str | None = None  # default: the only server, else the first web server
    dns_ptr: str | None = None

    @field_validator("dns_ptr")
    @classmethod
    def _ptr(cls, value: str | None) -> str | None:
        return None if value is None else check_domain(value)


class NetworkConfig(ConfigModel):
    ip_range: str = "10.0.0.0/16"
    subnet: str = "10.0.1.0/24"

    @field_validator("ip_range", "subnet")
    @classmethod
    def _cidr(cls, value: str) -> str:
        cidr = check_cidr(value)
        network = ipaddress.ip_network(cidr)
        if network.version != 4 or not network.is_private:
            raise ValueError(f"'{value}' must be a private IPv4 range (RFC 1918)")
        return cidr

    @model_validator(mode="after")
    def _subnet_inside(self) -> NetworkConfig:
        subnet = ipaddress.ip_network(self.subnet)
        ip_range = ipaddress.ip_network(self.ip_range)
        if not (isinstance(subnet, ipaddress.IPv4Network) and isinstance(ip_range, ipaddress.IPv4Network)
                and subnet.subnet_of(ip_range)):
            raise ValueError(f"subnet {self.subnet} is not inside ipRange {self.ip_range}")
        return self
