"""Derived views of a validated config that its own checks need: which server each app service runs on,
and the full DNS name of a host with the dns.records entry that covers it. spec/service_homes.py builds the
rest of the placement (proxy services, homes, ACME challenges) on these.
"""

from __future__ import annotations

from typing import Any

from config.app_service import ServiceConfig
from config.schema import StackConfig


def candidate_servers(stack: StackConfig, service: ServiceConfig) -> list[str]:
    if service.server is not None:
        return [service.server] if service.server in stack.servers else []
    return stack.servers_with_role(service.role)


def placement_names(stack: StackConfig) -> dict[str, list[str]]:
    """server -> app service names (without the proxy), in app.services order.

    A service runs on every server with its role (web replicas behind the load balancer, more
    workers); a stateful one (volumes, postgres, redis) only on the first; `server` pins it.
    """
    result: dict[str, list[str]] = {name: [] for name in stack.servers}
    for name, service in stack.app.services.items():
        candidates = candidate_servers(stack, service)
        if service.stateful:
            candidates = candidates[:1]
        for server in candidates:
            result[server].append(name)
    return result


def domain_of(stack: StackConfig) -> str | None:
    if stack.app.domain is not None:
        return stack.app.domain
    return stack.dns.zone if stack.dns is not None else None


def service_fqdn(stack: StackConfig, host: str) -> str:
    domain = domain_of(stack) or "localhost"
    if host == "@":
        return domain
    if host == domain or host.endswith("." + domain):
        return host
    if stack.dns is None and stack.app.domain is None:
        return host
    return f"{host}.{domain}"


def dns_record_for(stack: StackConfig, host: str) -> Any:
    """The dns.records entry that covers `host` (exact name first, then a wildcard), or None."""
    if stack.dns is None:
        return None
    fqdn = service_fqdn(stack, host)
    exact = [record for record in stack.dns.records if stack.dns.fqdn(record) == fqdn]
    if exact:
        return exact[0]
    for record in stack.dns.records:
        name = stack.dns.fqdn(record)
        if name.startswith("*.") and fqdn.endswith(name[1:]) and "." not in fqdn[: -len(name) + 1]:
            return record
    return None
