"""The load balancer's HTTP check through the hosts' proxy (Host header, path, 2xx): the provider inputs under
Pulumi mocks, the proxies' check listener (Traefik, nginx), and a live nginx answering 200 while the app
answers and 502 once the app is dead behind the live proxy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cli.evaluate import evaluate
from config.stack_file import StackFile
from render.compose import render_compose
from spec.lb_checks import PROXY_CHECK_PORT, lb_checks
from spec.resources import resolve
from tests.stacks import phase2_app_stack, small_app

from .conftest import load
from .test_proxy import live_nginx


def stack(kind: str = "traefik", **health: Any) -> dict[str, Any]:
    values = phase2_app_stack(small_app(proxy={"kind": kind}, healthUrl="/api/health"))
    values["loadBalancer"] = {"type": "lb11", **({"healthCheck": health} if health else {})}
    return values


def test_the_tls_service_checks_the_app_through_the_proxy_by_default() -> None:
    checks = lb_checks(load(stack()))
    assert checks[443].protocol == "http" and checks[443].port == PROXY_CHECK_PORT
    assert (checks[443].domain, checks[443].path, checks[443].status_codes) == ("api.example.com", "/api/health", ("2??",))
    assert (checks[80].protocol, checks[80].port) == ("tcp", 80)  # port 80 only redirects; check ports stay unique
    assert lb_checks(load(stack(protocol="tcp")))[443].protocol == "tcp"  # an explicit tcp is kept


def test_the_provider_gets_host_path_and_2xx() -> None:
    values = stack()
    evaluation = evaluate(StackFile(path=Path("Pulumi.case.yaml"), values=values), validated=load(values))
    services = {r.inputs["listenPort"]: r.inputs for r in evaluation.resources
                if r.type == "hcloud:index/loadBalancerService:LoadBalancerService"}
    check = services[443]["healthCheck"]
    assert check["protocol"] == "http" and check["port"] == PROXY_CHECK_PORT
    assert check["http"] == {"domain": "api.example.com", "path": "/api/health", "statusCodes": ["2??"]}
    assert services[80]["healthCheck"]["protocol"] == "tcp" and services[80]["healthCheck"]["port"] == 80


def test_traefik_listens_for_the_check_on_the_private_address_of_lb_targets_only() -> None:
    config = load(stack())
    web_ip = next(server.private_ip for server in resolve(config).servers if server.name == "web")
    render = render_compose(config, "web")
    static = yaml.safe_load(next(c for p, c in render.files.items() if p.endswith("/traefik.yml")))
    dynamic = yaml.safe_load(next(c for p, c in render.files.items() if p.endswith("/app.yml")))
    assert static["entryPoints"]["lbcheck"] == {"address": f":{PROXY_CHECK_PORT}"}
    assert "proxyProtocol" not in static["entryPoints"]["lbcheck"]
    assert dynamic["http"]["routers"]["lb-health"] == {
        "rule": "Host(`api.example.com`) && Path(`/api/health`)", "entryPoints": ["lbcheck"], "service": "api",
        "middlewares": ["security-headers"]}
    assert f"{web_ip}:{PROXY_CHECK_PORT}:{PROXY_CHECK_PORT}" in render.model["services"]["traefik"]["ports"]
    assert not any(str(PROXY_CHECK_PORT) in port for port in render.model["services"]["traefik"]["ports"][:2])


LIVE = r"""
ip link set lo up
mkdir -p "$P/www/api" && echo ok > "$P/www/api/health"
python3 -m http.server 8000 --bind 127.0.0.1 --directory "$P/www" >/dev/null 2>&1 &
backend=$!
nginx -p "$P/" -e "$P/error.log" -c "$P/nginx.conf"
for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:8000/api/health && break; sleep 0.1; done
check() { curl -s -o /dev/null -w '%{http_code}' -H "Host: $1" "http://127.0.0.1:8081$2"; }
echo "alive $(check api.example.com /api/health)"
echo "other-path $(check api.example.com /)"
kill "$backend"; wait "$backend" 2>/dev/null || true
echo "dead $(check api.example.com /api/health)"
"""


def test_live_nginx_check_sees_a_dead_app_behind_a_live_proxy(tmp_path: Path) -> None:
    config = load(stack("nginx"))
    render = render_compose(config, "web")
    site = next(c for p, c in render.files.items() if p.endswith("/default.conf"))
    assert f"listen {PROXY_CHECK_PORT};" in site
    site = site.replace("http://api:8000", "http://127.0.0.1:8000")
    hosts = sorted({route.fqdn for route in render.routes})
    lines = live_nginx(site, hosts, ["api"], tmp_path, LIVE)
    assert lines == {"alive": "200", "other-path": "404", "dead": "502"}, lines
