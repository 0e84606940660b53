"""The stack file is the trust boundary: one named bad input per class of issue 13, each run through the
real offline plan (`hetzner-platform plan --config-file ... --out DIR`, in-process). Every one must end
with exit 2 and the field named, refused by its own check (not by the CLI's last-resort guard)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.keys import ADMIN_KEY_MATERIAL, MALFORMED_KEY, PLACEHOLDER_KEY, TRUNCATED_RSA_KEY
from tests.unit.hostile import UNCAUGHT_MARKER, mutated, run_stack, stack_document

PROD = "Pulumi.prod.yaml"
PHASE2 = "examples/Pulumi.chrono-phase2.yaml"
TINY = {"image": "busybox:1.36", "limits": {"cpus": 0.1, "memory": "64M"}}

# (name, base stack, [(path, value)], the field path the refusal must name)
BAD_INPUTS: list[tuple[str, str, list[tuple[str, Any]], str]] = [
    # injection into formats other than bash
    ("image newline -> ExecStartPre", PROD, [("ops.monitoring.nodeExporter.image", "quay.io/x:1\nExecStartPre=/bin/sh -c id")],
     "ops.monitoring.nodeExporter.image"),
    ("image spaces -> docker run flags", PROD, [("ops.monitoring.nodeExporter.image", "x:1 --privileged -v /:/rootfs")],
     "ops.monitoring.nodeExporter.image"),
    ("proxy image with spaces", PROD, [("app.proxy.image", "traefik:v3.3 --privileged")], "app.proxy.image"),
    ("service image with newline", PROD, [("app.services.frontend.image", "a:1\nb")], "app.services.frontend.image"),
    ("postgres setting trailing backslash", PROD, [("app.services.postgres.configFiles.settings", {"search_path": "x\\"})],
     "app.services.postgres.configFiles.postgres.settings"),
    ("non-systemd calendar", PROD, [("ops.backup.dailyCalendar", "every day at 2")], "ops.backup.dailyCalendar"),
    ("calendar repetition after *", PROD, [("ops.alerts.calendar", "*:*/5")], "ops.alerts.calendar"),
    ("floating IP PTR over 253 characters", PROD, [("floatingIp.dnsPtr", ("a" * 60 + ".") * 5 + "com")], "floatingIp.dnsPtr"),
    # paths compared as raw strings
    ("cleanup /mnt/../etc", PROD, [("ops.cleanup.rules", [{"path": "/mnt/../etc", "maxAgeDays": 1}])], "ops.cleanup.rules[0].path"),
    ("cleanup /*", PROD, [("ops.cleanup.rules", [{"path": "/*", "maxAgeDays": 1}])], "ops.cleanup.rules[0].path"),
    ("cleanup over live PGDATA", PROD, [("ops.cleanup.rules", [{"path": "/mnt/data/chrono/postgres", "maxAgeDays": 1}])],
     "ops.cleanup.rules[0].path"),
    ("backup dir /etc/.", PROD, [("ops.backup.dir", "/etc/.")], "ops.backup.dir"),
    ("backup dir inside the data dir", PROD, [("ops.backup.dir", "/mnt/data/chrono/backups")], "ops.backup.dir"),
    ("backup path containing the backup dir", PROD, [("ops.backup.paths", ["/var/backups"])], "ops.backup.paths[0]"),
    ("mount point /.", PROD, [("volumes.data.mountPoint", "/.")], "volumes.data.mountPoint"),
    ("mount point /var/lib/docker", PROD, [("volumes.data.mountPoint", "/var/lib/docker")], "volumes.data.mountPoint"),
    ("app data dir /etc/ssh", PROD, [("app.dataDir", "/etc/ssh")], "app.dataDir"),
    ("app data dir //etc", PROD, [("app.dataDir", "//etc")], "app.dataDir"),
    ("two services on one database dir", PROD, [("app.services.frontend.volumes", {"postgres": "/data"})],
     "app.services.frontend.volumes.postgres"),
    ("two services share a data dir without sharedVolumes", PROD,
     [("app.services.frontend.volumes", {"media": "/m"}), ("app.services.backend.volumes", {"media": "/m"})],
     "app.services.frontend.volumes.media"),
    ("host mount of the Docker socket", PROD, [("app.services.frontend.hostMounts", {"/var/run/docker.sock": "/var/run/docker.sock"})],
     "app.services.frontend.hostMounts./var/run/docker.sock"),
    ("host mount of /", PROD, [("app.services.frontend.hostMounts", {"/": "/rootfs"})], "app.services.frontend.hostMounts./"),
    # ports with no single owner
    ("load balancer to sshd", PROD, [("loadBalancer.services", [{"listenPort": 8022, "destinationPort": 2222}])],
     "loadBalancer.services[0].destinationPort"),
    ("load balancer to Redis", PHASE2, [("loadBalancer.services", [{"listenPort": 6379, "destinationPort": 6379}])],
     "loadBalancer.services[0].destinationPort"),
    ("sshd on node-exporter's port", PROD, [("ssh.port", 9100)], "ops.monitoring.nodeExporter.port"),
    ("two services publish one private port", PHASE2, [("app.services.meilisearch.ports", [5432])], "app.services.meilisearch.ports"),
    ("one FQDN routed twice", PROD, [("app.services.frontend.expose.host", "api.chrono.example.com")],
     "app.services.frontend.expose.host"),
    # numbers
    ("budget .inf", PROD, [("budget.monthlyEur", float("inf"))], "budget.monthlyEur"),
    ("budget 1e308", PROD, [("budget.monthlyEur", 1e308)], "budget.monthlyEur"),
    ("pricing override .inf", PROD, [("pricing.overrides", {"server:cx33": float("inf")})], "pricing.overrides.server:cx33"),
    ("snapshot GB .nan", PROD, [("pricing.expectedSnapshotGb", float("nan"))], "pricing.expectedSnapshotGb"),
    ("ssh.port: true", PROD, [("ssh.port", True)], "ssh.port"),
    ("stopGracePeriod: true", PROD, [("app.services.celery_worker.stopGracePeriod", True)], "app.services.celery_worker.stopGracePeriod"),
    ("cpus below Docker's 0.01", PROD, [("app.services.frontend.limits.cpus", 0.001)], "app.services.frontend.limits.cpus"),
    ("memory below Docker's 6 MiB", PROD, [("app.services.frontend.limits.memory", "4M"),
                                          ("app.services.frontend.reservations.memory", "4M")], "app.services.frontend.limits.memory"),
    ("swap larger than the disk", PROD, [("host.swapGb", 64)], "host.swapGb"),
    ("subnet too small for the servers", PROD, [("network.subnet", "10.0.1.0/29")], "network.subnet"),
    # uniqueness and references
    ("slug collision a-b / a.b", PROD,
     [("dns.records", [{"name": "@"}, {"name": "www"}, {"name": "api"}, {"name": "a-b"}, {"name": "a.b"}])], "dns.records[4].name"),
    ("services a-b and a_b", PROD, [("app.services.a-b", TINY), ("app.services.a_b", TINY)], "app.services.a_b"),
    ("same SSH key twice", PROD, [("ssh.publicKeys", [f"{ADMIN_KEY_MATERIAL} one", f"{ADMIN_KEY_MATERIAL} two"])], "ssh.publicKeys[1]"),
    ("misspelled backup service", PROD, [("ops.backup.postgres.service", "postgress")], "ops.backup.postgres.service"),
    ("volume on a server without the stateful services", PHASE2, [("volumes.data.server", "worker")], "volumes.data.server"),
    # secrets in plain text
    ("plain sshPrivateKey", PROD, [("sshPrivateKey", "-----BEGIN OPENSSH PRIVATE KEY-----")], "sshPrivateKey"),
    ("plain hcloud:token", PROD, [("!hcloud:token", "plain-token-value")], "hcloud:token"),
    ("plain appSecrets value", PROD, [("appSecrets", {"SECRET_KEY": "hunter2"})], "appSecrets.SECRET_KEY"),
    ("password in environment", PROD, [("app.services.frontend.environment", {"DB_PASSWORD": "hunter2"})],
     "app.services.frontend.environment.DB_PASSWORD"),
    ("literal password in a URL", PROD, [("app.services.frontend.environment", {"DATABASE_URL": "postgresql://u:hunter2@db/x"})],
     "app.services.frontend.environment.DATABASE_URL"),
    # weakening choices
    ("system account as admin user", PROD, [("ssh.adminUser", "nobody")], "ssh.adminUser"),
    ("public key ssh-keygen refuses", PROD, [("ssh.publicKeys", [MALFORMED_KEY])], "ssh.publicKeys[0]"),
]


@pytest.mark.parametrize(("name", "base", "changes", "field"), BAD_INPUTS, ids=[case[0] for case in BAD_INPUTS])
def test_bad_input_is_refused_naming_the_field(tmp_path: Path, name: str, base: str, changes: list[tuple[str, Any]],
                                              field: str) -> None:
    run = run_stack(tmp_path, mutated(base, changes))
    assert run.code == 2, f"{name}: exit {run.code}\n{run.stderr}"
    assert field in run.issue_paths(), f"{name}: expected {field}, got {run.issue_paths()}\n{run.stderr}"
    assert UNCAUGHT_MARKER not in run.stderr and "Traceback" not in run.stderr
    assert not run.out_dir.exists(), "nothing may be rendered for a refused stack"


# --- the YAML loader ------------------------------------------------------------------------------
DUPLICATE_BUDGET = """config:
  hetzner-platform:project: chrono
  hetzner-platform:budget:
    monthlyEur: 50
    enforce: true
  hetzner-platform:budget:
    monthlyEur: 50
