"""Mistakes a new user made in a first stack file (issue 19, point 9): each is refused with its field
named, or shown in the plan, never a traceback or a silently wrong resource."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config.errors import ConfigError
from config.loader import validate_config
from config.ops import RPO_DAILY_MINUTES
from config.stack_file import read_stack_file
from spec.notes import plan_notes
from spec.resources import resolve
from tests.fixed_date import GENERATED_AS_OF
from tests.stacks import PROD, variant

ROOT = Path(__file__).resolve().parents[2]


def issues_of(values: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        validate_config(values)
    return {issue.path: issue.reason for issue in caught.value.issues}


def prod_with_ordered_on(tmp_path: Path, literal: str) -> Path:
    """The committed prod stack with an unquoted `orderedOn:` line, as a user types it."""
    text = (ROOT / "Pulumi.prod.yaml").read_text(encoding="utf-8")
    text = text.replace("      serverType: cx33\n", f"      serverType: cx33\n      orderedOn: {literal}\n", 1)
    path = tmp_path / "Pulumi.dated.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run_plan(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "plan", "--config-file", str(path), "--as-of", GENERATED_AS_OF.isoformat()],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )


def test_an_unquoted_yaml_date_is_read_as_the_day_it_names(tmp_path: Path) -> None:
    stack = read_stack_file(prod_with_ordered_on(tmp_path, "2026-12-04"))
    assert stack.values["servers"]["app"]["orderedOn"] == "2026-12-04"
    result = run_plan(prod_with_ordered_on(tmp_path, "2026-12-04"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr


def test_an_impossible_yaml_date_names_the_field(tmp_path: Path) -> None:
    result = run_plan(prod_with_ordered_on(tmp_path, "2026-13-04"))
    assert result.returncode == 2
    assert "servers.app.orderedOn:" in result.stderr and "month" in result.stderr
    assert "Traceback" not in result.stderr


def test_daily_only_backups_with_the_hourly_rpo_are_refused() -> None:
    issues = issues_of(variant(PROD, ops={"backup": {"hourly": False}, "alerts": {"rpoMinutes": 60}}))
    assert "ops.alerts.rpoMinutes" in issues
    assert "ops.backup.hourly is false" in issues["ops.alerts.rpoMinutes"]


def test_daily_only_backups_derive_a_daily_rpo() -> None:
    config = validate_config(variant(PROD, ops={"backup": {"hourly": False}}))
    assert config.ops.rpo_minutes == RPO_DAILY_MINUTES
    assert validate_config(PROD).ops.rpo_minutes == 60


def test_a_full_name_in_dns_records_is_refused_with_the_relative_one() -> None:
    dns = {"zone": "acme.example", "proxied": True, "records": [{"name": "shop"}, {"name": "www.shop.acme.example"}]}
    issues = issues_of(variant(PROD, dns=dns, floatingIp={"type": "ipv4"}))
    assert "write 'www.shop'" in issues["dns.records[1].name"]
    assert "www.shop.acme.example.acme.example" in issues["dns.records[1].name"]


def test_caa_goes_on_the_names_the_stack_serves_and_the_plan_says_so() -> None:
    dns = {"zone": "acme.example", "proxied": True, "records": [{"name": "shop"}, {"name": "www.shop"}]}
    config = validate_config(variant(PROD, dns=dns, floatingIp={"type": "ipv4"}))
    caa = [record.fqdn for record in resolve(config).dns_records if record.record_type == "CAA"]
    assert caa == ["shop.acme.example"], "the company's apex must not get a CAA record"
    notes = plan_notes(config)
    assert any("shop.acme.example" in note and "caaLetsencrypt" in note for note in notes)
    assert not any("zone apex" in note for note in notes)
    apex = plan_notes(validate_config(PROD))
    assert any("chrono.example.com (the zone apex" in note for note in apex)


def test_an_untagged_image_without_a_release_is_noted() -> None:
    app = {"services": {"web": {"image": "ghcr.io/acme/shop", "limits": {"cpus": 1, "memory": "512M"}}}}
    values = variant(PROD, app=app, loadBalancer=None, dns=None, floatingIp=None)
    assert any("app.services web: the image has no tag" in note for note in plan_notes(validate_config(values)))
    values["app"]["release"] = "1.4.3"
    assert not any("has no tag" in note for note in plan_notes(validate_config(values)))
