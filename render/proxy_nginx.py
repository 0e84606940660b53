"""nginx's site configuration and the entry scripts of the nginx and certbot containers, rendered from the
route model in render/proxy.py (Traefik's files are render/proxy_traefik.py)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from config.app import ProxyConfig
from config.schema import StackConfig
from render.blue_green import NGINX_LIVE_FILE, NGINX_LIVE_MOUNT, nginx_upstream_host
from render.proxy import Redirect, Route, certificates, load_balancer_ip
from spec.lb_checks import PROXY_CHECK_PORT, ProxyCheck

NGINX_LOCAL_PORT = 8443  # loopback-only listener without PROXY protocol (health checks behind an LB)
NGINX_CERT_ROOT = "/etc/letsencrypt"
CERTBOT_WEBROOT = "/var/www/certbot"


def nginx_cert_paths(fqdn: str) -> tuple[str, str]:
    return f"{NGINX_CERT_ROOT}/live/{fqdn}/fullchain.pem", f"{NGINX_CERT_ROOT}/live/{fqdn}/privkey.pem"


def nginx_site(stack: StackConfig, routes: list[Route], redirects: Sequence[Redirect] = (),
               check: ProxyCheck | None = None) -> str:
    """conf.d/default.conf (http context) for the official nginx image; nginx 1.22+ syntax."""
    proxy = stack.app.proxy
    lb_ip = load_balancer_ip(stack)
    listen_443 = [f"    listen 443 ssl http2{_pp(lb_ip)};"]
    if lb_ip:
        listen_443.append(f"    listen {NGINX_LOCAL_PORT} ssl http2;")
    out = _http_context(proxy, lb_ip, routes) + _default_servers(lb_ip)
    by_host: dict[str, list[Route]] = {}
    for route in routes:
        by_host.setdefault(route.fqdn, []).append(route)
    for fqdn, host_routes in by_host.items():
        out += _tls_server_head(proxy, listen_443, fqdn)
        out += ['    add_header X-Frame-Options "SAMEORIGIN" always;',
                '    add_header X-Content-Type-Options "nosniff" always;']
        if proxy.max_body_size:
            out.append(f"    client_max_body_size {proxy.max_body_size};")
        # Longest prefix first only for readability: nginx picks the longest matching prefix itself.
        for route in sorted(host_routes, key=lambda r: -len(r.path or "")):
            out += _nginx_location(stack, route)
        out.append("}")
    for redirect in redirects:
        out += _tls_server_head(proxy, listen_443, redirect.fqdn)
        out += [f"    return 301 https://{redirect.to_fqdn}$request_uri;", "}"]
    if check is not None:
        out += _lb_check_server(check, routes)
    return "\n".join(out) + "\n"


def _pp(lb_ip: str | None) -> str:
    """The listen parameter that accepts PROXY protocol, behind a load balancer that sends it."""
    return " proxy_protocol" if lb_ip else ""


def _http_context(proxy: ProxyConfig, lb_ip: str | None, routes: Sequence[Route]) -> list[str]:
    """The http-context lines before any server block: resolver, upgrade map, rate-limit zone, real IP."""
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
    return out


def _default_servers(lb_ip: str | None) -> list[str]:
    """Port 80 (ACME webroot, else a redirect to HTTPS) and the TLS default server refusing unknown hosts."""
    pp = _pp(lb_ip)
    out = [
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
    return [*out, "    ssl_reject_handshake on;", "}"]


def _tls_server_head(proxy: ProxyConfig, listen_443: list[str], fqdn: str) -> list[str]:
    """The opening of a host's TLS server block: listeners, certificate, protocols and HSTS (left open)."""
    fullchain, privkey = nginx_cert_paths(fqdn)
    out = ["", "server {", *listen_443, f"    server_name {fqdn};",
           f"    ssl_certificate {fullchain};", f"    ssl_certificate_key {privkey};",
           "    ssl_protocols TLSv1.2 TLSv1.3;",
           "    ssl_session_cache shared:hp_ssl:10m;"]
    if proxy.hsts_seconds:
        out.append(f'    add_header Strict-Transport-Security "max-age={proxy.hsts_seconds}" always;')
    return out


def _lb_check_server(check: ProxyCheck, routes: Sequence[Route]) -> list[str]:
    """The load balancer's HTTP check: plain HTTP, no PROXY protocol, published on the private address only."""
    upstream = nginx_upstream_host(check.service, _is_blue_green(routes, check.service))
    return [
        "",
        "# The load balancer's HTTP check: plain HTTP, no PROXY protocol, published on the private address only.",
        "server {",
        f"    listen {PROXY_CHECK_PORT};",
        f"    server_name {check.domain};",
        f"    location = {check.path.split('?')[0]} {{",
        f"        set $hp_upstream http://{upstream}:{check.port};",
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
