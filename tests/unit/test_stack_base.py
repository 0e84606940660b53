"""Stack files extending a base (`hetzner-platform:extends`): deep merge, lists replaced, null removes a key,
secrets never inherited; the plan prints the merged values; the Pulumi program (runtime config) merges
the same way; a missing base or a circle is named at `extends`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cli.evaluate import evaluate
from config.errors import ConfigError
from config.loader import validate_config
from config.stack_base import apply_base, deep_merge
from config.stack_file import StackFile
from tests.fixed_date import GENERATED_AS_OF
from tests.stacks import write_stack_file

ROOT = Path(__file__).resolve().parents[2]

STAGING = {
    "extends": "Pulumi.base.yaml",
    "environment": "staging",
    "servers": {"app": {"backups": False}},  # merged into the base's app server: type and roles stay
    "ssh": {"adminCidrs": ["198.51.100.0/24"]},  # a list replaces the base's list
    "loadBalancer": None, "floatingIp": None, "dns": None,  # null removes what the base sets
    "budget": {"monthlyEur": 20, "warnEur": 15, "criticalEur": 18},
    "app": {"domain": "staging.chrono.example.com", "proxy": {"acme": False}},  # merged into the base's app
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    base = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text(encoding="utf-8"))
    base["config"]["hetzner-platform:appSecrets"] = {"POSTGRES_PASSWORD": {"secure": "v1:AAAA"}}
    (tmp_path / "Pulumi.base.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
    write_stack_file(tmp_path / "Pulumi.staging.yaml", STAGING)
    return tmp_path


def plan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli.main", "plan", "--as-of", GENERATED_AS_OF.isoformat(), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})


def test_deep_merge_rules() -> None:
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 2, "c": {"d": 1}}
    assert deep_merge(base, {"a": {"y": [3]}, "b": None, "c": {"e": 2}}) == {"a": {"x": 1, "y": [3]}, "c": {"d": 1, "e": 2}}


def test_the_merged_stack_is_what_the_plan_shows_and_uses(project: Path) -> None:
    shown = plan("--config-file", str(project / "Pulumi.staging.yaml"), "--show-config")
    assert shown.returncode == 0, shown.stderr
    merged = yaml.safe_load(shown.stdout)["config"]
    assert merged["hetzner-platform:environment"] == "staging"
    assert merged["hetzner-platform:servers"]["app"] == {"serverType": "cx33", "image": "ubuntu-24.04", "backups": False,
                                                         "roles": ["web", "db", "worker"]}
    assert merged["hetzner-platform:ssh"]["adminCidrs"] == ["198.51.100.0/24"]
    assert merged["hetzner-platform:ssh"]["port"] == 2222
    assert "hetzner-platform:loadBalancer" not in merged and "hetzner-platform:dns" not in merged
    assert "hetzner-platform:appSecrets" not in merged, "secrets are encrypted for the base's stack: never inherited"
    assert "hetzner-platform:extends" not in merged
    assert merged["hetzner-platform:app"]["services"]["backend"]["image"] == "ghcr.io/chrono/backend:2.0.0"
    result = plan("--config-file", str(project / "Pulumi.staging.yaml"), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["extends"] == "Pulumi.base.yaml" and document["environment"] == "staging"
    types = {resource["type"] for resource in document["resources"]}
    assert not any("loadBalancer" in t or "floatingIp" in t or t.startswith("cloudflare") for t in types)
    text = plan("--config-file", str(project / "Pulumi.staging.yaml"))
    assert "extends Pulumi.base.yaml: the values below are the merged result" in text.stdout


def test_the_program_merges_the_runtime_config_the_same_way(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`pulumi up` hands the program the stack's own keys, `extends` among them; it runs in the project dir."""
    monkeypatch.chdir(project)
    values = {key: value for key, value in STAGING.items()}
    merged = validate_config(apply_base(values, project, "test"))  # only for the plan's secret stand-ins
    evaluation = evaluate(StackFile(path=project / "Pulumi.staging.yaml", values=values), validated=merged)
    config = evaluation.platform.config
    assert config.environment == "staging" and config.load_balancer is None and config.dns is None
    assert config.servers["app"].server_type == "cx33" and config.servers["app"].backups is False


def test_a_missing_base_and_a_circle_are_named_at_extends(project: Path) -> None:
    write_stack_file(project / "Pulumi.lost.yaml", {"extends": "Pulumi.nope.yaml"})
    lost = plan("--config-file", str(project / "Pulumi.lost.yaml"))
    assert lost.returncode == 2 and "extends: Pulumi.nope.yaml not found" in lost.stderr and "Traceback" not in lost.stderr
    write_stack_file(project / "Pulumi.a.yaml", {"extends": "Pulumi.b.yaml"})
    write_stack_file(project / "Pulumi.b.yaml", {"extends": "Pulumi.a.yaml"})
    with pytest.raises(ConfigError, match=re.escape("circle: Pulumi.b.yaml -> Pulumi.a.yaml -> Pulumi.b.yaml")):
        apply_base({"extends": "Pulumi.b.yaml"}, project, "test")
