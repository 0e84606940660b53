"""Where each app service runs (the proxy services included), the first server of each service, and the
Let's Encrypt challenge per exposed host."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from config.app_service import ServiceConfig
from config.app_values import RESERVED_SERVICE_NAMES
from config.schema import StackConfig
from config.stack_views import dns_record_for, placement_names
from spec.swarm import swarm_placement


def placement(stack: StackConfig) -> dict[str, dict[str, ServiceConfig]]:
    """server -> {compose service name: ServiceConfig}, proxy services included.

    Use this for capacity: the sum of `limits` per server is what the compose files reserve.
    With app.engine swarm, every replica the swarm places on a server (spec/swarm.py).
    """
    if stack.app.engine == "swarm":
        return swarm_placement(stack)
    exposed = stack.app.exposed()
    result: dict[str, dict[str, ServiceConfig]] = {}
    for server, names in placement_names(stack).items():
        services = {name: stack.app.services[name] for name in names}
        if any(name in exposed for name in names):
            services.update(stack.app.proxy_services())
        result[server] = services
    return result


def service_homes(where: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Service name -> the first server (stack-file order) that runs it, from a placement."""
    home: dict[str, str] = {}
    for server, names in where.items():
        for name in names:
            home.setdefault(name, server)
    return home


def host_is_proxied(stack: StackConfig, host: str) -> bool:
    record = dns_record_for(stack, host)
    return bool(stack.dns is not None and record is not None and stack.dns.is_proxied(record))


def acme_challenge(stack: StackConfig, host: str) -> str:
    """Let's Encrypt challenge for one exposed host.

    'dns-01' (Cloudflare token) when the host's record is Cloudflare-proxied (HTTP-01 cannot reach the
    origin reliably) or when the proxy runs on several servers behind a load balancer (the HTTP-01
    request may land on the other server); 'http-01' otherwise.
    """
    if stack.dns is None:
        return "http-01"
    proxy_servers = [s for s, services in placement(stack).items() if any(n in RESERVED_SERVICE_NAMES for n in services)]
    if len(proxy_servers) > 1:
        return "dns-01"
    return "dns-01" if host_is_proxied(stack, host) else "http-01"
