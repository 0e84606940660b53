"""Reverse proxy config: Traefik files by structure, nginx by the real `nginx -t` and a live nginx.

nginx runs in private namespaces only: a mount namespace where /etc is an overlay (upper dir on a
tmpfs) so /etc/letsencrypt can hold throwaway self-signed certificates (in its own tmpfs) and a fake
/etc/hosts can be bind-mounted; the live test adds a private network namespace with only `lo`.
The real /etc, /etc/hosts and the host network are never touched.
"""

from __future__ import annotations

import copy
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.deploy_strategy import colour_alias
from config.schema import StackConfig
from render import proxy_nginx
from render.blue_green import DEFAULT_COLOUR, NGINX_LIVE_FILE, NGINX_LIVE_MOUNT, nginx_live_conf
from render.compose import render_compose
from spec.resources import resolve
from tests.prerequisites import require_tool, tool_path
from tests.stacks import EXAMPLES, PRIVATE_NETWORK, app_stack, phase2_app_stack, preset_config, small_app

from .conftest import load


def traefik_files(config: StackConfig, server: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    render = render_compose(config, server)
    static = next(c for p, c in render.files.items() if p.endswith("/traefik.yml"))
    dynamic = next(c for p, c in render.files.items() if p.endswith("/app.yml"))
    return yaml.safe_load(static), yaml.safe_load(dynamic), render.model["services"]["traefik"]


def test_traefik_seed_000_headers_rate_limit_redirect_and_admin_allowlist() -> None:
    config = preset_config(EXAMPLES / "Pulumi.fastapi-celery.yaml")
    static, dynamic, service = traefik_files(config, "app")
    assert static["entryPoints"]["web"]["http"]["redirections"]["entryPoint"] == {
        "to": "websecure", "scheme": "https", "permanent": True}
    assert "proxyProtocol" not in static["entryPoints"]["websecure"]  # no load balancer in this stack
    assert set(static["certificatesResolvers"]) == {"le-http"}
    assert static["certificatesResolvers"]["le-http"]["acme"]["httpChallenge"] == {"entryPoint": "web"}
    middlewares = dynamic["http"]["middlewares"]
    assert middlewares["security-headers"]["headers"] == {
        "stsSeconds": 31536000, "customFrameOptionsValue": "SAMEORIGIN", "contentTypeNosniff": True}
    assert middlewares["rate-limit"]["rateLimit"] == {"average": 10, "burst": 20, "period": "1s"}
    assert middlewares["admin-allowlist"]["ipAllowList"]["sourceRange"] == ["203.0.113.0/24"]
    routers = dynamic["http"]["routers"]
    assert routers["api"]["rule"] == "Host(`api.yourdomain.com`)"
    assert routers["api"]["middlewares"] == ["security-headers", "rate-limit"]
    assert routers["flower"]["middlewares"] == ["security-headers", "admin-allowlist"]
    assert all(router["tls"] == {"certResolver": "le-http"} for router in routers.values())
    # flower deploys blue-green: its service lives in the live colour's file, not in app.yml.
    assert "flower" not in dynamic["http"]["services"]
    live = yaml.safe_load(render_compose(config, "app").live_files["proxy-live-blue"])
    assert live["http"]["services"]["flower"]["loadBalancer"]["servers"] == [{"url": "http://flower-blue:5555"}]
    assert dynamic["tls"]["options"]["default"]["minVersion"] == "VersionTLS12"
    assert service["ports"] == ["80:80", "443:443"]
    assert "environment" not in service  # HTTP-01: no Cloudflare token in the proxy


def test_traefik_behind_the_load_balancer_trusts_only_its_private_ip_and_uses_dns01() -> None:
    config = preset_config(EXAMPLES / "Pulumi.chrono-single.yaml")
    lb = resolve(config).load_balancer
    assert lb is not None and lb.private_ip
    static, dynamic, service = traefik_files(config, "app")
    for entry_point in ("web", "websecure"):
        assert static["entryPoints"][entry_point]["proxyProtocol"] == {"trustedIPs": [f"{lb.private_ip}/32"]}
    assert static["certificatesResolvers"]["le-dns"]["acme"]["dnsChallenge"]["provider"] == "cloudflare"
    assert "le-http" not in static["certificatesResolvers"]
    assert service["environment"] == {"CF_DNS_API_TOKEN": "${CF_DNS_API_TOKEN:?secret CF_DNS_API_TOKEN is not set}"}
    routers = dynamic["http"]["routers"]
    assert routers["backend"]["rule"] == "Host(`chronoscraper.com`) && PathPrefix(`/api`)"
    assert routers["frontend"]["rule"] == "Host(`chronoscraper.com`)"


def test_traefik_basic_auth_reads_the_htpasswd_line_from_the_environment() -> None:
    values = app_stack(small_app())
    values["app"]["services"]["api"]["expose"]["basicAuthSecret"] = "API_HTPASSWD"
    config = load(values)
    _, dynamic, service = traefik_files(config, "app")
    assert dynamic["http"]["middlewares"]["api-auth"]["basicAuth"]["users"] == ['{{ env "API_HTPASSWD" }}']
    assert service["environment"]["API_HTPASSWD"].startswith("${API_HTPASSWD:?")


def test_traefik_on_several_web_servers_uses_dns01() -> None:
    values = phase2_app_stack()
    values["servers"]["web2"] = {"serverType": "cx43", "roles": ["web"]}
    config = load(values)
    static, _, _ = traefik_files(config, "web2")
    assert set(static["certificatesResolvers"]) == {"le-dns"}


# --- nginx ----------------------------------------------------------------------------------------

NGINX_WRAPPER = """
pid {p}/nginx.pid;
error_log {p}/error.log;
events {{ worker_connections 64; }}
http {{
    include /etc/nginx/mime.types;
    access_log {p}/access.log;
    client_body_temp_path {p}/tmp/body;
    proxy_temp_path {p}/tmp/proxy;
    fastcgi_temp_path {p}/tmp/fastcgi;
    uwsgi_temp_path {p}/tmp/uwsgi;
    scgi_temp_path {p}/tmp/scgi;
    include {p}/site.conf;
}}
"""

NAMESPACE_SETUP = """
set -euo pipefail
P={p}
mount -t tmpfs tmpfs "$P/ovl"
mkdir "$P/ovl/upper" "$P/ovl/work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$P/ovl/upper,workdir=$P/ovl/work" /etc
mkdir -p /etc/letsencrypt
mount -t tmpfs tmpfs /etc/letsencrypt
for host in {hosts}; do
    mkdir -p "/etc/letsencrypt/live/$host"
    cp "$P/cert.pem" "/etc/letsencrypt/live/$host/fullchain.pem"
    cp "$P/key.pem" "/etc/letsencrypt/live/$host/privkey.pem"
done
mount --bind "$P/hosts" /etc/hosts
mkdir -p LIVE_DIR
cp "$P/live.conf" LIVE_DIR/LIVE_FILE
""".replace("LIVE_DIR", NGINX_LIVE_MOUNT).replace("LIVE_FILE", NGINX_LIVE_FILE)


def _prepare(site: str, hosts: list[str], services: list[str], tmp: Path) -> Path:
    require_tool("nginx", "unshare")
    for sub in ("ovl", "tmp"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    (tmp / "site.conf").write_text(site)
    (tmp / "nginx.conf").write_text(NGINX_WRAPPER.format(p=tmp))
    # Blue-green services are reached as <service>-<live colour>; the deploy writes the live file.
    names = [name for service in services for name in (service, colour_alias(service, DEFAULT_COLOUR))]
    (tmp / "hosts").write_text(f"127.0.0.1 localhost {' '.join(names)}\n")
    (tmp / "live.conf").write_text(nginx_live_conf(DEFAULT_COLOUR))
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=hp-test", "-days", "2",
         "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem")],
        check=True, capture_output=True,
    )
    return tmp


