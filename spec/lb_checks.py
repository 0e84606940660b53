"""Load balancer health checks: what each LB service checks.

With an exposed service behind the load balancer, the default is an HTTP check through the hosts' proxy:
the LB sends `GET <path>` with `Host: <domain>` to PROXY_CHECK_PORT on each target's private address, a
plain-HTTP listener of the proxy without PROXY protocol, which routes it like the HTTPS request to the
app. So a dead app behind a live proxy answers 502 and leaves the rotation. The check is on the service
that forwards 443; the port-80 service (it only redirects to HTTPS) keeps a TCP check on its own port,
since a check port must be unique per load balancer.

Provider arguments (pulumi_hcloud 1.43.3, `LoadBalancerServiceHealthCheckArgs`: protocol "http" or "tcp",
port, interval, timeout, retries, http; `LoadBalancerServiceHealthCheckHttpArgs`: domain "Domain we try to
access when performing the Health Check", path, response, status_codes "We expect that the target answers
with these status codes", tls; pulumi_hcloud/_inputs.py). HTTPS is protocol http with tls true; there is
no "https" protocol (kube-hetzner PR #2200).
"""

from __future__ import annotations

from dataclasses import dataclass

from config.health_route import ProxyCheck, proxy_check
from config.schema import StackConfig

PROXY_CHECK_PORT = 8081  # the proxies' plain-HTTP listener for the load balancer's checks
STATUS_2XX = ("2??",)


@dataclass(frozen=True)
class LbCheck:
    protocol: str  # "http" | "tcp"
    port: int
    domain: str | None = None
    path: str | None = None
    status_codes: tuple[str, ...] = ()


def proxy_check_applies(config: StackConfig) -> ProxyCheck | None:
    """The proxy check when the load balancer uses it (not set to tcp, no port of the user's own)."""
    lb = config.load_balancer
    if lb is None or not lb.use_private_ip:
        return None
    health = lb.health_check
    if health.protocol == "tcp" or health.port is not None:
        return None
    return proxy_check(config)


def lb_checks(config: StackConfig) -> dict[int, LbCheck]:
    """LB service listen port -> its health check."""
    lb = config.load_balancer
    if lb is None:
        return {}
    health = lb.health_check
    through_proxy = proxy_check_applies(config)
    tls_service = next((s for s in lb.services if s.destination_port == 443), lb.services[0])
    checks: dict[int, LbCheck] = {}
    for service in lb.services:
        if through_proxy is not None and service is tls_service:
            path = health.path if "path" in health.model_fields_set else through_proxy.path
            checks[service.listen_port] = LbCheck("http", PROXY_CHECK_PORT, through_proxy.domain, path, STATUS_2XX)
        elif health.protocol == "http" and health.port is not None:
            checks[service.listen_port] = LbCheck("http", health.port, None, health.path, STATUS_2XX)
        else:
            checks[service.listen_port] = LbCheck("tcp", health.port if health.port is not None else service.destination_port)
    return checks
