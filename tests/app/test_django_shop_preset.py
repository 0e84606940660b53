"""The issue-19 preset (examples/Pulumi.django-shop.yaml and its staging, which extends it): it plans, and
its rendered files pass the real validators: `docker compose config`, `nginx -t`, `systemd-analyze verify`
and `calendar` (the nightly job and the ops units)."""

from __future__ import annotations

import shutil
import subprocess
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

from .conftest import EXAMPLES, compose_check, preset_config, schema_errors
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
    require_tool("systemd-analyze")
    assert set(job_units(config, "app")) == {"hp-job-clearsessions.service", "hp-job-clearsessions.timer"}
    root = tmp_path / "root"
    (root / "lib/systemd").mkdir(parents=True)
    shutil.copytree("/lib/systemd/system", root / "lib/systemd/system", symlinks=True)
    units = []
    for file_path, content in ops_files(config, "app").items():
        target = root / file_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        if file_path.startswith("/usr/local/sbin/"):
            target.chmod(0o755)
        if file_path.startswith("/etc/systemd/system/") and "@." not in file_path:
            units.append(file_path)
    (root / "etc/systemd/system/docker.service").write_text("[Unit]\nDescription=stub\n[Service]\nExecStart=/usr/bin/docker\n")
    (root / "usr/bin").mkdir(parents=True, exist_ok=True)
    (root / "usr/bin/docker").write_text("#!/bin/sh\n")
    (root / "usr/bin/docker").chmod(0o755)
    assert "/etc/systemd/system/hp-job-clearsessions.timer" in units
    verify = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}", *units],
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0 and (verify.stdout + verify.stderr).strip() == "", verify.stdout + verify.stderr
    calendar = subprocess.run(["systemd-analyze", "calendar", config.app.jobs["clearsessions"].schedule],
                              capture_output=True, text=True)
    assert calendar.returncode == 0 and "Next elapse" in calendar.stdout
