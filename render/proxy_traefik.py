"""Traefik's static configuration (entry points, ACME resolvers) and its dynamic file-provider configuration
(routers, services, middlewares), rendered from the route model in render/proxy.py."""

from __future__ import annotations

import re
from collections.abc import Sequence

import yaml

from config.app import ProxyConfig
from config.schema import StackConfig
from render.blue_green import TRAEFIK_DYNAMIC_DIR
from render.proxy import Redirect, Route, certificates, load_balancer_ip
from spec.lb_checks import PROXY_CHECK_PORT, ProxyCheck

ACME_DIR = "/letsencrypt"  # Traefik's ACME storage inside the container


def traefik_static(stack: StackConfig, routes: list[Route], redirects: Sequence[Redirect] = (),
                   check: ProxyCheck | None = None) -> str:
    lb_ip = load_balancer_ip(stack)
    web: dict[str, object] = {
        "address": ":80",
        "http": {"redirections": {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}}},
    }
    websecure: dict[str, object] = {"address": ":443"}
    if lb_ip:
        web["proxyProtocol"] = {"trustedIPs": [f"{lb_ip}/32"]}
        websecure["proxyProtocol"] = {"trustedIPs": [f"{lb_ip}/32"]}
    entry_points: dict[str, object] = {"web": web, "websecure": websecure, "ping": {"address": "127.0.0.1:8082"}}
    if check is not None:
        # The load balancer's HTTP check: plain HTTP, no PROXY protocol, published on the private address only.
        entry_points["lbcheck"] = {"address": f":{PROXY_CHECK_PORT}"}
    document: dict[str, object] = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "log": {"level": "INFO"},
        "accessLog": {},
        "ping": {"entryPoint": "ping"},
        "entryPoints": entry_points,
        "providers": {"file": {"directory": TRAEFIK_DYNAMIC_DIR, "watch": True}},  # where compose mounts the files
    }
    if stack.app.proxy.acme and routes:
        document["certificatesResolvers"] = _acme_resolvers(stack, set(certificates(routes, redirects).values()))
    header = "# Traefik static configuration, rendered by hetzner-platform. Do not edit on the host.\n"
    return header + yaml.safe_dump(document, sort_keys=False)


def _acme_resolvers(stack: StackConfig, challenges: set[str]) -> dict[str, object]:
    """One Let's Encrypt resolver per challenge type in use: le-http (HTTP-01) and le-dns (Cloudflare DNS-01)."""
    resolvers: dict[str, object] = {}
    if "http-01" in challenges:
        resolvers["le-http"] = {"acme": {
            "email": stack.app.acme_email,
            "storage": f"{ACME_DIR}/acme-http.json",
            "httpChallenge": {"entryPoint": "web"},
        }}
    if "dns-01" in challenges:
        resolvers["le-dns"] = {"acme": {
            "email": stack.app.acme_email,
            "storage": f"{ACME_DIR}/acme-dns.json",
            "dnsChallenge": {"provider": "cloudflare", "resolvers": ["1.1.1.1:53", "1.0.0.1:53"]},
        }}
    return resolvers


def traefik_dynamic(stack: StackConfig, routes: list[Route], redirects: Sequence[Redirect] = (),
                    check: ProxyCheck | None = None) -> str:
    proxy = stack.app.proxy
    middlewares = _shared_middlewares(stack, routes)
    routers: dict[str, object] = {}
    services: dict[str, object] = {}
    for route in routes:
        routers[route.name or route.service] = _route_router(proxy, route, middlewares)
        if not route.blue_green:  # a blue-green service is defined by the live colour's live.yml
            services[route.service] = {"loadBalancer": {"servers": [{"url": f"http://{route.service}:{route.port}"}]}}
    for redirect in redirects:
        middlewares[redirect.name] = _redirect_regex(redirect)
        routers[redirect.name] = {
            "rule": f"Host(`{redirect.fqdn}`)",
            "entryPoints": ["websecure"],
            "service": "noop@internal",  # the middleware answers; Traefik's built-in no-op service
            "middlewares": ["security-headers", redirect.name],
            "tls": _tls(proxy, redirect.challenge),
        }
    if check is not None:
        routers["lb-health"] = {
            "rule": f"Host(`{check.domain}`) && Path(`{check.path.split('?')[0]}`)",
            "entryPoints": ["lbcheck"],
            "service": check.service,
            "middlewares": ["security-headers"],
        }
    document = {
        "http": {"routers": routers, "services": services, "middlewares": middlewares},
        "tls": {"options": {"default": {"minVersion": "VersionTLS12"}}},
    }
    header = "# Traefik dynamic configuration (file provider), rendered by hetzner-platform.\n"
    return header + yaml.safe_dump(document, sort_keys=False)


def _shared_middlewares(stack: StackConfig, routes: Sequence[Route]) -> dict[str, object]:
    """Security headers (every router), the public rate limit and the admin allow-list (when in use)."""
    proxy = stack.app.proxy
    headers: dict[str, object] = {"customFrameOptionsValue": "SAMEORIGIN", "contentTypeNosniff": True}
    if proxy.hsts_seconds:
        headers["stsSeconds"] = proxy.hsts_seconds
    middlewares: dict[str, object] = {"security-headers": {"headers": headers}}
    if proxy.rate_limit is not None:
        middlewares["rate-limit"] = {"rateLimit": {
            "average": proxy.rate_limit.average, "burst": proxy.rate_limit.burst, "period": "1s",
        }}
    if any(route.admin_only for route in routes):
        middlewares["admin-allowlist"] = {"ipAllowList": {"sourceRange": list(stack.ssh.admin_cidrs)}}
    return middlewares


def _route_router(proxy: ProxyConfig, route: Route, middlewares: dict[str, object]) -> dict[str, object]:
    """The router of one route; adds the route's own middlewares (basic auth, prefix strip) to `middlewares`."""
    chain = ["security-headers"]
    if route.admin_only:
        chain.append("admin-allowlist")
    elif proxy.rate_limit is not None:
        chain.append("rate-limit")
    if route.basic_auth_secret:
        middlewares[f"{route.service}-auth"] = {"basicAuth": {
            # Go template evaluated by Traefik's file provider: the htpasswd line stays in the env file.
            "users": [f'{{{{ env "{route.basic_auth_secret}" }}}}'],
            "removeHeader": True,
        }}
        chain.append(f"{route.service}-auth")
    if route.path and route.strip_prefix:
        middlewares[f"{route.service}-strip"] = {"stripPrefix": {"prefixes": [route.path]}}
        chain.append(f"{route.service}-strip")
    return {
        "rule": _rule(route),
        "entryPoints": ["websecure"],
        "service": route.service,
        "middlewares": chain,
        "tls": _tls(proxy, route.challenge),
    }


def _tls(proxy: ProxyConfig, challenge: str) -> dict[str, object]:
    """A router's TLS section: the ACME resolver of its host's challenge (empty without ACME)."""
    if not proxy.acme:
        return {}
    return {"certResolver": "le-dns" if challenge == "dns-01" else "le-http"}


def _redirect_regex(redirect: Redirect) -> dict[str, object]:
    # Traefik matches the regex against the full request URL (scheme://host[:port]/path?query).
    return {"redirectRegex": {
        "regex": f"^https?://{re.escape(redirect.fqdn)}(?::[0-9]+)?/(.*)",
        "replacement": f"https://{redirect.to_fqdn}/${{1}}",
        "permanent": True,
    }}


def _rule(route: Route) -> str:
    rule = f"Host(`{route.fqdn}`)"
    if route.path:
        rule += f" && PathPrefix(`{route.path}`)"
    return rule