def nginx_t(site: str, hosts: list[str], services: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    p = _prepare(site, hosts, services, tmp)
    script = NAMESPACE_SETUP.format(p=shlex.quote(str(p)), hosts=" ".join(map(shlex.quote, hosts)))
    script += 'nginx -t -q -p "$P/" -e "$P/error.log" -c "$P/nginx.conf"\n'
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", script],
                          capture_output=True, text=True, timeout=60)


# For the live checks: a stub backend on 127.0.0.1:8000 that answers /health, and nginx in front of it.
STUB_BACKEND_AND_NGINX = r"""
ip link set lo up
mkdir -p "$P/www" && echo ok > "$P/www/health"
(cd "$P/www" && exec python3 -m http.server 8000 --bind 127.0.0.1 >/dev/null 2>&1) &
nginx -p "$P/" -e "$P/error.log" -c "$P/nginx.conf"
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:8000/health && break; sleep 0.1; done
"""


def live_nginx(site: str, hosts: list[str], services: list[str], tmp: Path, checks: str) -> dict[str, str]:
    """Serve `site` with the real nginx in private mount, network and PID namespaces and run the bash
    `checks` there ($P: nginx's prefix, `tmp`; they start nginx, this stops it); each output line
    `name rest` comes back as {name: rest}."""
    require_tool("curl")
    p = _prepare(site, hosts, services, tmp)
    script = NAMESPACE_SETUP.format(p=shlex.quote(str(p)), hosts=" ".join(map(shlex.quote, hosts))) + checks
    script += 'nginx -p "$P/" -e "$P/error.log" -c "$P/nginx.conf" -s stop\n'
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "--net", "--pid", "--fork", "--mount-proc",
                           "bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)


