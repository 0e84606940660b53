"""The request a load balancer's HTTP check sends through the hosts' proxy (spec/lb_checks.py), and which
service answers it. The config refuses an HTTP check without a port when there is none."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from config.schema import StackConfig
from config.stack_views import service_fqdn


@dataclass(frozen=True)
class ProxyCheck:
    """The request the load balancer sends through the proxy, and where the proxy routes it."""

    domain: str
    path: str
    service: str  # the compose service that answers
    port: int  # its container port



def proxy_check(config: StackConfig) -> ProxyCheck | None:
    """The health request through the proxy, from app.healthUrl or the first public route's <path>/health."""
    public = [(name, s) for name, s in config.app.exposed().items() if not s.admin_only]
    if not public:
        return None
    routes = [(service_fqdn(config, host), s.expose.path or "", name, s.expose.port)
              for name, s in public if s.expose is not None for host in s.expose.names]
    domain, prefix = routes[0][0], routes[0][1]
    path = f"{prefix}/health"
    url = config.app.health_url
    if url is not None and url.startswith("/"):
        path = url
    elif url is not None:
        parts = urlsplit(url)
        if parts.hostname not in {route[0] for route in routes}:
            return None  # an outside URL: nothing the proxy routes
        domain, path = parts.hostname or domain, parts.path or "/"
    matching = [route for route in routes if route[0] == domain and (path + "/").startswith(route[1] + "/")]
    if not matching:
        return None
    _, _, service, port = max(matching, key=lambda route: len(route[1]))
    return ProxyCheck(domain=domain, path=path, service=service, port=port)
