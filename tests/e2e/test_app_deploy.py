"""The rendered app step's deploy control flow on a booted Debian 12 host (issue #5 item 6).

The real `render.app.app_step` script runs over SSH exactly like pulumi-command runs it
(`sudo bash -s`, script on STDIN, one connection per command), on the container's real paths
(/opt/<project>, no HP_ROOT), with the host's real bash, sudo, flock and coreutils.

Docker itself cannot run here, so two TEST DOUBLES written by the app engineer stand in for it:
`tests/app/fake_docker` (plays `docker compose` pull/run/up/ps/down; an image tag with a marker
such as `hp-fail-health` makes a release broken) and `tests/app/fake_curl` (answers the deploy's
health check from fake_docker's state: 503 for a running release marked `hp-fail-health`).
They are installed in the container as /usr/local/bin/docker and /usr/local/bin/curl (first in
sudo's secure_path), with their state in /var/lib/hp-e2e-fake-docker. Nothing here is a real
container engine: what is tested is the step's control flow (releases, `current` link,
rollback), not Docker.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from config.schema import StackConfig
from render.app import app_step, release_id
from render.cloud_init import render_user_data
from render.steps import HostRuntime

from ..app.conftest import base_values, load, small_app
from .conftest import BootHost, add_summary
from .container import BootedHost
from .ssh import KeyPair, Result

pytestmark = pytest.mark.e2e

SERVER = "app"
SSH_PORT = 2222
DOUBLES = Path(__file__).resolve().parents[1] / "app"
DOUBLES_DIR = "/usr/local/lib/hp-e2e-test-doubles"
FAKE_STATE = "/var/lib/hp-e2e-fake-docker"
SECRETS = {"POSTGRES_PASSWORD": "pw-E2e-Sentinel-1", "JWT_SECRET": "jwt-E2e-Sentinel-2"}
SUMMARY = "hetzner-platform step=app changed="


def app_config(admin_key: KeyPair, image: str = "ghcr.io/acme/api:1.0") -> StackConfig:
    ssh = {"adminUser": "deploy", "port": SSH_PORT, "publicKeys": [admin_key.public_line], "adminCidrs": ["203.0.113.0/24"]}
    return load(base_values(small_app(image), ssh=ssh))


class DeployHost:
    """The booted container with the test doubles installed, and what the deploys left behind."""

    def __init__(self, host: BootedHost, project: str) -> None:
        self.host = host
        self.base = f"/opt/{project}"
        self.commands = 0
        self.log: list[str] = []
        self.outputs: list[str] = []

    def sudo(self, cmd: str) -> str:
        self.commands += 1
        res = self.host.admin.run(f"sudo {cmd}")
        assert res.rc == 0, f"{cmd}: rc {res.rc}\n{res.stdout}{res.stderr}"
        return res.stdout

    def install_doubles(self) -> None:
        admin = self.host.admin
        for name in ("fake_docker", "fake_curl"):
            admin.put_file(f"/tmp/{name}", (DOUBLES / name).read_text(), mode=0o755)
            self.commands += 1
        shim = (
            "#!/bin/sh\n# TEST DOUBLE (hetzner-platform e2e): not Docker.\n"
            f'FAKE_DOCKER_STATE={FAKE_STATE} exec python3 {DOUBLES_DIR}/%s "$@"\n'
        )
        admin.put_file("/tmp/docker", shim % "fake_docker", mode=0o755)
        admin.put_file("/tmp/curl", shim % "fake_curl", mode=0o755)
        self.commands += 2
        self.sudo(
            f"sh -c 'install -d -m 0755 {DOUBLES_DIR} {FAKE_STATE} && "
            f"install -m 0755 /tmp/fake_docker /tmp/fake_curl {DOUBLES_DIR}/ && "
            "install -m 0755 /tmp/docker /tmp/curl /usr/local/bin/ && rm /tmp/fake_docker /tmp/fake_curl /tmp/docker /tmp/curl'"
        )

    def deploy(self, config: StackConfig, secrets: Mapping[str, str] = SECRETS) -> Result:
        step = app_step(config, SERVER, HostRuntime(), secrets)
        self.commands += 1
        res = self.host.admin.run_script(step.script, timeout=120)
        self.outputs.append(res.stdout + res.stderr)
        self.log.append(f"deploy {release_id(config, SERVER)}: rc {res.rc}, {res.seconds:.1f} s, summary {summary(res)!r}")
        return res

    def current(self) -> str | None:
        self.commands += 1
        res = self.host.admin.run(f"readlink {self.base}/current")
        return Path(res.stdout.strip()).name if res.rc == 0 else None

    def running(self) -> str | None:
        """The release fake_docker last brought `up` and did not take `down` (its compose file's dir)."""
        self.commands += 1
        res = self.host.admin.run(f"sudo cat {FAKE_STATE}/running")
        return Path(res.stdout.strip()).parent.name if res.rc == 0 else None

    def ups(self) -> list[str]:
        return [Path(line).parent.name for line in self.sudo(f"cat {FAKE_STATE}/up.log").splitlines()]


def summary(res: Result) -> str | None:
    lines = [line for line in res.stdout.splitlines() if line.startswith(SUMMARY)]
    return lines[-1] if lines else None


@pytest.fixture(scope="module")
def deploy_host(booted_host_module: BootHost, admin_key: KeyPair) -> DeployHost:
    started = time.monotonic()
    config = app_config(admin_key)
    host = booted_host_module(render_user_data(config), admin_key, ssh_port=SSH_PORT)
    target = DeployHost(host, config.project)
    target.install_doubles()
    target.log.append(f"container {host.name} {host.ip}:{SSH_PORT}: booted and doubles installed in {time.monotonic() - started:.1f} s")
    return target


def test_doubles_are_installed_first_in_sudo_path(deploy_host: DeployHost) -> None:
    assert deploy_host.sudo("sh -c 'command -v docker; command -v curl'").split() == ["/usr/local/bin/docker", "/usr/local/bin/curl"]
    assert "TEST DOUBLE" in deploy_host.sudo("cat /usr/local/bin/docker")


def test_healthy_release_becomes_current(deploy_host: DeployHost, admin_key: KeyPair) -> None:
    config = app_config(admin_key)
    good = release_id(config, SERVER)
    res = deploy_host.deploy(config)
    assert res.rc == 0, f"{res.stdout}\n{res.stderr}"
    assert summary(res) == f"{SUMMARY}1"
    assert deploy_host.current() == good
    assert deploy_host.running() == good
    # The env file holds the secrets, root-only; every compose call saw it at 0600 (fake_docker checks).
    assert deploy_host.sudo(f"stat -c '%a %U' {deploy_host.base}/releases/{good}/.env").split() == ["600", "root"]
    # A second run of the same release on a healthy host is a no-op.
    again = deploy_host.deploy(config)
    assert again.rc == 0 and summary(again) == f"{SUMMARY}0", again.stdout
    assert deploy_host.ups() == [good]


def test_broken_release_rolls_back_to_the_previous_one(deploy_host: DeployHost, admin_key: KeyPair) -> None:
    good = release_id(app_config(admin_key), SERVER)
    assert deploy_host.current() == good, "test_healthy_release_becomes_current runs first"
    broken_config = app_config(admin_key, "ghcr.io/acme/api:hp-fail-health")
    broken = release_id(broken_config, SERVER)
    res = deploy_host.deploy(broken_config)
    assert res.rc != 0
    assert summary(res) is None
    # The health output is in the step's output (what pulumi shows), and so is the rollback.
    assert "HTTP 503" in res.stdout and '"database": "unreachable"' in res.stdout, res.stdout
    assert f"rolled back: release {good} is current and running again" in res.stdout, res.stdout
    assert deploy_host.current() == good
    assert deploy_host.running() == good
    assert deploy_host.ups() == [good, broken, good]


def test_release_that_never_gets_healthy_rolls_back(deploy_host: DeployHost, admin_key: KeyPair) -> None:
    good = release_id(app_config(admin_key), SERVER)
    res = deploy_host.deploy(app_config(admin_key, "ghcr.io/acme/api:hp-fail-wait"))
    assert res.rc != 0
    assert "containers did not start or become healthy" in res.stdout, res.stdout
    assert "container leap-api-1 is unhealthy" in res.stderr, res.stderr
    assert deploy_host.current() == good
    assert deploy_host.running() == good


# prune() once read `cat releases/*/MANIFEST | grep -qxF FILE` under pipefail: grep -q exiting at the
# match made cat die of SIGPIPE and files that kept releases still list were deleted at random. Every
# listed file must survive every deploy.


def missing_listed_files(deploy_host: DeployHost) -> list[str]:
    """Every file a kept release's MANIFEST lists must exist (its compose file mounts it)."""
    script = (
        f"cd {deploy_host.base}/releases\n"
        'for rel in */; do while IFS= read -r f; do [ -f "$f" ] || echo "${rel%/} $f"; done <"$rel/MANIFEST"; done\n'
    )
    deploy_host.commands += 1
    res = deploy_host.host.admin.run_script(script)
    assert res.rc == 0, res
    return res.stdout.splitlines()


def test_new_releases_keep_what_they_list_and_prune_the_rest(deploy_host: DeployHost, admin_key: KeyPair) -> None:
    keep = app_config(admin_key).app.deploy.keep_releases
    ids, missing = [], []
    for tag in ("1.1", "1.2", "1.3"):
        config = app_config(admin_key, f"ghcr.io/acme/api:{tag}")
        res = deploy_host.deploy(config)
        assert res.rc == 0, f"{res.stdout}\n{res.stderr}"
        ids.append(release_id(config, SERVER))
        assert deploy_host.current() == ids[-1]
        missing += [f"after {tag}: {line}" for line in missing_listed_files(deploy_host)]
    kept = deploy_host.sudo(f"ls {deploy_host.base}/releases").split()
    assert sorted(kept) == sorted(ids[-keep:]), kept  # the failed releases and 1.0 are pruned
    assert not missing, "prune deleted files a kept release lists:\n" + "\n".join(missing)


def test_no_secret_in_any_output_and_summary(deploy_host: DeployHost) -> None:
    # What pulumi would log (the step's stdout and stderr) and what the doubles were called with.
    outputs = "".join(deploy_host.outputs) + deploy_host.sudo(f"cat {FAKE_STATE}/calls.log {FAKE_STATE}/curl.log")
    assert len(deploy_host.outputs) >= 4
    for value in SECRETS.values():
        assert value not in outputs
    lines = [*deploy_host.log, f"commands over SSH: {deploy_host.commands}"]
    add_summary("tests.e2e.test_app_deploy (fake_docker/fake_curl test doubles):\n" + "\n".join(lines))
    print("\n[hp-e2e] " + "\n[hp-e2e] ".join(lines))
