"""The offline plan as a user runs it: a subprocess, real stack files, exit codes 0/1/2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.stacks import FIVE_MISTAKE_PATHS, PROD, five_mistakes, variant, write_stack_file

ROOT = Path(__file__).resolve().parents[2]


def plan(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "plan", *args], cwd=cwd, capture_output=True, text=True, timeout=180,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )


def write(tmp_path: Path, values: dict[str, object]) -> Path:
    return write_stack_file(tmp_path / "Pulumi.case.yaml", values)


@pytest.fixture(scope="module")
def prod_plan(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One run serves several tests: importing pulumi_cloudflare alone takes seconds."""
    out = tmp_path_factory.mktemp("plan") / "out"
    return plan("--stack", "prod", "--json", "--out", str(out)), out


def test_prod_plan_json_lists_every_resource_kind(prod_plan: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, _ = prod_plan
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    types = {r["type"] for r in document["resources"]}
    expected = {
        "hcloud:index/server:Server", "hcloud:index/volume:Volume", "hcloud:index/volumeAttachment:VolumeAttachment",
        "hcloud:index/firewall:Firewall", "hcloud:index/loadBalancer:LoadBalancer",
        "hcloud:index/loadBalancerService:LoadBalancerService", "hcloud:index/loadBalancerTarget:LoadBalancerTarget",
        "hcloud:index/loadBalancerNetwork:LoadBalancerNetwork", "hcloud:index/floatingIp:FloatingIp",
        "hcloud:index/floatingIpAssignment:FloatingIpAssignment", "hcloud:index/network:Network",
        "hcloud:index/networkSubnet:NetworkSubnet", "hcloud:index/sshKey:SshKey", "cloudflare:index/dnsRecord:DnsRecord",
    }
    assert expected <= types, expected - types
    assert document["secrets"]["sshPrivateKey"].startswith("not set")
    cost = document["cost"]
    assert {"lines", "total_net_eur", "budget_eur", "status"} <= set(cost)
    assert round(sum(line["monthly_eur"] for line in cost["lines"]), 2) == cost["total_net_eur"]
    assert cost["budget_eur"] == 50 and cost["status"] in ("ok", "warn", "critical", "over")
    assert [server["server"] for server in document["capacity"]["servers"]] == ["app"]
    assert "Traceback" not in result.stderr


def test_five_mistakes_exit_2_and_are_all_named(tmp_path: Path) -> None:
    result = plan("--config-file", str(write(tmp_path, five_mistakes())))
    assert result.returncode == 2
    for path in FIVE_MISTAKE_PATHS:
        assert f"{path}:" in result.stderr, result.stderr
    assert "use 'cx33'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_unreadable_stack_file_exits_2_without_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "Pulumi.broken.yaml"
    broken.write_text("config: [unclosed", encoding="utf-8")
    result = plan("--config-file", str(broken))
    assert result.returncode == 2 and "not valid YAML" in result.stderr and "Traceback" not in result.stderr
    missing = plan("--stack", "nosuchstack")
    assert missing.returncode == 2 and "stack file not found" in missing.stderr


def test_out_writes_the_scripts_and_files_the_host_receives(prod_plan: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, out = prod_plan
    assert result.returncode == 0, result.stderr
    steps = sorted(p.name for p in (out / "app" / "steps").iterdir())
    assert steps[0] == "01-wait.sh" and any(name.endswith("-ssh.sh") for name in steps)
    assert (out / "app" / "user-data.yaml").read_text().startswith("#cloud-config")
    rootfs = out / "app" / "rootfs"
    assert (rootfs / "etc/ssh/sshd_config.d/10-hetzner-platform.conf").is_file()
    assert (rootfs / "etc/docker/daemon.json").is_file() and (rootfs / "etc/fstab").is_file()
    env_files = list(rootfs.glob("opt/chrono/releases/*/.env"))
    assert len(env_files) == 1
    values = [line.split("=", 1)[1] for line in env_files[0].read_text().splitlines() if "=" in line and not line.startswith("#")]
    assert values and all(value.startswith("'<secret ") for value in values), values
    assert list(rootfs.glob("etc/systemd/system/hp-backup-*.timer"))


def test_over_enforced_budget_exits_1_and_says_why(tmp_path: Path) -> None:
    values = variant(PROD, budget={"monthlyEur": 20, "warnEur": 10, "criticalEur": 15, "enforce": True})
    result = plan("--config-file", str(write(tmp_path, values)))
    assert result.returncode == 1, result.stderr
    assert "OVER" in result.stdout.upper() and "20.00" in result.stdout
    unenforced = variant(PROD, budget={"monthlyEur": 20, "warnEur": 10, "criticalEur": 15, "enforce": False})
    assert plan("--config-file", str(write(tmp_path, unenforced))).returncode == 0


def test_encrypted_value_outside_the_secret_keys_is_refused(tmp_path: Path) -> None:
    values = variant(PROD, host={"timezone": {"secure": "v1:AAAA"}})
    result = plan("--config-file", str(write(tmp_path, values)))
    assert result.returncode == 2 and "host: holds an encrypted value" in result.stderr, result.stderr


def test_as_of_prices_for_the_given_day_and_a_bad_date_is_refused() -> None:
    # The same staging stack, priced before and after the 2026-06-15 epoch: the date decides the price.
    before, after = (plan("--stack", "staging", "--json", "--as-of", day) for day in ("2026-05-01", "2026-11-23"))
    for result in (before, after):
        assert result.returncode == 0, result.stderr
    documents = [json.loads(result.stdout)["cost"] for result in (before, after)]
    assert [document["as_of"] for document in documents] == ["2026-05-01", "2026-11-23"]
    assert documents[0]["total_net_eur"] < documents[1]["total_net_eur"], documents
    bad = plan("--stack", "staging", "--as-of", "2026-02-30")
    assert bad.returncode == 2 and "--as-of: '2026-02-30' is not a date in the form YYYY-MM-DD" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr
