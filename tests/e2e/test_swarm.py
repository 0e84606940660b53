"""Docker Swarm mode across three booted hosts on a private network (issue 18): examples/Pulumi.swarm.yaml.

The stack is the preset itself (servers m1/m2/m3 and their roles, 3 managers, api 4 replicas, worker 2,
PostgreSQL with its postgresql.conf and Redis with its password pinned to m3, swarm secrets, the update
settings) with only what cannot exist here replaced (`preset_for_e2e`): the images by the stand-ins of
images.py, Traefik by nginx (no Traefik binary on this machine; acme off: no Let's Encrypt), no volume
(the data directories sit on the root disk), no load balancer (the request loop stands in for it),
encrypted overlays off (see below), the worker's celery command by `sleep`, Debian's docker.io.

Three Debian 12 hosts with real Docker (container.py `docker=True`, Debian's docker.io) get a private NIC
on a bridge inside a network namespace this test creates (private_lan.py). Then, as the Pulumi program
runs them, over SSH with `sudo bash -s`:
1. the host steps (base, ssh, firewall, fail2ban, upgrades, docker) on each host, in parallel;
2. stand-in images (images.py) built on m1 and copied to m2/m3 with `docker save | docker load` (the
   images are named hpe2e.local/..., in no registry: each node runs its local copy);
3. swarm-init on m1, swarm-join on m2 and m3 with the token from m1's output, swarm-node for each
   (labels), then every host's app step, m1's last: `docker stack deploy` and the wait for convergence.
Then: the swarm and the stack are checked, a port scan from the "public" side (this machine's end of
each host's veth) finds only SSH, 80 and 443, a rolling update under a request loop, a broken update
the swarm rolls back by itself, a power cut of m2 whose tasks move elsewhere, and m2's leave step.

What this machine's kernel cannot show (no IPVS, no ESP/GCM; Hetzner's kernels have both, see
../shared/research/swarm/README.md): the ingress routing mesh (the stack does not use it: host-mode
ports and dnsrr) and encrypted overlays, so this stack sets app.swarm.encrypted false.

Run: `.venv/bin/pytest tests/e2e/test_swarm.py -m e2e -q -s` (as root).
"""

from __future__ import annotations

import copy
import hashlib
import secrets
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from config.loader import validate_config
from config.schema import StackConfig
from config.stack_base import read_merged_stack_file
from render.app import app_step, secret_names
from render.cloud_init import render_user_data
from render.host_steps import host_steps
from render.steps import HostRuntime
from render.swarm_host import parse_tokens, swarm_init_step, swarm_join_step, swarm_leave_step, swarm_node_step
from spec.resources import resolve
from tests.prerequisites import skip_or_fail

from . import images
from .conftest import BootHost, Report
from .container import BootedHost
from .docker_host import (
    ADMIN,
    COMPOSE_BINARY,
    COMPOSE_IN_HOST,
    DOCKER_PACKAGES,
    NOFILE,
    SSH_PORT,
    run_steps,
)
from .host_chain import IMAGE_PACKAGES, PROBE_KEY
from .port_scan import open_ports
from .private_lan import PrivateLan
from .request_loop import Figures, RequestLoop, https_get
from .rootfs import Rootfs, ensure_rootfs
from .ssh import KeyPair
from .step_runs import StepRun, step_table

pytestmark = pytest.mark.e2e

PRESET = Path(__file__).resolve().parents[2] / "examples" / "Pulumi.swarm.yaml"
PROJECT = "swarmshop"  # the preset's project: the stack and its services are named after it
SERVERS = {"m1": "10.0.1.11", "m2": "10.0.1.12", "m3": "10.0.1.13"}
VICTIM = "m2"  # the server whose power is cut (a manager and web node: 2 of 3 managers keep quorum)
IMAGE_PREFIX = "hpe2e.local"  # in no registry: every node runs its local copy
SCAN_PORTS = (22, 80, 443, SSH_PORT, 2376, 2377, 5000, 5432, 6379, 7946, 8000, 8080, 9323)


