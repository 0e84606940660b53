"""The issue-19 preset (examples/Pulumi.django-shop.yaml and its staging, which extends it): it plans, and
its rendered files pass the real validators: `docker compose config`, `nginx -t`, `systemd-analyze verify`
and `calendar` (the nightly job and the ops units)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.stack_base import read_merged_stack_file
from render import proxy
from render.app import secret_names
from render.compose import render_compose
from render.jobs import job_units
from render.ops import ops_files
from render.registry import registry_logins
from tests.prerequisites import require_tool
from tests.stacks import EXAMPLES, preset_config
from tests.systemd_verify import assert_calendar_parses, fake_root, verify

from .conftest import compose_check, schema_errors
from .test_proxy import nginx_t

PROD = EXAMPLES / "Pulumi.django-shop.yaml"
STAGING = EXAMPLES / "Pulumi.django-shop-staging.yaml"


def test_staging_extends_prod_and_states_only_what_differs() -> None:
    staging = read_merged_stack_file(STAGING)
    assert staging.extends == "Pulumi.django-shop.yaml"
    prod, merged = preset_config(PROD), preset_config(STAGING)
    assert merged.environment == "staging" and merged.servers["app"].server_type == "cx23"
    assert merged.app.jobs == prod.app.jobs and merged.app.registries == prod.app.registries
    assert merged.app.services["web"].image == prod.app.services["web"].image == "ghcr.io/acme/shop:1.4.3"
    assert merged.app.services["worker"].command == prod.app.services["worker"].command
    assert merged.app.redirects == [] and [r.name for r in merged.dns.records] == ["staging.shop"]  # type: ignore[union-attr]


@pytest.mark.parametrize("path", [PROD, STAGING], ids=lambda p: p.name)
def test_the_shop_renders_valid_compose_nginx_and_systemd(path: Path, tmp_path: Path) -> None:
    require_tool("docker-compose")
    config = preset_config(path)
    render = render_compose(config, "app")
    model = compose_check(render.text, render.secrets, tmp_path / "compose")
    assert schema_errors(model) == []
    assert set(model["services"]) == {"postgres", "redis", "web", "worker", "nginx", "certbot"}
    assert {"GHCR_TOKEN", "DJANGO_SECRET_KEY", "REDIS_PASSWORD"} <= set(secret_names(config, "app"))
    assert [login.host for login in registry_logins(config)] == ["ghcr.io"]
    # nginx -t on the site with every name it serves (the www redirect in prod).
    site = next(c for p, c in render.files.items() if p.endswith("/default.conf"))
    hosts = sorted(proxy.certificates(render.routes, render.redirects))
    done = nginx_t(site, hosts, ["web"], tmp_path / "nginx")
    assert done.returncode == 0, done.stderr
    if path == PROD:
        assert hosts == ["shop.acme.example", "www.shop.acme.example"]
        assert "return 301 https://shop.acme.example$request_uri;" in site
    # systemd: the nightly job and every ops unit, in a fake root, plus the job's calendar.
    assert set(job_units(config, "app")) == {"hp-job-clearsessions.service", "hp-job-clearsessions.timer"}
    root = tmp_path / "root"
    written = fake_root(root, ops_files(config, "app"))
    units = [file_path for file_path in written if file_path.startswith("/etc/systemd/system/") and "@." not in file_path]
    assert "/etc/systemd/system/hp-job-clearsessions.timer" in units
    returncode, output = verify(root, units)
    assert returncode == 0 and output == "", output
    assert_calendar_parses(config.app.jobs["clearsessions"].schedule)
