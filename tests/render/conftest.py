"""Shared fixtures for the render validators: stack configs built in code, rendered steps and files,
the real tools, and a sandbox that runs a step script for real without touching this machine.

A missing tool or root skips a test (under CI=true: fails it), by tests/prerequisites.py.

The sandbox is `unshare --mount --net --pid --fork --mount-proc` with copy-on-write overlays over
/etc and /mnt (their upper dirs are in the test's tmp_path) and tmpfs on /run and /tmp: sysctl,
swap, mounts, firewall and services of the host stay untouched; the step scripts see no systemd
(no /run/systemd/system) and so never call systemctl.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from config.schema import StackConfig
from render.host_steps import host_steps, render_host_files
from render.steps import HostRuntime, HostStep
from spec.resources import resolve
from tests.prerequisites import require_root, require_tool
from tests.stacks import HOST_STACK, variant

VOLUME_ID = 100123
FLOATING_IP = "192.0.2.10"
CLOUD_INIT_CACHE = Path(os.environ.get("HP_RENDER_CACHE", "/var/cache/hetzner-platform-render"))
SUMMARY_PREFIX = "hetzner-platform step="
# host.docker.composePlugin of the archive-Docker variants (a made-up digest: only the render tests use it).
COMPOSE_PLUGIN = {"url": "https://github.com/docker/compose/releases/download/v2.40.3/docker-compose-linux-x86_64", "sha256": "ab" * 32}


def stack_values(**changes: Any) -> dict[str, Any]:
    """HOST_STACK (tests/stacks.py) with these top-level keys replaced (None removes one)."""
    return variant(HOST_STACK, **changes)


def make_config(**changes: Any) -> StackConfig:
    return StackConfig.model_validate(stack_values(**changes))


def make_runtime(config: StackConfig, server: str = "app") -> HostRuntime:
    volume_ids = {name: VOLUME_ID + index for index, name in enumerate(config.volumes)}
    floating_ip = None
    if config.floating_ip is not None:
        floating_ip = FLOATING_IP if config.floating_ip.type == "ipv4" else "2001:db8:1234::"
    return HostRuntime(volume_ids=volume_ids, floating_ip=floating_ip, private_ip="10.0.1.10")


# Configs the script validators run over: the prod-like stack and variants that take other branches.
VARIANTS: dict[str, Callable[[], StackConfig]] = {
    "prod": make_config,
    "ubuntu-chrony-xfs-ipv6": lambda: make_config(
        servers={"app": {"serverType": "cx33", "image": "ubuntu-24.04"}},
        volumes={"data": {"sizeGb": 50, "format": "xfs"}, "backup": {"sizeGb": 20, "mountPoint": "/srv/backup"}},
        floatingIp={"type": "ipv6"},
        host={"ntp": "chrony", "rebootWindow": "03:30", "swapGb": 0, "docker": {"major": 27, "metricsAddr": None}},
    ),
    "minimal": lambda: make_config(volumes=None, floatingIp=None, network=None, host={"docker": {"enabled": False}}),
    # Docker from the OS archive: Debian 12 with a downloaded compose plugin, Ubuntu with docker-compose-v2.
    "debian-archive-docker": lambda: make_config(host={"docker": {"source": "debian", "composePlugin": COMPOSE_PLUGIN}}),
    "ubuntu-archive-docker": lambda: make_config(
        servers={"app": {"serverType": "cx33", "image": "ubuntu-24.04"}}, host={"docker": {"source": "debian"}}
    ),
}


@pytest.fixture(scope="session")
def config() -> StackConfig:
    return make_config()


@pytest.fixture(scope="session")
def runtime(config: StackConfig) -> HostRuntime:
    return make_runtime(config)


@pytest.fixture(scope="session")
def steps(config: StackConfig, runtime: HostRuntime) -> dict[str, HostStep]:
    return {step.name: step for step in host_steps(config, resolve(config), "app", runtime)}


@pytest.fixture(scope="session")
def files(config: StackConfig, runtime: HostRuntime) -> dict[str, str]:
    return render_host_files(config, resolve(config), "app", runtime)


def write_tree(root: Path, files: Mapping[str, str], mode: int = 0o644) -> Path:
    """Write host files under `root` at their host paths."""
    for path, content in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        target.chmod(mode)
    return root


def run(cmd: Sequence[str], *, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=False, **kwargs)


def summary(output: str) -> dict[str, str]:
    """The `hetzner-platform step=<name> changed=<N>` line(s) of one script run, as a dict."""
    lines = [line for line in output.splitlines() if line.startswith(SUMMARY_PREFIX)]
    assert len(lines) == 1, f"expected one summary line, got {lines!r}\n{output}"
    return dict(part.split("=", 1) for part in lines[0].removeprefix("hetzner-platform ").split())


@pytest.fixture(scope="session")
def host_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway ed25519 host key (sshd needs one loadable key); never the machine's own."""
    require_tool("ssh-keygen")
    keys = tmp_path_factory.mktemp("hostkeys")
    result = run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / "ssh_host_ed25519_key")])
    assert result.returncode == 0, result.stderr
    return keys


