"""The real rendered deploy script, run with bash against a temporary root and a fake docker/curl.

fake_docker and fake_curl (test doubles, see their headers) play healthy and broken releases: an image
tag with a marker (hp-fail-health, hp-fail-wait, hp-fail-migrate, hp-fail-pull) makes that step fail.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.schema import StackConfig
from render.app import app_step, build_release, release_id
from render.steps import HostRuntime
from tests.prerequisites import require_tool
from tests.stacks import app_stack, small_app

from .conftest import load

HERE = Path(__file__).resolve().parent
SECRETS = {"POSTGRES_PASSWORD": "pw-Sentinel-1", "JWT_SECRET": "jwt-Sentinel-2"}


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def summary(self) -> str | None:
        lines = [line for line in self.stdout.splitlines() if line.startswith("hetzner-platform step=app")]
        return lines[-1] if lines else None


class FakeHost:
    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "root"
        self.bin = tmp_path / "bin"
        self.state = tmp_path / "state"
        for path in (self.root, self.bin, self.state):
            path.mkdir(parents=True)
        for name, target in (("docker", "fake_docker"), ("curl", "fake_curl")):
            shim = self.bin / name
            shim.write_text(f'#!/bin/sh\nexec {sys.executable} {HERE / target} "$@"\n')
            shim.chmod(0o755)
        # No real waiting between health attempts.
        (self.bin / "sleep").write_text("#!/bin/sh\nexit 0\n")
        (self.bin / "sleep").chmod(0o755)
        self.runs: list[Run] = []

    def deploy(self, config: StackConfig, secrets: dict[str, str] | None = None, server: str = "app",
               private_registries: str = "") -> Run:
        step = app_step(config, server, HostRuntime(), secrets or SECRETS)
        env = {
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "HP_ROOT": str(self.root),
            "FAKE_DOCKER_STATE": str(self.state),
            "HOME": str(self.root),
            "FAKE_DOCKER_PRIVATE": private_registries,
        }
        done = subprocess.run(["bash", "-s"], input=step.script, env=env, capture_output=True, text=True, timeout=60)
        run = Run(done.returncode, done.stdout, done.stderr)
        self.runs.append(run)
        return run

    @property
    def base(self) -> Path:
        return self.root / "opt" / "leap"

    def current(self) -> str | None:
        link = self.base / "current"
        return Path(os.readlink(link)).name if link.is_symlink() else None

    def running(self) -> str | None:
        path = self.state / "running"
        return Path(path.read_text()).parent.name if path.exists() else None

    def calls(self) -> list[str]:
        path = self.state / "calls.log"
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    require_tool("flock")
    return FakeHost(tmp_path)


def config_with(image: str = "ghcr.io/acme/api:1.0", **app_overrides: object) -> StackConfig:
    return load(app_stack(small_app(image, **app_overrides)))


def test_good_release_becomes_current_and_runs(host: FakeHost) -> None:
    config = config_with()
    run = host.deploy(config)
    assert run.returncode == 0, run.output
    release = release_id(config, "app")
    assert run.summary == "hetzner-platform step=app changed=1"
    assert host.current() == release
    assert host.running() == release
    directory = host.base / "releases" / release
    env = directory / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert "POSTGRES_PASSWORD='pw-Sentinel-1'" in env.read_text()
    # Every content-addressed config file is installed where the compose file mounts it.
    for path, content in build_release(config, "app").shared_files.items():
        assert (host.root / path.lstrip("/")).read_text() == content
    for data in ("pgdata", "redis"):
        assert (host.root / "mnt/data/leap" / data).is_dir()
    calls = host.calls()
    order = [call.split()[9] for call in calls]  # the compose subcommand after the 4 global options
    assert order[:3] == ["pull", "run", "up"], calls
    assert "run --rm --no-TTY api alembic upgrade head" in calls[1]
    curl = (host.state / "curl.log").read_text()
    assert "--resolve api.example.com:443:127.0.0.1 https://api.example.com:443/health" in curl


def test_same_release_already_current_and_healthy_is_a_no_op(host: FakeHost) -> None:
    config = config_with()
    assert host.deploy(config).returncode == 0
    calls_before = len(host.calls())
    run = host.deploy(config)
    assert run.returncode == 0, run.output
    assert run.summary == "hetzner-platform step=app changed=0"
    new_calls = host.calls()[calls_before:]
    assert all(" ps " in call for call in new_calls), new_calls  # only the running check, no pull/up


def test_broken_release_keeps_previous_current_and_running(host: FakeHost) -> None:
    good = config_with()
    assert host.deploy(good).returncode == 0
    good_id = release_id(good, "app")
    broken = config_with("ghcr.io/acme/api:hp-fail-health")
    run = host.deploy(broken)
    assert run.returncode != 0
    assert run.summary is None
    # The health output is printed, and the previous release is current and running again.
    assert "HTTP 503" in run.stdout and '"database": "unreachable"' in run.stdout, run.output
    assert f"rolled back: release {good_id} is current and running again" in run.stdout
    assert host.current() == good_id
    assert host.running() == good_id
    ups = (host.state / "up.log").read_text().splitlines()
    assert [Path(line).parent.name for line in ups] == [good_id, release_id(broken, "app"), good_id]


def test_containers_that_never_become_healthy_roll_back(host: FakeHost) -> None:
    good = config_with()
    assert host.deploy(good).returncode == 0
    run = host.deploy(config_with("ghcr.io/acme/api:hp-fail-wait"))
    assert run.returncode != 0
    assert "containers did not start or become healthy" in run.stdout
    assert "container leap-api-1 is unhealthy" in run.stderr
    assert host.current() == release_id(good, "app")
    assert host.running() == release_id(good, "app")


def test_failed_migration_never_switches(host: FakeHost) -> None:
    good = config_with()
    assert host.deploy(good).returncode == 0
    broken = config_with("ghcr.io/acme/api:hp-fail-migrate")
    run = host.deploy(broken)
    assert run.returncode != 0
    assert "migrations failed" in run.stdout
    assert host.current() == release_id(good, "app")
    ups = (host.state / "up.log").read_text().splitlines()
    assert release_id(broken, "app") not in "".join(ups)


def test_failed_pull_never_switches(host: FakeHost) -> None:
    good = config_with()
    assert host.deploy(good).returncode == 0
    run = host.deploy(config_with("ghcr.io/acme/api:hp-fail-pull"))
    assert run.returncode != 0 and "docker compose pull failed" in run.stdout
    assert host.current() == release_id(good, "app")


def test_failed_first_deploy_leaves_no_current_release(host: FakeHost) -> None:
    run = host.deploy(config_with("ghcr.io/acme/api:hp-fail-health"))
    assert run.returncode != 0
    assert "no previous release to go back to" in run.stdout
    assert host.current() is None
    # A fixed release then deploys normally.
    assert host.deploy(config_with()).returncode == 0


def test_changed_secret_redeploys_the_same_release(host: FakeHost) -> None:
    config = config_with()
    assert host.deploy(config).returncode == 0
    rotated = {**SECRETS, "JWT_SECRET": "jwt-Rotated-3"}
    run = host.deploy(config, rotated)
    assert run.returncode == 0, run.output
    assert run.summary == "hetzner-platform step=app changed=1"
    release = release_id(config, "app")
    assert host.current() == release
    assert "JWT_SECRET='jwt-Rotated-3'" in (host.base / "releases" / release / ".env").read_text()
    assert not list((host.base / "releases").glob(".*"))  # no staging or aside copies left


def test_compose_only_change_is_a_new_release_and_old_ones_are_pruned(host: FakeHost) -> None:
    ids = []
    for tag in ("1.0", "1.1", "1.2", "1.3"):
        config = config_with(f"ghcr.io/acme/api:{tag}")
        assert host.deploy(config).returncode == 0
        ids.append(release_id(config, "app"))
    assert len(set(ids)) == 4
    kept = sorted(path.name for path in (host.base / "releases").iterdir())
    assert kept == sorted(ids[-3:])  # keepReleases 3: current, previous and one more
    # Config files are shared by content, none is left that no kept release lists.
    manifests = "".join((host.base / "releases" / rid / "MANIFEST").read_text() for rid in kept)
    for file in (host.base / "files").rglob("*"):
        if file.is_file():
            assert f"/{file.relative_to(host.root)}" in manifests


def test_tampered_config_file_is_restored(host: FakeHost) -> None:
    config = config_with()
    assert host.deploy(config).returncode == 0
    path, content = next(iter(build_release(config, "app").shared_files.items()))
    installed = host.root / path.lstrip("/")
    installed.write_text("tampered\n")
    host.deploy(config)
    assert installed.read_text() == content


def test_no_secret_is_ever_printed(host: FakeHost) -> None:
    config = config_with()
    host.deploy(config)
    host.deploy(config_with("ghcr.io/acme/api:hp-fail-health"))
    host.deploy(config, {**SECRETS, "JWT_SECRET": "jwt-Rotated-3"})
    for run in host.runs:
        for value in (*SECRETS.values(), "jwt-Rotated-3"):
            assert value not in run.output


def test_missing_secret_is_named_before_anything_runs() -> None:
    config = config_with()
    with pytest.raises(ValueError, match="JWT_SECRET"):
        app_step(config, "app", HostRuntime(), {"POSTGRES_PASSWORD": "x"})


def test_multi_server_stack_deploys_each_server_and_migrates_once(tmp_path: Path) -> None:
    from render.app import deploy_order
    from tests.stacks import phase2_app_stack

    config = load(phase2_app_stack())
    assert deploy_order(config) == ["db", "web", "worker"]
    secrets = {**SECRETS, "REDIS_PASSWORD": "redis-Sentinel-4"}
    migrations = {}
    for server in deploy_order(config):
        host = FakeHost(tmp_path / server)
        run = host.deploy(config, secrets, server=server)
        assert run.returncode == 0, run.output
        assert host.current() == release_id(config, server)
        migrations[server] = any(" run --rm " in call for call in host.calls())
    assert migrations == {"db": False, "web": True, "worker": False}


def test_private_registry_login_reads_the_token_from_stdin_before_the_pull(host: FakeHost) -> None:
    """ghcr.io is private in the fake: the pull succeeds only after `docker login --password-stdin`, whose
    token is stored in a root-only config and never appears in argv or output."""
    token = "ghp_SENTINELtoken123"
    registries = {"ghcr.io": {"username": "acme-bot", "passwordSecret": "GHCR_TOKEN"}}
    config = config_with(registries=registries)
    run = host.deploy(config, {**SECRETS, "GHCR_TOKEN": token}, private_registries="ghcr.io")
    assert run.returncode == 0, run.output
    docker_config = host.root / "root" / ".docker"
    assert oct(docker_config.stat().st_mode & 0o777) == "0o700"
    auths = json.loads((docker_config / "config.json").read_text())["auths"]
    assert base64.b64decode(auths["ghcr.io"]["auth"]).decode() == f"acme-bot:{token}"
    assert any("login --username acme-bot --password-stdin ghcr.io" in call for call in host.calls())
    assert token not in "\n".join(host.calls()) and token not in run.output
    assert "logging in to ghcr.io as acme-bot" in run.output


def test_without_a_registry_login_the_private_pull_fails_and_nothing_switches(host: FakeHost) -> None:
    run = host.deploy(config_with(), private_registries="ghcr.io")
    assert run.returncode != 0 and "unauthorized" in run.output
    assert host.current() is None