def image(name: str, tag: str) -> str:
    return f"{IMAGE_PREFIX}/{name}:{tag}"


def preset_for_e2e(admin_key_line: str, admin_cidrs: list[str], api_tag: str = "1.0") -> dict[str, Any]:
    values = copy.deepcopy(read_merged_stack_file(PRESET).values)
    assert values["project"] == PROJECT
    compose_sha = hashlib.sha256(COMPOSE_BINARY.read_bytes()).hexdigest() if COMPOSE_BINARY.exists() else "0" * 64
    values["ssh"] |= {"publicKeys": [admin_key_line], "adminCidrs": admin_cidrs}
    assert values["ssh"]["port"] == SSH_PORT and values["ssh"]["adminUser"] == ADMIN
    for name, address in SERVERS.items():
        values["servers"][name] |= {"image": "debian-12", "privateIp": address}
    for key in ("volumes", "loadBalancer"):
        del values[key]
    values["host"] = {
        "publicInterface": "host0",
        "docker": {"source": "debian", "nofile": NOFILE, "composePlugin": {"url": f"file://{COMPOSE_IN_HOST}", "sha256": compose_sha}},
    }
    app = values["app"]
    app["swarm"]["encrypted"] = False  # this kernel has no ESP/GCM: encrypted overlays carry nothing here
    app["proxy"] = {"kind": "nginx", "image": image("nginx", "1.22"), "acme": False}
    app["deploy"] = {"waitTimeoutS": 240}
    services = app["services"]
    services["postgres"]["image"] = image("postgres", images.PG_VERSION)
    services["redis"]["image"] = image("redis", "7")
    services["api"]["image"] = image("web", api_tag)
    services["worker"] |= {"image": image("web", "1.0"), "command": ["sleep", "2147483647"]}
    return values


def server_name(config: StackConfig) -> str:
    """The host name the proxy serves (the preset's expose host "@": the zone)."""
    assert config.dns is not None
    return config.dns.zone


@dataclass
class Swarm:
    hosts: dict[str, BootedHost]
    config: StackConfig
    admin_key: KeyPair
    admin_cidrs: list[str]
    report: Report
    runs: dict[str, list[StepRun]]
    deploy: StepRun
    secrets: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)

    def sudo(self, server: str, script: str, timeout: float = 120.0) -> str:
        self.report.commands += 1
        res = self.hosts[server].admin.run_script(script, timeout=timeout)
        assert res.rc == 0, f"{server}: {script}: rc {res.rc}\n{res.stdout}{res.stderr}"
        return res.stdout

    def redeploy(self, api_tag: str) -> StepRun:
        config = validate_config(preset_for_e2e(self.admin_key.public_line, self.admin_cidrs, api_tag))
        step = app_step(config, "m1", HostRuntime(), self.secrets)
        return run_steps(self.hosts["m1"], [step], self.report)[0]

    def get(self, host: BootedHost, path: str, timeout: float = 5.0) -> tuple[int, str]:
        return https_get(host, path, server_name(self.config), timeout)

    def traffic(self) -> RequestLoop:
        """Requests to m1's proxy, 20/s; 2 s without an answer counts as failed (a dead node's address)."""
        return RequestLoop(self.hosts["m1"], server_name(self.config), timeout=2.0)

    def api_image(self) -> str:
        return self.sudo("m1", f"docker service inspect -f '{{{{.Spec.TaskTemplate.ContainerSpec.Image}}}}' {PROJECT}_api").strip()

    def running(self, service: str) -> list[str]:
        """Nodes (hostnames) with a running task of the service."""
        template = "'{{.Node}} {{.CurrentState}}'"
        out = self.sudo("m1", f"docker service ps {PROJECT}_{service} -f desired-state=running --format {template}")
        return sorted(line.split()[0] for line in out.splitlines() if " Running " in f" {line} ")


