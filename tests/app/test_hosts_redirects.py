"""expose.hosts (several names per service) and app.redirects (permanent, e.g. www -> apex): config checks,
Traefik routers, and nginx checked by the real `nginx -t` and a live nginx in private namespaces."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.errors import ConfigError
from config.schema import StackConfig
from render import proxy
from render.app import app_step
from render.compose import render_compose
from render.steps import HostRuntime
from tests.stacks import app_stack, small_app

from .conftest import load
from .test_proxy import STUB_BACKEND_AND_NGINX, live_nginx, nginx_t


def shop_values(kind: str = "traefik") -> dict[str, Any]:
    """api served at the apex and at api., www redirects to the apex."""
    app = small_app(proxy={"kind": kind}, redirects=[{"from": "www", "to": "@"}])
    app["services"]["api"]["expose"] = {"port": 8000, "hosts": ["@", "api"]}
    values = app_stack(app)
    values["dns"]["records"] = [{"name": "@"}, {"name": "api"}, {"name": "www"}]
    return values


def issues_of(values: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        load(values)
    return {issue.path: issue.reason for issue in caught.value.issues}


def test_every_host_and_redirect_gets_a_route_and_a_certificate() -> None:
    config = load(shop_values())
    render = render_compose(config, "app")
    assert [(route.name, route.fqdn) for route in render.routes] == [("api", "example.com"), ("api-2", "api.example.com")]
    assert proxy.certificates(render.routes, render.redirects) == {
        "example.com": "http-01", "api.example.com": "http-01", "www.example.com": "http-01"}
    dynamic = yaml.safe_load(next(c for p, c in render.files.items() if p.endswith("/app.yml")))
    routers = dynamic["http"]["routers"]
    assert routers["api"]["rule"] == "Host(`example.com`)" and routers["api-2"]["rule"] == "Host(`api.example.com`)"
    assert routers["api-2"]["service"] == "api"
    redirect = routers["redirect-www-example-com"]
    assert redirect["rule"] == "Host(`www.example.com`)" and redirect["tls"] == {"certResolver": "le-http"}
    assert redirect["service"] == "noop@internal"
    regex = dynamic["http"]["middlewares"]["redirect-www-example-com"]["redirectRegex"]
    assert regex["permanent"] is True
    # The same pattern in Python's re (RE2 accepts it unchanged): path and query survive, the host changes.
    replacement = regex["replacement"].replace("${1}", r"\1")
    assert re.sub(regex["regex"], replacement, "https://www.example.com/cart?id=3") == "https://example.com/cart?id=3"
    assert re.sub(regex["regex"], replacement, "https://www.example.com:443/") == "https://example.com/"
    assert not re.match(regex["regex"], "https://www.example.com.evil.test/")


@pytest.mark.parametrize(("change", "path", "reason"), [
    (lambda v: v["app"]["redirects"].append({"from": "api", "to": "@"}), "app.redirects[1].from", "served by a service"),
    (lambda v: v["app"]["redirects"].__setitem__(0, {"from": "www", "to": "shop"}), "app.redirects[0].to", "lead nowhere"),
    (lambda v: v["dns"]["records"].pop(), "app.redirects[0].from", "www.example.com has no record"),
    (lambda v: v["dns"]["records"].pop(1), "app.services.api.expose.hosts[1]", "api.example.com has no record"),
    (lambda v: v["app"]["services"]["api"]["expose"].update(host="api"), "app.services.api.expose", "either host or hosts"),
    (lambda v: v["app"]["redirects"].__setitem__(0, {"from": "www", "to": "www"}), "app.redirects[0]", "to itself"),
])
def test_bad_hosts_and_redirects_name_the_field(change: Any, path: str, reason: str) -> None:
    values = shop_values()
    change(values)
    issues = issues_of(values)
    assert path in issues and reason in issues[path], issues


def nginx_stack() -> StackConfig:
    return load(shop_values("nginx"))


def test_nginx_with_hosts_and_a_redirect_passes_nginx_t(tmp_path: Path) -> None:
    render = render_compose(nginx_stack(), "app")
    site = next(c for p, c in render.files.items() if p.endswith("/default.conf"))
    assert "return 301 https://example.com$request_uri;" in site
    hosts = sorted(proxy.certificates(render.routes, render.redirects))
    done = nginx_t(site, hosts, [route.service for route in render.routes], tmp_path)
    assert done.returncode == 0, done.stderr
    broken = site.replace("return 301 https://example.com$request_uri;", "return 301 https://example.com$request_uri")
    assert nginx_t(broken, hosts, ["api"], tmp_path / "broken").returncode != 0


def test_certbot_and_the_deploy_cover_every_name() -> None:
    config = nginx_stack()
    render = render_compose(config, "app")
    certbot = next(c for p, c in render.files.items() if p.endswith("/run.sh"))
    assert "HOSTS='api.example.com example.com www.example.com'" in certbot
    script = app_step(config, "app", HostRuntime(), {"POSTGRES_PASSWORD": "x", "JWT_SECRET": "y"}).script
    assert "CERT_HOSTS=(api.example.com example.com www.example.com)" in script


LIVE = STUB_BACKEND_AND_NGINX + r"""
for host in example.com api.example.com www.example.com; do
    echo "$host $(curl -sk --resolve "$host:443:127.0.0.1" -o /dev/null -w '%{http_code} %{redirect_url}' "https://$host/health?x=1")"
done
"""


def test_live_nginx_serves_both_hosts_and_redirects_www(tmp_path: Path) -> None:
    render = render_compose(nginx_stack(), "app")
    site = next(c for p, c in render.files.items() if p.endswith("/default.conf")).replace("http://api:8000", "http://127.0.0.1:8000")
    hosts = sorted(proxy.certificates(render.routes, render.redirects))
    lines = live_nginx(site, hosts, ["api"], tmp_path, LIVE)
    assert lines["example.com"].startswith("200")
    assert lines["api.example.com"].startswith("200")
    assert lines["www.example.com"] == "301 https://example.com/health?x=1"


def test_the_plan_notes_a_record_nothing_serves() -> None:
    from spec.notes import plan_notes

    values = shop_values()
    assert not any("dns.records" in note for note in plan_notes(load(values)))
    values["app"]["redirects"] = []
    notes = plan_notes(load(values))
    assert any(note.startswith("dns.records 'www': www.example.com points at the stack but no service serves it") for note in notes)
