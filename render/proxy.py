"""Reverse proxy config: Traefik (default) or nginx + certbot, from the exposed services.

Both terminate TLS with Let's Encrypt certificates (HTTP-01, or DNS-01 with the Cloudflare token when a
host is Cloudflare-proxied or the proxy runs on several servers), redirect HTTP to HTTPS, send HSTS and
seed 000's security headers, rate-limit public routes, restrict admin-only routes to ssh.adminCidrs and
accept PROXY protocol only from the load balancer's private address.

Secrets never appear in these files: Traefik reads basic-auth lines through Go templates
(`{{ env "NAME" }}`) and nginx writes its htpasswd files from the environment at start.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from config.app_service import ServiceConfig
from config.app_values import CLOUDFLARE_TOKEN_SECRET
from config.deploy_strategy import strategy_of
from config.schema import StackConfig
from config.stack_views import service_fqdn
from render.blue_green import NGINX_LIVE_FILE, NGINX_LIVE_MOUNT, nginx_upstream_host
from spec.lb_checks import PROXY_CHECK_PORT, ProxyCheck, proxy_check_applies
from spec.resources import lb_private_ip, lb_targets
from spec.service_homes import acme_challenge

ACME_DIR = "/letsencrypt"  # Traefik's ACME storage inside the container
NGINX_LOCAL_PORT = 8443  # loopback-only listener without PROXY protocol (health checks behind an LB)
NGINX_CERT_ROOT = "/etc/letsencrypt"
CERTBOT_WEBROOT = "/var/www/certbot"


@dataclass(frozen=True)
class Route:
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


# --- Traefik -----------------------------------------------------------------------------------

def traefik_static(stack: StackConfig, routes: list[Route], redirects: Sequence[Redirect] = (),
                   check: ProxyCheck | None = None) -> str:
    proxy = stack.app.proxy
    lb_ip = load_balancer_ip(stack)
    web: dict[str, object] = {
        "address": ":80",
        "http": {"redirections": {"entryPoint": {"to": "websecure", "scheme": "https", "permanent": True}}},
    }
    websecure: dict[str, object] = {"address": ":443"}
    if lb_ip:
        web["proxyProtocol"] = {"trustedIPs": [f"{lb_ip}/32"]}
        websecure["proxyProtocol"] = {"trustedIPs": [f"{lb_ip}/32"]}
    document: dict[str, object] = {
        "global": {"checkNewVersion": False, "sendAnonymousUsage": False},
        "log": {"level": "INFO"},
        "accessLog": {},
        "ping": {"entryPoint": "ping"},
        "entryPoints": {"web": web, "websecure": websecure, "ping": {"address": "127.0.0.1:8082"}},
        "providers": {"file": {"directory": "/etc/traefik/dynamic", "watch": True}},
    }
    if check is not None:
        # The load balancer's HTTP check: plain HTTP, no PROXY protocol, published on the private address only.
        document["entryPoints"]["lbcheck"] = {"address": f":{PROXY_CHECK_PORT}"}  # type: ignore[index]
    challenges = set(certificates(routes, redirects).values())
    if proxy.acme and routes:
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
        document["certificatesResolvers"] = resolvers
    header = "# Traefik static configuration, rendered by hetzner-platform. Do not edit on the host.\n"
    return header + yaml.safe_dump(document, sort_keys=False)


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


def traefik_dynamic(stack: StackConfig, routes: list[Route], redirects: Sequence[Redirect] = (),
                    check: ProxyCheck | None = None) -> str:
    proxy = stack.app.proxy
    middlewares: dict[str, object] = {}
    headers: dict[str, object] = {"customFrameOptionsValue": "SAMEORIGIN", "contentTypeNosniff": True}
    if proxy.hsts_seconds:
        headers["stsSeconds"] = proxy.hsts_seconds
    middlewares["security-headers"] = {"headers": headers}
    if proxy.rate_limit is not None:
        middlewares["rate-limit"] = {"rateLimit": {
            "average": proxy.rate_limit.average, "burst": proxy.rate_limit.burst, "period": "1s",
        }}
    if any(route.admin_only for route in routes):
        middlewares["admin-allowlist"] = {"ipAllowList": {"sourceRange": list(stack.ssh.admin_cidrs)}}
    routers: dict[str, object] = {}
    services: dict[str, object] = {}
    for route in routes:
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
        tls: dict[str, object] = {}
        if proxy.acme:
            tls["certResolver"] = "le-dns" if route.challenge == "dns-01" else "le-http"
        routers[route.name or route.service] = {
            "rule": _rule(route),
            "entryPoints": ["websecure"],
            "service": route.service,
            "middlewares": chain,
            "tls": tls,
        }
        if not route.blue_green:  # a blue-green service is defined by the live colour's live.yml
            services[route.service] = {"loadBalancer": {"servers": [{"url": f"http://{route.service}:{route.port}"}]}}
    for redirect in redirects:
        middlewares[redirect.name] = _redirect_regex(redirect)
        tls = {"certResolver": "le-dns" if redirect.challenge == "dns-01" else "le-http"} if proxy.acme else {}
        routers[redirect.name] = {
            "rule": f"Host(`{redirect.fqdn}`)",
            "entryPoints": ["websecure"],
            "service": "noop@internal",  # the middleware answers; Traefik's built-in no-op service
            "middlewares": ["security-headers", redirect.name],
            "tls": tls,
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


# --- nginx ------------------------------------------------------------------------------------

def nginx_cert_paths(fqdn: str) -> tuple[str, str]:
    return f"{NGINX_CERT_ROOT}/live/{fqdn}/fullchain.pem", f"{NGINX_CERT_ROOT}/live/{fqdn}/privkey.pem"


def nginx_site(stack: StackConfig, routes: list[Route], redirects: Sequence[Redirect] = (),
               check: ProxyCheck | None = None) -> str:
    """conf.d/default.conf (http context) for the official nginx image; nginx 1.22+ syntax."""
    proxy = stack.app.proxy
    lb_ip = load_balancer_ip(stack)
    pp = " proxy_protocol" if lb_ip else ""
    out = [
        "# nginx site configuration, rendered by hetzner-platform. Do not edit on the host.",
        "server_tokens off;",
        "# Docker's embedded DNS: upstreams are resolved per request, so a recreated container is found again.",
        "resolver 127.0.0.11 valid=30s ipv6=off;",
        "map $http_upgrade $connection_upgrade {",
        "    default upgrade;",
        "    ''      close;",
        "}",
    ]
    if proxy.rate_limit is not None:
        out += [
            f"limit_req_zone $binary_remote_addr zone=hp_public:10m rate={proxy.rate_limit.average}r/s;",
            "limit_req_status 429;",
        ]
    if lb_ip:
        out += [f"set_real_ip_from {lb_ip}/32;", "real_ip_header proxy_protocol;"]
    if any(route.blue_green for route in routes):
        out += [
            "# The live colour of the blue-green services (the deploy switches it, then reloads nginx).",
            f"include {NGINX_LIVE_MOUNT}/{NGINX_LIVE_FILE};",
        ]
    listen_443 = [f"    listen 443 ssl http2{pp};"]
    if lb_ip:
        listen_443.append(f"    listen {NGINX_LOCAL_PORT} ssl http2;")
    out += [
        "",
        "server {",
        f"    listen 80 default_server{pp};",
        "    server_name _;",
        "    location /.well-known/acme-challenge/ {",
        f"        root {CERTBOT_WEBROOT};",
        "    }",
        "    location / {",
        "        return 301 https://$host$request_uri;",
        "    }",
        "}",
        "",
        "# Unknown host names get no certificate at all.",
        "server {",
        f"    listen 443 ssl http2 default_server{pp};",
    ]
    if lb_ip:
        out.append(f"    listen {NGINX_LOCAL_PORT} ssl http2 default_server;")
    out += ["    ssl_reject_handshake on;", "}"]
    by_host: dict[str, list[Route]] = {}
    for route in routes:
        by_host.setdefault(route.fqdn, []).append(route)
    for fqdn, host_routes in by_host.items():
        fullchain, privkey = nginx_cert_paths(fqdn)
        out += ["", "server {", *listen_443, f"    server_name {fqdn};",
                f"    ssl_certificate {fullchain};", f"    ssl_certificate_key {privkey};",
                "    ssl_protocols TLSv1.2 TLSv1.3;",
                "    ssl_session_cache shared:hp_ssl:10m;"]
        if proxy.hsts_seconds:
            out.append(f'    add_header Strict-Transport-Security "max-age={proxy.hsts_seconds}" always;')
        out += ['    add_header X-Frame-Options "SAMEORIGIN" always;',
                '    add_header X-Content-Type-Options "nosniff" always;']
        if proxy.max_body_size:
            out.append(f"    client_max_body_size {proxy.max_body_size};")
        # Longest prefix first only for readability: nginx picks the longest matching prefix itself.
        for route in sorted(host_routes, key=lambda r: -len(r.path or "")):
            out += _nginx_location(stack, route)
        out.append("}")
    for redirect in redirects:
        fullchain, privkey = nginx_cert_paths(redirect.fqdn)
        out += ["", "server {", *listen_443, f"    server_name {redirect.fqdn};",
                f"    ssl_certificate {fullchain};", f"    ssl_certificate_key {privkey};",
                "    ssl_protocols TLSv1.2 TLSv1.3;",
                "    ssl_session_cache shared:hp_ssl:10m;"]
        if proxy.hsts_seconds:
            out.append(f'    add_header Strict-Transport-Security "max-age={proxy.hsts_seconds}" always;')
        out += [f"    return 301 https://{redirect.to_fqdn}$request_uri;", "}"]
    if check is not None:
        out += [
            "",
            "# The load balancer's HTTP check: plain HTTP, no PROXY protocol, published on the private address only.",
            "server {",
            f"    listen {PROXY_CHECK_PORT};",
            f"    server_name {check.domain};",
            f"    location = {check.path.split('?')[0]} {{",
            f"        set $hp_upstream http://{nginx_upstream_host(check.service, _is_blue_green(routes, check.service))}:{check.port};",
            "        proxy_pass $hp_upstream;",
            "        proxy_set_header Host $host;",
            "        proxy_connect_timeout 5s;",
            "        proxy_read_timeout 10s;",
            "    }",
            "    location / {",
            "        return 404;",
            "    }",
            "}",
        ]
    return "\n".join(out) + "\n"


def _is_blue_green(routes: Sequence[Route], service: str) -> bool:
    return any(route.blue_green for route in routes if route.service == service)


def _nginx_location(stack: StackConfig, route: Route) -> list[str]:
    proxy = stack.app.proxy
    lines = [f"    location {route.path or '/'} {{"]
    if route.admin_only:
        lines += [f"        allow {cidr};" for cidr in stack.ssh.admin_cidrs]
        lines.append("        deny all;")
    elif proxy.rate_limit is not None:
        lines.append(f"        limit_req zone=hp_public burst={proxy.rate_limit.burst} nodelay;")
    if route.basic_auth_secret:
        lines += ['        auth_basic "restricted";', f"        auth_basic_user_file /etc/nginx/htpasswd/{route.service};"]
    lines.append(f"        set $hp_upstream http://{nginx_upstream_host(route.service, route.blue_green)}:{route.port};")
    if route.path and route.strip_prefix:
        lines.append(f"        rewrite ^{route.path}/?(.*)$ /$1 break;")
    lines += [
        "        proxy_pass $hp_upstream;",
        "        proxy_http_version 1.1;",
        "        proxy_set_header Upgrade $http_upgrade;",
        "        proxy_set_header Connection $connection_upgrade;",
        "        proxy_set_header Host $host;",
        "        proxy_set_header X-Real-IP $remote_addr;",
        "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "        proxy_set_header X-Forwarded-Proto $scheme;",
        "        proxy_connect_timeout 60s;",
        "        proxy_send_timeout 60s;",
        "        proxy_read_timeout 60s;",
        "    }",
    ]
    return lines


def nginx_start_script(routes: list[Route]) -> str:
    """PID 1 of the nginx container: htpasswd files from the environment, nginx, reload on new certs."""
    lines = [
        "#!/bin/sh",
        "# nginx container entry (rendered by hetzner-platform): writes htpasswd files from the environment,",
        "# runs nginx and reloads it when a certificate under /etc/letsencrypt/live changes.",
        "set -eu",
        "mkdir -p /etc/nginx/htpasswd",
    ]
    for route in routes:
        if route.basic_auth_secret:
            target = f"/etc/nginx/htpasswd/{route.service}"
            lines += [
                f'( umask 027; printf \'%s\\n\' "${{{route.basic_auth_secret}:?}}" > {target} )',
                f"chgrp nginx {target}",
            ]
    lines += [
        "touch /tmp/hp-cert-stamp",
        "nginx -g 'daemon off;' &",
        "pid=$!",
        "trap 'kill -TERM \"$pid\" 2>/dev/null; wait \"$pid\"; exit 0' TERM INT",
        "while kill -0 \"$pid\" 2>/dev/null; do",
        "    sleep 60 &",
        "    wait $! || true",
        "    if [ -n \"$(find -L /etc/letsencrypt/live -name '*.pem' -newer /tmp/hp-cert-stamp 2>/dev/null | head -n 1)\" ]; then",
        "        touch /tmp/hp-cert-stamp",
        "        nginx -s reload || true",
        "    fi",
        "done",
        "wait \"$pid\"",
    ]
    return "\n".join(lines) + "\n"


def certbot_script(stack: StackConfig, routes: list[Route], redirects: Sequence[Redirect] = ()) -> str:
    """PID 1 of the certbot container: obtain each host's certificate once, then renew twice a day."""
    wanted = certificates(routes, redirects)
    hosts = sorted(wanted)
    dns_hosts = sorted(host for host, challenge in wanted.items() if challenge == "dns-01")
    lines = [
        "#!/bin/sh",
        "# certbot container entry (rendered by hetzner-platform).",
        "# live/<host> starts as a link to a self-signed placeholder made by the deploy step, so nginx can",
        "# start; the first successful certbot run replaces it with the real certificate.",
        "set -eu",
        f"EMAIL={shlex.quote(stack.app.acme_email or '')}",
        f"HOSTS={shlex.quote(' '.join(hosts))}",
        f"DNS_HOSTS={shlex.quote(' '.join(dns_hosts))}",
        f"LE={NGINX_CERT_ROOT}",
    ]
    if dns_hosts:
        lines += [
            "( umask 077; printf 'dns_cloudflare_api_token = %s\\n' \"${CF_DNS_API_TOKEN:?}\" > /tmp/cloudflare.ini )",
        ]
    lines += [
        "trap 'exit 0' TERM INT",
        "while :; do",
        "    for host in $HOSTS; do",
        "        [ -f \"$LE/renewal/$host.conf\" ] && continue",
        "        case \" $DNS_HOSTS \" in",
        "            *\" $host \"*) set -- --dns-cloudflare --dns-cloudflare-credentials /tmp/cloudflare.ini ;;",
        f"            *) set -- --webroot -w {CERTBOT_WEBROOT} ;;",
        "        esac",
        "        [ -L \"$LE/live/$host\" ] && rm \"$LE/live/$host\"",
        "        if ! certbot certonly --non-interactive --agree-tos --email \"$EMAIL\" --cert-name \"$host\" -d \"$host\" \"$@\"; then",
        "            echo \"certbot: no certificate for $host yet; keeping the self-signed placeholder\" >&2",
        "            [ -e \"$LE/live/$host\" ] || ln -s \"../selfsigned/$host\" \"$LE/live/$host\"",
        "        fi",
        "    done",
        "    certbot renew --quiet || true",
        "    sleep 43200 &",
        "    wait $! || true",
        "done",
    ]
    return "\n".join(lines) + "\n"