def build_images(hosts: dict[str, BootedHost], busybox: Path) -> dict[str, float]:
    """Build the stand-ins on m1, copy them to the others (docker save | docker load)."""
    contexts = {
        image("web", "1.0"): lambda: images.web_context(busybox, "1.0", healthy=True),
        image("web", "1.1"): lambda: images.web_context(busybox, "1.1", healthy=True),
        image("web", "2.0-broken"): lambda: images.web_context(busybox, "2.0-broken", healthy=False),
        image("postgres", images.PG_VERSION): lambda: images.postgres_context(busybox),
        image("redis", "7"): lambda: images.redis_context(busybox),
        image("nginx", "1.22"): lambda: images.nginx_context(busybox),
    }
    t0 = time.monotonic()
    for tag, context in contexts.items():
        res = hosts["m1"].pipe(["docker", "build", "-q", "-t", tag, "-"], context(), timeout=300)
        assert res.returncode == 0, res.stderr.decode(errors="replace")
    t1 = time.monotonic()
    saved = hosts["m1"].pipe(["docker", "save", *contexts], b"", timeout=300)
    assert saved.returncode == 0, saved.stderr.decode(errors="replace")
    for name in ("m2", "m3"):
        loaded = hosts[name].pipe(["docker", "load", "-q"], saved.stdout, timeout=300)
        assert loaded.returncode == 0, loaded.stderr.decode(errors="replace")
    return {"build": round(t1 - t0, 2), "copy": round(time.monotonic() - t1, 2), "bytes": float(len(saved.stdout))}


# ----------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def e2e_rootfs(e2e_rootfs: Rootfs) -> Rootfs:
    probe = validate_config(preset_for_e2e(PROBE_KEY, ["10.213.0.1/32"]))
    wanted = {*probe.host.packages(), *IMAGE_PACKAGES, *DOCKER_PACKAGES}
    if wanted <= set(e2e_rootfs.packages):
        return e2e_rootfs
    return ensure_rootfs(extra_packages=sorted(wanted))


@pytest.fixture(scope="module")
def lan() -> Iterator[PrivateLan]:
    with PrivateLan() as network:
        yield network


