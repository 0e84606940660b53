"""The service model: path-specific errors, cross-service and stack checks, placement."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from config.app_stack_rules import app_stack_issues
from config.errors import ConfigError
from config.loader import validate_config
from config.stack_views import placement_names
from spec.service_homes import placement
from tests.stacks import app_stack, phase2_app_stack, small_app

from .conftest import load


def issues_of(values: dict[str, Any]) -> list[str]:
    try:
        config = validate_config(copy.deepcopy(values))
    except ConfigError as error:
        return [str(issue) for issue in error.issues]
    return [str(issue) for issue in app_stack_issues(config)]


def with_app(change: Callable[[dict[str, Any]], None], values: dict[str, Any] | None = None) -> dict[str, Any]:
    values = copy.deepcopy(values or app_stack(small_app()))
    change(values["app"])
    return values


def api(app: dict[str, Any]) -> dict[str, Any]:
    return app["services"]["api"]


CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("typo", lambda a: api(a).update(enviroment={}), "app.services.api.enviroment: unknown key"),
    ("memory", lambda a: api(a)["limits"].update(memory="lots"), "app.services.api.limits.memory: 'lots' is not a memory size"),
    ("reservation", lambda a: api(a).update(reservations={"cpus": 2, "memory": "1G"}),
     "app.services.api: reservations.cpus 2 is above limits.cpus 1"),
    ("secret-name", lambda a: api(a).update(secretEnv=["jwt"]), "app.services.api.secretEnv: 'jwt' is not a secret name"),
    ("depends-unknown", lambda a: api(a).update(dependsOn={"nope": "started"}), "app.services.api.dependsOn.nope: no service named 'nope'"),
    ("depends-healthy", lambda a: api(a).update(dependsOn={"worker": "healthy"}),
     "app.services.api.dependsOn.worker: condition healthy needs a healthcheck on 'worker'"),
    ("cycle", lambda a: a["services"]["worker"].update(dependsOn=["api"]) or api(a).update(dependsOn=["worker"]),
     "dependency cycle"),
    ("secret-ref", lambda a: api(a)["environment"].update(URL="x${UNKNOWN_TOKEN}"),
     "app.services.api.environment.URL: refers to ${UNKNOWN_TOKEN}, which no service declares in secretEnv"),
    ("migrate", lambda a: a.update(migrateService="nope"), "app.migrateService: no service named 'nope'"),
    ("reserved", lambda a: a["services"].update(traefik=copy.deepcopy(api(a)) | {"expose": None}),
     "app.services.traefik: 'traefik' is reserved"),
    ("acme", lambda a: a.pop("acmeEmail"), "app.acmeEmail: required for Let's Encrypt"),
    ("redis-headroom", lambda a: a["services"]["redis"]["configFiles"].update(maxmemory="512mb"),
     "app.services.redis: configFiles.maxmemory 512mb leaves less than 64 MiB headroom"),
    ("pg-setting", lambda a: a["services"]["postgres"]["configFiles"].update(settings={"Bad Name": 1}),
     "app.services.postgres.configFiles.postgres.settings: 'Bad Name' is not a postgresql.conf parameter name"),
    ("pg-kind", lambda a: a["services"]["postgres"]["configFiles"].update(kind="mysql"), "app.services.postgres.configFiles"),
    ("redis-secret-in-file", lambda a: a["services"]["redis"]["configFiles"].update(settings={"requirepass": "x"}),
     "would put a secret in redis.conf"),
    ("admin-without-expose", lambda a: a["services"]["worker"].update(adminOnly=True), "adminOnly needs expose"),
    ("duplicate-route", lambda a: a["services"]["worker"].update(expose={"port": 1, "host": "api"}),
     "app.services.worker.expose: host 'api' path '/' is already routed to 'api'"),
    ("generate", lambda a: a.update(generateSecrets=["NOPE"]), "app.generateSecrets[0]: no service uses a secret named NOPE"),
    ("extra", lambda a: api(a).update(extra={"ports": ["80:80"]}), "compose keys ['ports'] are not allowed in extra"),
    ("host-not-in-dns", lambda a: api(a)["expose"].update(host="shop"),
     "app.services.api.expose.host: shop.example.com has no record in dns.records"),
    ("image", lambda a: api(a).pop("image"), "app.services.api.image: required key is missing"),
    ("health-url", lambda a: a.update(healthUrl="ftp://x"), "app.healthUrl: 'ftp://x' must be a path"),
]


@pytest.mark.parametrize(("change", "expected"), [(c, e) for _, c, e in CASES], ids=[name for name, _, _ in CASES])
def test_bad_app_config_is_reported_at_its_path(change: Callable[[dict[str, Any]], None], expected: str) -> None:
    issues = issues_of(with_app(change))
    assert any(expected in issue for issue in issues), issues


def test_valid_small_app_has_no_issues() -> None:
    assert issues_of(app_stack(small_app())) == []


def test_admin_only_behind_cloudflare_proxy_is_refused() -> None:
    values = app_stack(small_app())
    values["dns"]["records"] = [{"name": "api"}, {"name": "flower", "proxied": True}]
    values["app"]["services"]["flower"] = {
        "image": "mher/flower:2.0", "expose": {"port": 5555, "host": "flower"}, "adminOnly": True,
        "limits": {"cpus": 0.25, "memory": "128M"},
    }
    assert any("app.services.flower.adminOnly: flower.example.com is proxied by Cloudflare" in i for i in issues_of(values))


def test_wildcard_record_covers_a_subdomain() -> None:
    values = app_stack(small_app())
    values["dns"]["records"] = [{"name": "*"}]
    assert issues_of(values) == []


def test_multi_server_redis_needs_a_password() -> None:
    values = phase2_app_stack()
    del values["app"]["services"]["redis"]["configFiles"]["passwordSecret"]
    assert any("app.services.redis.configFiles.passwordSecret" in issue for issue in issues_of(values))


def test_stateful_service_on_two_candidate_servers_must_be_pinned() -> None:
    values = phase2_app_stack()
    values["servers"]["db2"] = {"serverType": "cx33", "roles": ["db"]}
    issues = issues_of(values)
    assert any("app.services.postgres.server: stateful service" in issue for issue in issues), issues
    values["app"]["services"]["postgres"]["server"] = "db2"
    values["app"]["services"]["redis"]["server"] = "db"
    assert issues_of(values) == []


def test_exposed_service_off_the_load_balancer_targets_is_refused() -> None:
    values = phase2_app_stack()
    values["app"]["services"]["worker"]["expose"] = {"port": 9000, "host": "flower"}
    assert any("app.services.worker.role: exposed but placed on worker" in i for i in issues_of(values))


def test_proxy_protocol_needs_the_private_ip() -> None:
    values = app_stack(small_app(), loadBalancer={"type": "lb11", "usePrivateIp": False})
    issues = issues_of(values)
    assert any("loadBalancer.usePrivateIp" in issue for issue in issues), issues


def test_missing_compose_file_and_domain_are_named() -> None:
    values = app_stack(small_app(composeFile="/nonexistent/compose.yml"), dns=None)
    issues = issues_of(values)
    assert any(issue.startswith("app.composeFile: /nonexistent/compose.yml does not exist") for issue in issues)
    assert any(issue.startswith("app.domain: exposed services need a domain") for issue in issues)


def test_placement_replicates_stateless_services_and_pins_stateful_ones() -> None:
    values = phase2_app_stack()
    values["servers"]["web2"] = {"serverType": "cx43", "roles": ["web"]}
    config = load(values)
    names = placement_names(config)
    assert names == {"web": ["api"], "db": ["postgres", "redis"], "worker": ["worker"], "web2": ["api"]}
    full = placement(config)
    assert set(full["web"]) == set(full["web2"]) == {"api", "traefik"}
    assert full["db"]["postgres"].limits.memory == "2G"


def test_nginx_proxy_brings_certbot_into_capacity() -> None:
    config = load(app_stack(small_app(proxy={"kind": "nginx"})))
    services = placement(config)["app"]
    assert {"nginx", "certbot"} <= set(services)
    assert services["nginx"].limits.cpus == 0.25