def nginx_stack(lb: bool = False) -> StackConfig:
    app = small_app(proxy={"kind": "nginx", "rateLimit": {"average": 5, "burst": 5}, "maxBodySize": "2G"})
    app["services"]["flower"] = {
        "image": "mher/flower:2.0", "expose": {"port": 5555, "host": "flower"}, "adminOnly": True,
        "limits": {"cpus": 0.25, "memory": "256M"},
    }
    app["services"]["docs"] = {
        "image": "nginx:1.27-alpine", "expose": {"port": 80, "host": "api", "path": "/docs", "stripPrefix": True,
                                                 "basicAuthSecret": "DOCS_HTPASSWD"},
        "limits": {"cpus": 0.25, "memory": "64M"},
    }
    values = app_stack(app)
    if lb:
        values["network"] = copy.deepcopy(PRIVATE_NETWORK)
        values["loadBalancer"] = {"type": "lb11"}
    return load(values)


def nginx_site_of(config: StackConfig, server: str) -> tuple[str, list[str], list[str]]:
    render = render_compose(config, server)
    site = next(c for p, c in render.files.items() if p.endswith("/default.conf"))
    hosts = sorted({route.fqdn for route in render.routes})
    return site, hosts, [route.service for route in render.routes]


@pytest.mark.parametrize("preset", ["Pulumi.fastapi-arq-pgvector.yaml", "Pulumi.ytempire.yaml"])
def test_nginx_presets_pass_nginx_t(preset: str, tmp_path: Path) -> None:
    config = preset_config(EXAMPLES / preset)
    server = next(iter(config.servers))
    site, hosts, services = nginx_site_of(config, server)
    done = nginx_t(site, hosts, services, tmp_path)
    assert done.returncode == 0, done.stderr + (tmp_path / "error.log").read_text()


@pytest.mark.parametrize("lb", [False, True], ids=["direct", "behind-lb"])
def test_nginx_stack_passes_nginx_t(lb: bool, tmp_path: Path) -> None:
    config = nginx_stack(lb)
    site, hosts, services = nginx_site_of(config, "app")
    if lb:
        lb_ip = resolve(config).load_balancer.private_ip  # type: ignore[union-attr]
        assert f"set_real_ip_from {lb_ip}/32;" in site and "listen 443 ssl http2 proxy_protocol;" in site
        assert f"listen {proxy_nginx.NGINX_LOCAL_PORT} ssl http2;" in site
        ports = render_compose(config, "app").model["services"]["nginx"]["ports"]
        assert f"127.0.0.1:{proxy_nginx.NGINX_LOCAL_PORT}:{proxy_nginx.NGINX_LOCAL_PORT}" in ports
    done = nginx_t(site, hosts, services, tmp_path)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("breakage", [
    ("limit_req zone=hp_public", "limit_req zone=nozone"),
    ("proxy_pass $hp_upstream;", "proxy_pass $hp_upstream"),
    ("/fullchain.pem;", "/missing.pem;"),
], ids=["undefined-zone", "missing-semicolon", "missing-certificate"])
def test_nginx_t_catches_a_broken_site(breakage: tuple[str, str], tmp_path: Path) -> None:
    site, hosts, services = nginx_site_of(nginx_stack(), "app")
    broken = site.replace(*breakage)
    assert broken != site
    assert nginx_t(broken, hosts, services, tmp_path).returncode != 0