@pytest.fixture(scope="module")
def swarm(booted_host_module: BootHost, lan: PrivateLan, admin_key: KeyPair, report: Report, e2e_rootfs: Rootfs) -> Swarm:
    missing = images.missing_machine_binaries() + ([] if COMPOSE_BINARY.exists() else [str(COMPOSE_BINARY)])
    if missing:
        skip_or_fail(f"the stand-in images and the compose plugin need these files from scripts/setup: {missing}")
    t0 = time.monotonic()
    user_data = render_user_data(validate_config(preset_for_e2e(admin_key.public_line, ["203.0.113.0/24"])))
    hosts: dict[str, BootedHost] = {}
    for name, address in SERVERS.items():
        host = booted_host_module(user_data, admin_key, ssh_port=SSH_PORT, docker=True)
        assert host.merged is not None
        target = host.merged / COMPOSE_IN_HOST.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(COMPOSE_BINARY, target)
        lan.attach(host, address)
        hosts[name] = host
    booted = time.monotonic()
    # The admin networks: this machine's end of each host's veth (where the test's SSH comes from).
    admin_cidrs = [f"{host.host_ip}/32" for host in hosts.values()]
    config = validate_config(preset_for_e2e(admin_key.public_line, admin_cidrs))
    runtime = HostRuntime()
    app_secrets = {name: f"e2e-{name.lower()}-{secrets.token_hex(6)}" for name in secret_names(config)}

    def chain(name: str) -> list[StepRun]:
        return run_steps(hosts[name], host_steps(config, resolve(config), name, runtime), report)

    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = dict(zip(SERVERS, pool.map(chain, SERVERS), strict=True))
    failed = [run for steps in runs.values() for run in steps if run.rc != 0]
    assert not failed, "\n".join(run.describe() for run in failed)
    host_steps_done = time.monotonic()
    image_times = build_images(hosts, e2e_rootfs.path / "bin/busybox")
    images_done = time.monotonic()

    init = run_steps(hosts["m1"], [swarm_init_step(config)], report)[0]
    assert init.rc == 0, init.describe()
    tokens = parse_tokens(init.stdout)
    membership = [init]
    for name in ("m2", "m3"):
        membership += run_steps(hosts[name], [swarm_join_step(config, name, tokens)], report)
    membership += run_steps(hosts["m1"], [swarm_node_step(config, name) for name in SERVERS], report)
    failed = [run for run in membership if run.rc != 0]
    assert not failed, "\n".join(run.describe() for run in failed)
    formed = time.monotonic()
    apps = [run_steps(hosts[name], [app_step(config, name, runtime, app_secrets)], report)[0] for name in ("m2", "m3", "m1")]
    healthy = time.monotonic()
    deploy = apps[-1]
    result = Swarm(hosts, config, admin_key, admin_cidrs, report, runs, deploy, app_secrets)
    images_s = images_done - host_steps_done
    result.timings = report.timings
    report.timings.update({
        "boot_3_hosts": round(booted - t0, 2), "host_steps_parallel": round(host_steps_done - booted, 2),
        "images": round(images_s, 2), "swarm_formed": round(formed - images_done, 2), "first_deploy": round(healthy - formed, 2),
        "boot_to_healthy_cluster": round(healthy - t0, 2), "boot_to_healthy_without_images": round(healthy - t0 - images_s, 2),
    })  # fmt: skip
    version = hosts["m1"].nsenter(["docker", "version", "--format", "{{.Server.Version}}"]).stdout.strip()
    report.lines += [
        f"hosts: {', '.join(f'{n} {h.name} public {h.ip} private {SERVERS[n]}' for n, h in hosts.items())}; private LAN netns {lan.name}",
        f"Docker {version} (Debian docker.io); images {image_times}",
        *(f"{name} host steps: {step_table(steps)}" for name, steps in runs.items()),
        f"membership: {step_table(membership)}",
        f"app steps (m2, m3, m1 deploys): {step_table(apps)}",
    ]
    for run in apps:
        assert run.rc == 0, run.describe() + result.sudo("m1", f"docker stack ps --no-trunc {PROJECT} || true")
    return result


# ----------------------------------------------------------------------------------------- tests
def test_swarm_forms_on_the_private_network(swarm: Swarm) -> None:
    nodes = swarm.sudo("m1", "docker node ls --format '{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}'")
    rows = sorted(line.split() for line in nodes.splitlines())
    assert len(rows) == 3 and all(row[1:3] == ["Ready", "Active"] for row in rows), nodes
    assert sum(1 for row in rows if row[3:] == ["Leader"]) == 1
    for name, address in SERVERS.items():
        hostname = swarm.hosts[name].name
        inspect = swarm.sudo("m1", f"docker node inspect -f '{{{{.Status.Addr}}}} {{{{json .Spec.Labels}}}}' {hostname}")
        assert inspect.startswith(address + " "), inspect  # advertised on the private NIC
        assert f'"hp.server":"{name}"' in inspect
        roles = swarm.config.servers[name].roles
        assert all(f'"hp.role.{role}":"true"' in inspect for role in roles if role != "manager")
    swarm.report.check("3 nodes Ready on 10.0.1.11-13 (ens10), one leader, labels hp.server/hp.role.* from the roles")


