"""The ops step's timers on a booted Debian 12 "Hetzner server" (issue #6: "in the end-to-end
container the timers are installed and enabled").

One container for the whole module, provisioned by the REAL rendered user-data. The stack has one
server `app` with the db role and a PostgreSQL service (the `postgres` service of Pulumi.prod.yaml's
`hetzner-platform:app` block), an S3 offsite repository, and sentinel values for every name in
`ops_secret_names(config)`. As in the Pulumi program (components/program.py: host steps, then app,
then ops), the host chain (`render.host_steps.host_steps`) runs first, then `render.ops.ops_step`, each as
pulumi-command does it: a new SSH connection per step, `sudo bash -s`, the script on stdin.

Then, inside the container: every rendered timer is installed, enabled, active and has a next
elapse in `systemctl list-timers`; the units pass `systemd-analyze verify`; the installed files
are the rendered ones with the rendered modes, ops.env is 0600 root:root; no sentinel secret reaches
the step's output or the journal; `hp-cleanup.service` runs once and exits 0/SUCCESS; a second run
of the ops step reports `hetzner-platform step=ops changed=0`.

Skips (`sudo` resets the environment, so the test puts `export HP_SKIP=...` in front of the script
text, as test_host_chain.py does; production sends the scripts unchanged):
- host steps: `docker,swap,mount`, for the reasons in test_host_chain.py (no download.docker.com,
  swapon would hit the HOST kernel, no Hetzner volume device);
- ops step: `apt` only. The step's tool check wants restic and jq (not in the image) and would run
  `apt-get install` with no route to a mirror. Installing and enabling the units does not need them
  (only a backup, an alert check or an alert send does), so the image is not rebuilt for them.
  `systemctl` is NOT skipped: the units are really enabled and started by the container's systemd.
Not run: the app step (it deploys with Docker, which the container does not have; the ops step does
not read anything it writes). Without Docker the step enables `hp-node-exporter.service` but does
not start it (the step says so: `note=docker.service missing`); the test asserts exactly that.
A timer that fires during the module (hp-alert-check, every 5 min) would run without jq: no test
depends on such a run.

Found here: hp-cleanup exited 127 (`docker: command not found`) on a host without Docker, so the
daily cleanup failed and alerted; it now skips the prune with a notice (render/templates/ops/rootfs/usr/local/sbin/hp-cleanup).
Also found here: the base step and the ops step installed different content at the same path,
/etc/systemd/journald.conf.d/50-hetzner-platform.conf; the base step now owns it.

Run: `.venv/bin/pytest tests/e2e/test_ops_timers.py -m e2e -q -s` (as root).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import shlex
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.loader import validate_config
from config.schema import StackConfig
from render.cloud_init import render_user_data
from render.host_steps import host_steps
from render.ops import file_mode, ops_step
from render.ops_conf import ops_secret_names
from render.steps import HostRuntime, HostStep
from spec.host_paths import ENV_PATH
from spec.resources import resolve

from .conftest import BootHost, Report
from .container import BootedHost
from .host_chain import (
    FLOATING_IP,
    IMAGE_PACKAGES,
    PROBE_KEY,
    SERVER,
    SSH_PORT,
    VOLUME_ID,
    run_chain,
    stack_values,
)
from .rootfs import Rootfs, ensure_rootfs
from .ssh import KeyPair, Result
from .step_runs import StepRun, run_steps, step_table

pytestmark = pytest.mark.e2e

OPS_SKIP = ("apt",)  # see the module docstring
# Copied from Pulumi.prod.yaml's hetzner-platform:app block: the proxy and the postgres service.
APP = {
    "acmeEmail": "ops@chrono.example.com",
    "proxy": {"kind": "traefik", "limits": {"cpus": 0.25, "memory": "128M"}, "reservations": {"cpus": 0.1, "memory": "64M"}},
    "generateSecrets": ["POSTGRES_PASSWORD"],
    "services": {
        "postgres": {
            "image": "postgres:15-alpine",
            "role": "db",
            "environment": {"POSTGRES_USER": "chrono", "POSTGRES_DB": "chrono"},
            "secretEnv": ["POSTGRES_PASSWORD"],
            "volumes": {"postgres": "/var/lib/postgresql/data"},
            "configFiles": {"kind": "postgres", "maxConnections": 100},
            "limits": {"cpus": 1.0, "memory": "1.5G"},
            "reservations": {"cpus": 0.5, "memory": "1G"},
        },
    },
}
# An S3 offsite repository, so that ops_secret_names() holds more than the webhook URL.
OPS = {"backup": {"offsite": {"repository": "s3:https://fsn1.your-objectstorage.com/hpe2e-backups/prod"}}}
# Timers the ops step renders for a db server with PostgreSQL and the default ops config.
EXPECTED_TIMERS = ("hp-alert-check.timer", "hp-backup-daily.timer", "hp-backup-hourly.timer", "hp-cleanup.timer", "hp-restore-drill.timer")
NODE_EXPORTER = "hp-node-exporter.service"
DOCKER_NOTE = "hetzner-platform step=ops note=docker.service missing, not starting node exporter"
# The longest timer period (daily) plus the largest RandomizedDelaySec (300 s) and AccuracySec (1 min).
MAX_NEXT_ELAPSE = timedelta(days=1, minutes=7)


def ops_stack_values(admin_key_line: str, admin_cidr: str) -> dict[str, Any]:
    values = stack_values(admin_key_line, admin_cidr)
    values["servers"][SERVER]["roles"] = ["web", "db", "worker"]  # as the prod server
    values["app"] = APP
    values["ops"] = OPS
    return values


def sentinel_secrets(config: StackConfig) -> dict[str, str]:
    """A unique, unguessable value per secret name; the webhook's secret part is in the URL path (as
    for Slack), and one value carries shell quoting characters for ops.env."""
    values = {}
    for name in ops_secret_names(config):
        token = f"hp-e2e-sentinel-{name}-{secrets.token_hex(8)}"
        if name == "alertWebhookUrl":
            values[name] = f"https://hooks.invalid/services/{token}"
        elif name == "resticPassword":
            values[name] = f"{token}'$(touch /tmp/pwned)\"`x` ;"
        else:
            values[name] = token
    return values


# ------------------------------------------------------------------------------------ records
@dataclass
class OpsHost:
    host: BootedHost
    config: StackConfig
    step: HostStep
    secrets: dict[str, str]
    chain: list[StepRun]
    first: StepRun
    second: StepRun
    report: Report
    timings: dict[str, float]

    @property
    def timers(self) -> list[str]:
        return sorted(path.rsplit("/", 1)[1] for path in self.step.files if path.endswith(".timer"))

    @property
    def units(self) -> list[str]:
        return sorted(path.rsplit("/", 1)[1] for path in self.step.files if path.startswith("/etc/systemd/system/"))

    def root(self, script: str, timeout: float = 120.0) -> Result:
        """A root shell script in the container over SSH (sudo bash -s, script on stdin)."""
        self.report.commands += 1
        return self.host.admin.run_script(script, timeout=timeout)

    def sudo(self, script: str) -> str:
        res = self.root(script)
        assert res.rc == 0, f"{script}: rc {res.rc}\n{res.stdout}{res.stderr}"
        return res.stdout


def run_ops(host: BootedHost, step: HostStep, report: Report) -> StepRun:
    return run_steps(host, [step], report, skip=OPS_SKIP, timeout=300)[0]


# ----------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def e2e_rootfs(e2e_rootfs: Rootfs) -> Rootfs:
    """The image test_host_chain.py uses: the harness image plus what the base step would apt-install."""
    probe = validate_config(ops_stack_values(PROBE_KEY, "10.213.0.1/32"))
    wanted = {*probe.host.packages(), *IMAGE_PACKAGES}
    if wanted <= set(e2e_rootfs.packages):
        return e2e_rootfs
    return ensure_rootfs(extra_packages=sorted(wanted))


@pytest.fixture(scope="module")
def ops(booted_host_module: BootHost, admin_key: KeyPair, report: Report) -> OpsHost:
    t0 = time.monotonic()
    user_data = render_user_data(validate_config(ops_stack_values(admin_key.public_line, "203.0.113.0/24")))
    host = booted_host_module(user_data, admin_key, ssh_port=SSH_PORT)
    boot = round(time.monotonic() - t0, 2)
    config = validate_config(ops_stack_values(admin_key.public_line, f"{host.host_ip}/32"))
    runtime = HostRuntime(volume_ids={"data": VOLUME_ID}, floating_ip=FLOATING_IP, private_ip="10.0.1.2")
    values = sentinel_secrets(config)
    step = ops_step(config, SERVER, runtime, values)
    assert step is not None, "ops is enabled by default"
    t1 = time.monotonic()
    chain = run_chain(host, host_steps(config, resolve(config), SERVER, runtime), report)
    failed = [run for run in chain if run.rc != 0]
    assert not failed, "host chain failed before the ops step:\n" + "\n".join(run.describe() for run in failed)
    t2 = time.monotonic()
    first = run_ops(host, step, report)
    t3 = time.monotonic()
    second = run_ops(host, step, report)
    t4 = time.monotonic()
    timings = report.timings  # the module's footer prints them, with what the tests add
    timings.update({"boot": boot, "host_chain": round(t2 - t1, 2), "ops_first": round(t3 - t2, 2), "ops_second": round(t4 - t3, 2)})
    report.lines += [
        f"container {host.name} at {host.ip}:{SSH_PORT}; boot {host.timings}",
        f"host chain (HP_SKIP=docker,swap,mount, {timings['host_chain']:.1f} s): {step_table(chain)}",
        f"ops step (HP_SKIP={','.join(OPS_SKIP)}): first {step_table([first])}, second {step_table([second])}",
        f"secrets given as sentinels: {sorted(values)}",
    ]
    return OpsHost(host, config, step, values, chain, first, second, report, timings)


# ------------------------------------------------------------------------------------- the step
def test_rendered_units(ops: OpsHost) -> None:
    assert tuple(ops.timers) == EXPECTED_TIMERS
    assert NODE_EXPORTER in ops.units and "hp-alert@.service" in ops.units
    assert sorted(ops.secrets) == ["alertWebhookUrl", "resticPassword", "s3AccessKey", "s3SecretKey"]
    ops.report.check(f"rendered: {len(ops.units)} units, timers {', '.join(ops.timers)}")


def test_first_run_succeeds(ops: OpsHost) -> None:
    run = ops.first
    assert run.rc == 0 and run.changed is not None, run.describe()
    updated = {line.split(" updated ", 1)[1] for line in run.lines("hetzner-platform step=ops updated ")}
    # Every file the ops step installs is new on this host.
    assert updated == set(ops.step.files), sorted(set(ops.step.files) ^ updated)
    assert run.changed == len(ops.step.files), run.describe()
    # Docker is not in the container: the exporter is enabled but not started, as documented.
    assert DOCKER_NOTE in run.stdout.splitlines(), run.describe()
    assert "installed" not in run.stdout, "HP_SKIP=apt: no apt-get"
    ops.report.check(f"first ops run: rc 0, {run.changed} files written, node exporter note printed")


def test_second_run_changes_nothing(ops: OpsHost) -> None:
    run = ops.second
    assert run.rc == 0, run.describe()
    assert "hetzner-platform step=ops changed=0" in run.stdout.splitlines(), run.describe()
    assert run.lines("hetzner-platform step=ops updated ") == [], run.describe()
    ops.report.check("second ops run: rc 0, `hetzner-platform step=ops changed=0`")


def test_no_secret_in_step_output(ops: OpsHost) -> None:
    # The secrets, the tokens inside them, and the base64 of ops.env (the step carries it so).
    needles = [*ops.secrets.values(), *(re.search(r"hp-e2e-sentinel-[\w-]+", v).group(0) for v in ops.secrets.values())]  # type: ignore[union-attr]
    needles.append(base64.b64encode(ops.step.files[ENV_PATH].encode()).decode())
    for run in (ops.first, ops.second):
        for needle in needles:
            assert needle not in run.stdout and needle not in run.stderr, f"secret in the {run.name} step's output"
    # stderr only holds systemctl's symlink messages.
    for line in (ops.first.stderr + ops.second.stderr).splitlines():
        assert line.startswith("Created symlink "), line
    ops.report.check(f"no sentinel ({len(ops.secrets)} secrets) and no encoded ops.env in either run's stdout/stderr")


# ---------------------------------------------------------------------------- files on the host
def test_installed_files_and_modes(ops: OpsHost) -> None:
    paths = sorted(ops.step.files)
    out = ops.sudo("".join(f"printf '%s ' \"$(stat -c '%a %U:%G' {p})\"; sha256sum {p}\n" for p in map(shlex.quote, paths)))
    found = {}
    for line in out.splitlines():
        mode, owner, digest, path = line.split()
        found[path] = (mode, owner, digest)
    expected = {p: (file_mode(p).lstrip("0"), "root:root", hashlib.sha256(ops.step.files[p].encode()).hexdigest()) for p in paths}
    assert found == expected
    assert found[ENV_PATH][:2] == ("600", "root:root")
    # ops.env really holds the secrets, quoted so that bash reads them back unchanged.
    echo = ops.sudo(
        "set -a; . /etc/hetzner-platform/ops.env\n"
        'printf "%s\\n" "$HP_ALERT_WEBHOOK_URL" "$RESTIC_PASSWORD" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"\n'
        "test ! -e /tmp/pwned\n"
    )
    names = ("alertWebhookUrl", "resticPassword", "s3AccessKey", "s3SecretKey")
    assert echo.splitlines() == [ops.secrets[name] for name in names]
    ops.report.check(f"{len(paths)} files as rendered (sha256, mode, root:root); ops.env 0600 root:root, sources back to the secrets")


# ---------------------------------------------------------------------------------- the timers
def test_timers_installed_enabled_active(ops: OpsHost) -> None:
    timers = ops.timers
    script = "".join(f'echo "{t} $(systemctl is-enabled {t}) $(systemctl is-active {t})"\n' for t in timers)
    states = {line.split()[0]: tuple(line.split()[1:]) for line in ops.root(script).stdout.splitlines()}
    assert states == {t: ("enabled", "active") for t in timers}
    # Each timer's service is installed, and the timer is wanted by timers.target (really enabled).
    show = ops.sudo(f"systemctl show -p Id -p Unit -p LoadState -p UnitFileState -p SubState {' '.join(timers)}")
    blocks = [dict(line.split("=", 1) for line in block.splitlines()) for block in show.strip().split("\n\n")]
    for block in blocks:
        # "running" while its service runs (hp-alert-check may fire during the module).
        assert block["LoadState"] == "loaded" and block["UnitFileState"] == "enabled", block
        assert block["SubState"] in ("waiting", "running"), block
        assert block["Unit"] == block["Id"].replace(".timer", ".service") and block["Unit"] in ops.units, block
    wants = ops.sudo("ls /etc/systemd/system/timers.target.wants").split()
    assert set(timers) <= set(wants), wants
    subs = {block["Id"]: block["SubState"] for block in blocks}
    ops.report.lines.append("timers: " + ", ".join(f"{t} {'/'.join(states[t])}/{subs[t]}" for t in timers))
    ops.report.check(f"{len(timers)} timers: is-enabled enabled, is-active active, in timers.target.wants")


def test_list_timers_next_elapse(ops: OpsHost) -> None:
    # The host's own clock, not this process's: the booted host runs on the real clock even when the
    # suite runs under faketime (scripts/test-clock), and the next elapse is computed from the host's.
    now = datetime.fromtimestamp(int(ops.sudo("date +%s").strip()), UTC)
    out = ops.sudo("SYSTEMD_COLORS=0 TZ=UTC systemctl list-timers --all --no-pager --no-legend 'hp-*'")
    rows = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[-2].endswith(".timer"):
            rows[fields[-2]] = line
    assert sorted(rows) == ops.timers, out
    nexts = {}
    for timer, line in rows.items():
        # "Mon 2026-11-23 12:05:41 UTC 4min 3s left n/a n/a hp-backup-hourly.timer hp-backup-hourly.service"
        match = re.match(r"^\w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC ", line)
        assert match, f"no next elapse for {timer}: {line!r}"
        nxt = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert now - timedelta(minutes=2) < nxt <= now + MAX_NEXT_ELAPSE, (timer, nxt, now)
        nexts[timer] = match.group(1)
    ops.report.lines.append("list-timers NEXT (UTC): " + ", ".join(f"{t} {nexts[t]}" for t in ops.timers))
    ops.report.check("systemctl list-timers: every timer has a next elapse within its period")


def test_node_exporter_enabled_not_started(ops: OpsHost) -> None:
    state = ops.root(f"systemctl is-enabled {NODE_EXPORTER}; systemctl is-active {NODE_EXPORTER}").stdout.split()
    assert state == ["enabled", "inactive"], state
    ops.report.check(f"{NODE_EXPORTER}: enabled, not started (no docker.service in the container)")


def test_systemd_analyze_verify(ops: OpsHost) -> None:
    units = [f"/etc/systemd/system/{u}" for u in ops.units if u not in (NODE_EXPORTER, "hp-alert@.service")]
    # A template cannot be verified as such: verify an instance, as OnFailure= starts it.
    res = ops.root(
        "cd /tmp && cp /etc/systemd/system/hp-alert@.service 'hp-alert@hp-cleanup.service'\n"
        f"systemd-analyze verify {' '.join(units)} /tmp/hp-alert@hp-cleanup.service 2>&1; rc=$?\n"
        "rm -f '/tmp/hp-alert@hp-cleanup.service'; exit $rc\n"
    )
    assert res.rc == 0 and res.stdout.strip() == "" and res.stderr.strip() == "", f"rc {res.rc}\n{res.stdout}{res.stderr}"
    # The exporter runs /usr/bin/docker and Requires=docker.service: only Docker's absence may show.
    exporter = ops.root(f"systemd-analyze verify /etc/systemd/system/{NODE_EXPORTER} 2>&1")
    lines = [line for line in exporter.stdout.splitlines() if line.strip()]
    assert all("docker" in line for line in lines), exporter.stdout
    ops.report.check(f"systemd-analyze verify: {len(units) + 1} units clean; {NODE_EXPORTER}: only Docker's absence ({len(lines)} lines)")
    if lines:
        ops.report.lines.append(f"verify {NODE_EXPORTER} (no Docker in the container): " + " | ".join(lines))


# --------------------------------------------------------------------------------- hp-cleanup
def test_cleanup_service_succeeds(ops: OpsHost) -> None:
    started = time.monotonic()
    res = ops.root("systemctl start hp-cleanup.service", timeout=300)
    seconds = round(time.monotonic() - started, 2)
    show = ops.sudo("systemctl show -p Result -p ExecMainCode -p ExecMainStatus -p ActiveState hp-cleanup.service")
    props = dict(line.split("=", 1) for line in show.splitlines())
    status = ops.root("SYSTEMD_COLORS=0 systemctl status --no-pager --lines=20 hp-cleanup.service").stdout
    journal = ops.sudo("journalctl --no-pager -o cat -u hp-cleanup.service")
    assert res.rc == 0, f"systemctl start hp-cleanup.service: rc {res.rc}\n{res.stderr}\n{status}\n{journal}"
    assert props == {"Result": "success", "ExecMainCode": "1", "ExecMainStatus": "0", "ActiveState": "inactive"}, props
    assert "status=0/SUCCESS" in status, status
    assert re.search(r"^hp-cleanup ok deleted=\d+$", journal, re.MULTILINE), journal
    # Without Docker the prune is skipped with a notice (render/templates/ops/rootfs/usr/local/sbin/hp-cleanup); an
    # installed Docker whose prune fails still fails the run (tests/ops covers that side).
    assert "docker system prune: skipped, docker is not installed" in journal.splitlines(), journal
    # No failure, so the OnFailure= alert unit (loaded with the service, as a dependency) never started.
    alert = ops.sudo("systemctl show -p InactiveExitTimestampMonotonic -p Result 'hp-alert@hp-cleanup.service.service'")
    assert dict(line.split("=", 1) for line in alert.splitlines()) == {"InactiveExitTimestampMonotonic": "0", "Result": "success"}, alert
    ops.timings["cleanup"] = seconds
    ops.report.lines.append("hp-cleanup.service journal: " + " | ".join(line for line in journal.splitlines() if line.strip()))
    ops.report.check(f"systemctl start hp-cleanup.service: status=0/SUCCESS in {seconds} s without Docker")


def test_no_secret_in_the_journal(ops: OpsHost) -> None:
    journal = ops.sudo("journalctl --no-pager -o cat")
    for name, value in ops.secrets.items():
        token = re.search(r"hp-e2e-sentinel-[\w-]+", value)
        assert token and token.group(0) not in journal, f"{name} in the container's journal"
    ops.report.check(f"no sentinel in the container's journal ({len(journal.splitlines())} lines)")


# Found here once: base and ops both wrote the journald drop-in, each undoing the other. The base step
# now owns it; this keeps the two steps from fighting over any file again.
def test_base_and_ops_agree_on_the_journald_dropin(ops: OpsHost) -> None:
    """After the ops step, the base step and then the ops step again must both change nothing."""
    steps = host_steps(ops.config, resolve(ops.config), SERVER, HostRuntime(volume_ids={"data": VOLUME_ID}))
    base = next(step for step in steps if step.name == "base")
    again = run_chain(ops.host, [base], ops.report)[0]
    ops_again = run_ops(ops.host, ops.step, ops.report)
    changed = [*again.lines("changed: "), *ops_again.lines("hetzner-platform step=ops updated ")]
    assert again.rc == 0 and ops_again.rc == 0
    assert (again.changed, ops_again.changed) == (0, 0), changed