"""
ALIAS_BOMB = "config:\n  hetzner-platform:app:\n    a: &a [" + ",".join(["x"] * 9) + "]\n" + "".join(
    f"    {chr(98 + level)}: &{chr(98 + level)} [" + ",".join([f"*{chr(97 + level)}"] * 9) + "]\n" for level in range(7)
)


@pytest.mark.parametrize(("name", "text", "field", "fragment"), [
    ("duplicate key", DUPLICATE_BUDGET, "budget", "written twice"),
    ("nested duplicate key", "config:\n  hetzner-platform:ssh:\n    port: 22\n    port: 2222\n", "ssh.port", "written twice"),
    ("alias bomb", ALIAS_BOMB, "app.f", "expands to more than"),
    ("recursive alias", "config:\n  hetzner-platform:app: &x\n    - *x\n", "app[0]", "refers to the node that contains it"),
    ("deep nesting", "config:\n  hetzner-platform:app: " + "[" * 3000 + "]" * 3000 + "\n", None, "nesting deeper"),
])
def test_yaml_loader_refuses(tmp_path: Path, name: str, text: str, field: str | None, fragment: str) -> None:
    run = run_stack(tmp_path, raw=text)
    assert run.code == 2 and fragment in run.stderr, f"{name}: {run.code} {run.stderr}"
    assert field is None or field in run.issue_paths(), run.stderr
    assert "Traceback" not in run.stderr


def test_alias_bomb_is_small_on_disk() -> None:
    assert len(ALIAS_BOMB) < 1000  # a few hundred bytes that would expand to 9**8 nodes


# --- a user's compose file --------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "compose", "fragment"), [
    ("env_file", {"services": {"frontend": {"env_file": [".env"]}}}, "env_file"),
    ("unknown service", {"services": {"frontent": {"image": "x:1"}}}, "did you mean 'frontend'"),
    ("not a compose file", "/etc/passwd", "not a compose file"),
    ("not YAML services", "root:x:0:0:root:/root:/bin/bash\n", "no `services:` mapping"),
])
def test_user_compose_file_is_checked_before_rendering(tmp_path: Path, name: str, compose: Any, fragment: str) -> None:
    if compose == "/etc/passwd":
        target = "/etc/passwd"
    else:
        path = tmp_path / "compose.yml"
        path.write_text(compose if isinstance(compose, str) else yaml.safe_dump(compose), encoding="utf-8")
        target = str(path)
    run = run_stack(tmp_path, mutated(PROD, [("app.composeFile", target)]))
    assert run.code == 2 and "app.composeFile" in run.issue_paths(), f"{name}: {run.stderr}"
    assert fragment in run.stderr and UNCAUGHT_MARKER not in run.stderr


# --- warnings: a world-open admin network ---------------------------------------------------------------
def test_world_open_admin_cidrs_warn_and_keep_ssh_rate_limited(tmp_path: Path) -> None:
    run = run_stack(tmp_path, mutated(PROD, [("ssh.adminCidrs", ["0.0.0.0/0"])]))
    assert run.code == 0, run.stderr
    assert "warning: ssh.adminCidrs 0.0.0.0/0 admits SSH from the whole internet" in run.stdout
    firewall = next((run.out_dir / "app" / "steps").glob("*-firewall.sh")).read_text(encoding="utf-8")
    ssh_rules = [line.strip().strip('"') for line in firewall.splitlines() if "2222" in line and ("allow" in line or "limit" in line)]
    # The only rule for the SSH port is the rate limit: no allow rule from anywhere comes before it.
    assert ssh_rules == ["limit 2222/tcp comment 'ssh'"], ssh_rules


def test_admin_network_still_gets_its_allow_rule_first(tmp_path: Path) -> None:
    run = run_stack(tmp_path, stack_document(PROD))
    firewall = next((run.out_dir / "app" / "steps").glob("*-firewall.sh")).read_text(encoding="utf-8")
    ssh_rules = [line.strip().strip('"') for line in firewall.splitlines() if "2222" in line and ("allow" in line or "limit" in line)]
    assert ssh_rules[0].startswith("allow from 203.0.113.0/24 to any port 2222")
    assert ssh_rules.index("limit 2222/tcp comment 'ssh'") > 0


def test_ssh_key_check_agrees_with_ssh_keygen(tmp_path: Path) -> None:
    from config.ssh_keys import check_public_key

    lines = [f"{ADMIN_KEY_MATERIAL} ok", MALFORMED_KEY, TRUNCATED_RSA_KEY, PLACEHOLDER_KEY]
    for index, line in enumerate(lines):
        path = tmp_path / f"key{index}.pub"
        path.write_text(line + "\n", encoding="utf-8")
        keygen = subprocess.run(["ssh-keygen", "-l", "-f", str(path)], capture_output=True, text=True, check=False)
        try:
            check_public_key(line)
            ours = True
        except ValueError:
            ours = False
        assert ours == (keygen.returncode == 0), (line, keygen.stderr)


# --- the same checks under `pulumi up` (the program itself, against Pulumi's mocks) ----------------------
@pytest.mark.parametrize(("change", "fragment"), [
    (("loadBalancer.services", [{"listenPort": 8022, "destinationPort": 2222}]), "loadBalancer.services[0].destinationPort: 2222 is sshd"),
    (("!hcloud:token", "plain-token-value"), "hcloud:token: a secret in plain text"),
])
def test_pulumi_program_refuses_what_the_plan_refuses(tmp_path: Path, change: tuple[str, Any], fragment: str) -> None:
    """The port table and plain provider tokens are also checked by components.program.run, before any
    resource: `pulumi up` without the offline plan gets the same refusal."""
    import pulumi

    from cli.evaluate import evaluate
    from config.stack_file import read_stack_file

    path = tmp_path / "Pulumi.case.yaml"
    path.write_text(yaml.safe_dump(mutated(PROD, [change])), encoding="utf-8")
    with pytest.raises(pulumi.RunError) as refused:
        evaluate(read_stack_file(path), enforce_budget=True)
    assert fragment in str(refused.value)


def test_cost_command_refuses_the_same_way(tmp_path: Path) -> None:
    import io

    from cli.cost_command import run_cost

    path = tmp_path / "Pulumi.case.yaml"
    path.write_text(yaml.safe_dump(mutated(PROD, [("network.subnet", "10.0.1.0/29")])), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    assert run_cost(None, str(path), tmp_path, out=out, err=err) == 2
    assert "network.subnet:" in err.getvalue() and UNCAUGHT_MARKER not in err.getvalue()