def test_stack_is_healthy_where_the_roles_put_it(swarm: Swarm) -> None:
    m1, m2, m3 = (swarm.hosts[name].name for name in SERVERS)
    assert sorted(set(swarm.running("api"))) == sorted([m1, m2]) and len(swarm.running("api")) == 4
    assert swarm.running("postgres") == [m3] and swarm.running("redis") == [m3]
    assert swarm.running("worker") == [m3, m3]
    assert swarm.running("nginx") == sorted([m1, m2])
    for name in ("m1", "m2"):
        status, body = swarm.get(swarm.hosts[name], "/version")
        assert (status, body.strip()) == (200, "1.0")
    # SECRET_KEY is a swarm secret file in the task, named in SECRET_KEY_FILE; no env file anywhere.
    api = swarm.sudo("m1", f"docker ps -q -f name={PROJECT}_api | head -n 1").strip()
    assert swarm.sudo("m1", f"docker exec {api} sh -c 'cat \"$SECRET_KEY_FILE\"'") == swarm.secrets["SECRET_KEY"]
    assert "SECRET_KEY=" not in swarm.sudo("m1", f"docker inspect -f '{{{{json .Config.Env}}}}' {api}")
    # PostgreSQL initialised with the password from POSTGRES_PASSWORD_FILE; Redis requires its password.
    pg_node, redis_node = swarm.hosts["m3"], swarm.hosts["m3"]
    pg = pg_node.nsenter(["sh", "-c", f"docker ps -q -f name={PROJECT}_postgres | head -n 1"]).stdout.strip()
    login = pg_node.nsenter(["docker", "exec", "-e", "PGPASSWORD=" + swarm.secrets["POSTGRES_PASSWORD"], pg,
                             "psql", "-h", "127.0.0.1", "-U", "shop", "-d", "shop", "-tAc", "select 1"])
    assert login.stdout.strip() == "1", login.stderr
    redis = redis_node.nsenter(["sh", "-c", f"docker ps -q -f name={PROJECT}_redis | head -n 1"]).stdout.strip()
    assert "NOAUTH" in redis_node.nsenter(["docker", "exec", redis, "redis-cli", "ping"]).stdout
    swarm.report.check(f"stack healthy after {swarm.timings['boot_to_healthy_cluster']} s from boot "
                       f"({swarm.timings['boot_to_healthy_without_images']} s without the image builds); api 4 tasks on m1+m2, "
                       "postgres and redis on m3 with their secrets, nginx global on the web nodes, SECRET_KEY as a /run/secrets file")


def test_public_side_sees_only_ssh_80_and_443(swarm: Swarm) -> None:
    for name, host in swarm.hosts.items():
        found = open_ports(host, SCAN_PORTS)
        expected = [SSH_PORT, 80, 443] if "web" in swarm.config.servers[name].roles else [SSH_PORT]
        assert found == sorted(expected), (name, found)
    swarm.report.check(f"scan of {SCAN_PORTS} from the public side: web nodes {SSH_PORT}/80/443 only, m3 {SSH_PORT} only")


def measured_update(swarm: Swarm, tag: str) -> tuple[StepRun, Figures]:
    with swarm.traffic() as loop:
        time.sleep(1)
        run = swarm.redeploy(tag)
        time.sleep(2)
    return run, loop.figures


def test_rolling_update_fails_no_request(swarm: Swarm) -> None:
    run, traffic = measured_update(swarm, "1.1")
    assert run.rc == 0, run.describe()
    assert not traffic.failed, traffic.summary() + "\n" + traffic.failures(20)
    assert traffic.served()["1.1"] > 0 and set(traffic.served()) <= {"1.0", "1.1"}
    assert swarm.api_image() == image("web", "1.1")
    swarm.timings["update_s"] = run.seconds
    swarm.report.check(f"rolling update 1.0 -> 1.1 in {run.seconds} s: {traffic.summary()}")