LIVE_CHECKS = STUB_BACKEND_AND_NGINX + r"""
R="--resolve api.example.com:443:127.0.0.1 --resolve flower.example.com:443:127.0.0.1"
echo "redirect $(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: api.example.com' http://127.0.0.1/x?y=1)"
echo "api $(curl -sk $R -o /dev/null -w '%{http_code} %{http_version}' https://api.example.com/health)"
curl -sk $R -D "$P/headers" -o /dev/null https://api.example.com/health
echo "admin $(curl -sk $R -o /dev/null -w '%{http_code}' https://flower.example.com/)"
echo "auth $(curl -sk $R -o /dev/null -w '%{http_code}' https://api.example.com/docs/health)"
codes=""
for _ in $(seq 30); do codes="$codes $(curl -sk $R -o /dev/null -w '%{http_code}' https://api.example.com/health)"; done
echo "burst$codes"
if curl -sk --resolve unknown.example.com:443:127.0.0.1 https://unknown.example.com/ -o /dev/null; then
    echo "unknown-host-curl-exit 0"
else
    echo "unknown-host-curl-exit $?"
fi
"""


def test_live_nginx_redirects_sets_headers_limits_rate_and_guards_admin_routes(tmp_path: Path) -> None:
    site, hosts, services = nginx_site_of(nginx_stack(), "app")
    # Docker's DNS does not exist here: point the upstreams at the stub backend on 127.0.0.1:8000.
    site = site.replace("http://api:8000", "http://127.0.0.1:8000").replace("http://docs-$hp_colour:80", "http://127.0.0.1:8000")
    lines = live_nginx(site, hosts, services, tmp_path, LIVE_CHECKS)
    assert lines["redirect"] == "301 https://api.example.com/x?y=1"
    assert lines["api"] == "200 2"  # HTTP/2 over TLS
    headers = (tmp_path / "headers").read_text().lower()
    assert "strict-transport-security: max-age=31536000" in headers
    assert "x-frame-options: sameorigin" in headers
    assert "x-content-type-options: nosniff" in headers
    assert lines["admin"] == "403"  # 127.0.0.1 is not in ssh.adminCidrs
    assert lines["auth"] == "401"  # basic auth in front of /docs
    assert "429" in lines["burst"] and "200" in lines["burst"]
    assert lines["unknown-host-curl-exit"] != "0"  # ssl_reject_handshake for names we do not serve


def test_nginx_start_script_and_certbot_script_are_shellcheck_clean(tmp_path: Path) -> None:
    shellcheck = tool_path("shellcheck")
    config = nginx_stack()
    render = render_compose(config, "app")
    for path, content in render.files.items():
        if path.endswith(".sh"):
            script = tmp_path / Path(path).name
            script.write_text(content)
            done = subprocess.run([shellcheck, "-s", "sh", "-S", "style", str(script)], capture_output=True, text=True)
            assert done.returncode == 0, done.stdout
    assert "certbot" in render.model["services"]
    assert render.model["services"]["certbot"]["image"].startswith("certbot/certbot")


def test_dns01_certbot_uses_the_cloudflare_image() -> None:
    values = copy.deepcopy(app_stack(small_app(proxy={"kind": "nginx"})))
    values["dns"]["proxied"] = True
    config = load(values)
    certbot = render_compose(config, "app").model["services"]["certbot"]
    assert certbot["image"].startswith("certbot/dns-cloudflare")
    assert certbot["environment"] == {"CF_DNS_API_TOKEN": "${CF_DNS_API_TOKEN:?secret CF_DNS_API_TOKEN is not set}"}
