"""Reverse proxy config: Traefik (default) or nginx + certbot, from the exposed services.

Both terminate TLS with Let's Encrypt certificates (HTTP-01, or DNS-01 with the Cloudflare token when a
host is Cloudflare-proxied or the proxy runs on several servers), redirect HTTP to HTTPS, send HSTS and
seed 000's (the MVP setup, docs/sources.md) security headers, rate-limit public routes, restrict admin-only routes to ssh.adminCidrs and
accept PROXY protocol only from the load balancer's private address.

Secrets never appear in these files: Traefik reads basic-auth lines through Go templates
(`{{ env "NAME" }}`) and nginx writes its htpasswd files from the environment at start.

This module holds the route model both proxies are rendered from (routes, redirects, certificates);
render/proxy_traefik.py writes Traefik's files, render/proxy_nginx.py nginx's and certbot's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from config.app_service import ServiceConfig
from config.app_values import CLOUDFLARE_TOKEN_SECRET
from config.deploy_strategy import strategy_of
from config.schema import StackConfig
from config.stack_views import service_fqdn
from spec.lb_checks import ProxyCheck, proxy_check_applies
from spec.resources import lb_private_ip, lb_targets
from spec.service_homes import acme_challenge


@dataclass(frozen=True)
class Route:
    """One host (and optional path prefix) the proxy forwards to an exposed service."""

    service: str
    host: str  # as configured ("@", "api", ...)
    fqdn: str
    path: str | None
    port: int
    strip_prefix: bool
    admin_only: bool
    basic_auth_secret: str | None
    challenge: str  # "http-01" | "dns-01"
    name: str = ""  # Traefik router name: the service for its first host, then <service>-<n>
    blue_green: bool = False  # the proxy reaches it as <service>-<live colour> (render/blue_green.py)


@dataclass(frozen=True)
class Redirect:
    """https://<fqdn>/... -> https://<to_fqdn>/... (permanent), with its own certificate."""

    fqdn: str
    to_fqdn: str
    challenge: str

    @property
    def name(self) -> str:
        return "redirect-" + self.fqdn.replace(".", "-")


def certificates(routes: Sequence[Route], redirects: Sequence[Redirect] = ()) -> dict[str, str]:
    """Every host the proxy needs a certificate for -> its ACME challenge (routes first, then redirects)."""
    found: dict[str, str] = {}
    for route in routes:
        found.setdefault(route.fqdn, route.challenge)
    for redirect in redirects:
        found.setdefault(redirect.fqdn, redirect.challenge)
    return found


def routes_for(stack: StackConfig, services: dict[str, ServiceConfig]) -> list[Route]:
    routes = []
    for name, service in services.items():
        expose = service.expose
        if expose is None:
            continue
        for index, host in enumerate(expose.names):
            routes.append(Route(
                service=name,
                host=host,
                fqdn=service_fqdn(stack, host),
                path=expose.path,
                port=expose.port,
                strip_prefix=expose.strip_prefix,
                admin_only=service.admin_only,
                basic_auth_secret=expose.basic_auth_secret,
                challenge=acme_challenge(stack, host),
                name=name if index == 0 else f"{name}-{index + 1}",
                blue_green=strategy_of(service) == "blue-green",
            ))
    return routes


def redirects_for(stack: StackConfig) -> list[Redirect]:
    """app.redirects, for every proxy of the stack (each proxy answers every host it has routes for)."""
    return [
        Redirect(service_fqdn(stack, redirect.from_), service_fqdn(stack, redirect.to), acme_challenge(stack, redirect.from_))
        for redirect in stack.app.redirects
    ]


def lb_check_for(stack: StackConfig, server: str) -> ProxyCheck | None:
    """The load balancer's HTTP check this server's proxy answers on PROXY_CHECK_PORT (LB targets only)."""
    check = proxy_check_applies(stack)
    if check is None or server not in lb_targets(stack):
        return None
    return check


def load_balancer_ip(stack: StackConfig) -> str | None:
    """The LB's private address when it sends PROXY protocol to this stack's proxy."""
    lb = stack.load_balancer
    if lb is None or not any(service.proxy_protocol for service in lb.services):
        return None
    return lb_private_ip(stack)


def proxy_secret_names(stack: StackConfig, routes: list[Route], redirects: Sequence[Redirect] = ()) -> list[str]:
    names = {route.basic_auth_secret for route in routes if route.basic_auth_secret}
    if stack.app.proxy.acme and "dns-01" in certificates(routes, redirects).values():
        names.add(CLOUDFLARE_TOKEN_SECRET)
    return sorted(name for name in names if name)