def test_broken_update_rolls_back_by_itself(swarm: Swarm) -> None:
    run, traffic = measured_update(swarm, "2.0-broken")
    assert run.rc != 0 and "rolled back" in run.stdout, run.describe()
    assert not traffic.failed, traffic.summary() + "\n" + traffic.failures(20)
    assert set(traffic.served()) == {"1.1"}  # no broken task ever served
    assert swarm.api_image() == image("web", "1.1")
    state = swarm.sudo("m1", f"docker service inspect -f '{{{{.UpdateStatus.State}}}}' {PROJECT}_api").strip()
    assert state == "rollback_completed"
    swarm.report.check(f"broken update 1.1 -> 2.0-broken rolled back by the swarm in {run.seconds} s: {traffic.summary()}")


def spread(swarm: Swarm, service: str, replicas: int) -> list[str]:
    """Swarm never rebalances running tasks (https://docs.docker.com/engine/swarm/admin_guide/#force-the-swarm-to-rebalance),
    and start-first updates can leave both api tasks on one node: scale down and up, and the new task goes
    to the eligible node with the fewest tasks of the service."""
    swarm.sudo("m1", f"docker service scale -d {PROJECT}_{service}=1 >/dev/null")
    deadline = time.monotonic() + 60
    while len(swarm.running(service)) != 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    swarm.sudo("m1", f"docker service scale -d {PROJECT}_{service}={replicas} >/dev/null")
    while len(set(swarm.running(service))) != replicas and time.monotonic() < deadline:
        time.sleep(0.5)
    return swarm.running(service)


def test_power_cut_moves_the_tasks_elsewhere(swarm: Swarm) -> None:
    victim = swarm.hosts[VICTIM]
    before = spread(swarm, "api", 4)
    assert victim.name in before, before
    with swarm.traffic() as loop:
        time.sleep(1)
        cut = time.monotonic()
        victim._kill_init()  # the machine's PID 1 dies: a power cut, no orderly leave
        down_at = moved_at = None
        while time.monotonic() - cut < 80 and (down_at is None or moved_at is None):
            nodes = swarm.sudo("m1", "docker node ls --format '{{.Hostname}} {{.Status}}'")
            if down_at is None and f"{victim.name} Down" in nodes:
                down_at = time.monotonic() - cut
            api = swarm.running("api")
            if moved_at is None and len(api) == 4 and victim.name not in api:
                moved_at = time.monotonic() - cut
            time.sleep(0.5)
        time.sleep(2)
    traffic = loop.figures
    assert down_at is not None and moved_at is not None, (down_at, moved_at, swarm.running("api"))
    assert swarm.running("api") == [swarm.hosts["m1"].name] * 4
    assert swarm.running("postgres") == [swarm.hosts["m3"].name]
    swarm.report.check(f"power cut of m2 (manager, web; {before.count(victim.name)} api tasks): node Down after {down_at:.1f} s, "
                       f"api 4/4 on m1 after {moved_at:.1f} s; {traffic.summary()}")
    swarm.report.lines.append("failed requests during the power cut: " + traffic.failures())


def test_a_server_leaving_is_removed_from_the_swarm(swarm: Swarm) -> None:
    """The delete command of swarm-node-m2 (what Pulumi runs before deleting the server): m2 is down after
    the power cut; the script finds it by its private address, drains it, demotes it and removes it."""
    run = run_steps(swarm.hosts["m1"], [swarm_leave_step(swarm.config, "m2")], swarm.report)[0]
    assert run.rc == 0, run.describe()
    assert "drained" in run.stdout and "removed from the swarm" in run.stdout
    nodes = swarm.sudo("m1", "docker node ls --format '{{.Hostname}}'").split()
    assert sorted(nodes) == sorted([swarm.hosts["m1"].name, swarm.hosts["m3"].name])
    again = run_steps(swarm.hosts["m1"], [swarm_leave_step(swarm.config, "m2")], swarm.report)[0]
    assert again.rc == 0 and "no node advertises 10.0.1.12" in again.stdout, again.describe()
    swarm.report.check(f"swarm-leave for m2: drained and removed in {run.seconds} s; a second run finds nothing to do")