# --- the sandbox -----------------------------------------------------------------------------------
@dataclass
class SandboxResult:
    returncode: int
    stdout: str
    stderr: str
    runs: list[str] = field(default_factory=list)  # stdout of each script run

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Sandbox:
    """Runs step scripts as root in private namespaces over copy-on-write /etc and /mnt."""

    base: Path
    overlays: tuple[str, ...] = ("/etc", "/mnt")

    def upper(self, path: str) -> Path:
        """Where a file at host path `path` appears (or can be pre-seeded) outside the sandbox."""
        return self.base / "upper" / path.lstrip("/")

    def seed(self, path: str, content: str, mode: int = 0o644) -> None:
        target = self.upper(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        target.write_text(content, encoding="utf-8")
        target.chmod(mode)

    def run(
        self,
        script: str,
        *,
        runs: int = 1,
        skip: str = "",
        before: str = "",
        after: str = "",
        timeout: float = 120,
    ) -> SandboxResult:
        """Run `script` `runs` times through `bash -s` (as `sudo bash -s` would), then `after`."""
        require_root()
        require_tool("unshare", "mount")
        scripts = self.base / "scripts"
        scripts.mkdir(parents=True, exist_ok=True)
        (scripts / "step.sh").write_text(script, encoding="utf-8")
        (scripts / "after.sh").write_text(after, encoding="utf-8")
        (scripts / "before.sh").write_text(before, encoding="utf-8")
        mounts = []
        for directory in self.overlays:
            name = directory.strip("/").replace("/", "_")
            upper, work = self.base / "upper" / directory.lstrip("/"), self.base / "work" / name
            upper.mkdir(parents=True, exist_ok=True)
            work.mkdir(parents=True, exist_ok=True)
            mounts.append(f"mount -t overlay overlay -o lowerdir={directory},upperdir={upper},workdir={work} {directory}")
        marker = "@@hetzner-platform-run@@"
        driver = "\n".join(
            [
                "set -eu",
                *mounts,
                "mount -t tmpfs -o mode=0755 tmpfs /run",
                f"cp {scripts}/step.sh {scripts}/before.sh {scripts}/after.sh /run/",
                "mount -t tmpfs -o mode=1777 tmpfs /tmp",
                "ip link set lo up",
                "cd /",
                "bash /run/before.sh",
                "set +e",
                "status=0",
                f"for i in $(seq 1 {runs}); do",
                f"  echo '{marker}'",
                "  bash -s < /run/step.sh || { status=$?; break; }",
                "done",
                f"echo '{marker}'",
                'if [ "$status" = 0 ]; then bash /run/after.sh || status=$?; fi',
                'exit "$status"',
            ]
        )
        env = {key: value for key, value in os.environ.items() if not key.startswith("HP_")}
        env["HP_SKIP"] = skip
        result = run(
            ["unshare", "--mount", "--net", "--pid", "--fork", "--mount-proc", "--propagation", "private", "bash", "-c", driver],
            env=env,
            timeout=timeout,
        )
        parts = result.stdout.split(marker + "\n")
        return SandboxResult(result.returncode, result.stdout, result.stderr, runs=parts[1:-1] if len(parts) > 2 else parts[1:])


@pytest.fixture
def sandbox(tmp_path: Path, host_keys: Path) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path / "sandbox")
    # sshd inside the sandbox loads this throwaway key, never the machine's host keys: the others
    # are hidden by overlay whiteouts (0/0 character devices in the upper dir).
    ssh_dir = box.upper("/etc/ssh")
    ssh_dir.mkdir(parents=True, exist_ok=True)
    for name in ("ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"):
        shutil.copy2(host_keys / name, ssh_dir / name)
    if os.geteuid() == 0:
        for kind in ("rsa", "ecdsa", "dsa"):
            for suffix in ("", ".pub"):
                os.mknod(ssh_dir / f"ssh_host_{kind}_key{suffix}", stat.S_IFCHR | 0o000, os.makedev(0, 0))
    yield box
    # Overlay upper dirs hold root-owned files; pytest removes tmp_path, nothing is mounted any more.
