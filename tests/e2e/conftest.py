"""Fixtures for the end-to-end host tests (systemd Debian 12 container via systemd-nspawn).

- ``e2e_rootfs`` (session): the cached bookworm rootfs, built on first use (~75 s).
- ``admin_key`` (session): a throwaway ed25519 key pair (``KeyPair``).
- ``booted_host`` (function): factory ``booted_host(user_data, admin_key, **kw) -> BootedHost``;
  every host it boots is stopped and cleaned up when the test ends, pass or fail.
- ``booted_host_module`` (module): the same factory, hosts live for the whole module.

Prerequisites (root, systemd-nspawn, debootstrap, nsenter, ip) missing -> skip, except when
``CI=true``: then the tests fail (tests/prerequisites.py), so CI can never go green by skipping e2e.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import pytest

from tests.prerequisites import skip_or_fail

from .container import BootedHost
from .rootfs import Rootfs, ensure_rootfs
from .ssh import KeyPair, generate_ed25519

E2E_DIR = Path(__file__).resolve().parent
REQUIRED_TOOLS = ("systemd-nspawn", "debootstrap", "nsenter", "ip", "mount")

BootHost = Callable[..., BootedHost]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "e2e: boots a systemd Debian 12 container (root + systemd-nspawn + debootstrap)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Everything in this directory is e2e, even if a module forgets its pytestmark.
    for item in items:
        if E2E_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)


# Summaries the e2e modules hand in with ``add_summary``: printed in pytest's terminal summary
# (also without -s), so a CI log shows what ran, how long it took and what was found.
_SUMMARIES: list[str] = []


def add_summary(text: str) -> None:
    _SUMMARIES.append(text)


@dataclass
class Report:
    """What the module did, shown in pytest's terminal summary when the module ends."""

    started: float = field(default_factory=time.monotonic)
    commands: int = 0
    checks: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds, by phase

    def check(self, what: str) -> None:
        self.checks.append(what)

    def footer(self) -> list[str]:
        return [
            f"timings (s): {self.timings}, module {time.monotonic() - self.started:.1f} s",
            f"commands over SSH: {self.commands}",
            f"checks passed ({len(self.checks)}):",
            *(f"  - {check}" for check in self.checks),
        ]


@pytest.fixture(scope="module")
def report(request: pytest.FixtureRequest) -> Iterator[Report]:
    rep = Report()
    yield rep
    if rep.lines or rep.checks:
        add_summary(f"{request.module.__name__}:\n" + "\n".join([*rep.lines, *rep.footer()]))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _SUMMARIES:
        terminalreporter.section("hetzner-platform e2e")
        for text in _SUMMARIES:
            terminalreporter.write_line(text)


def missing_prerequisites() -> str | None:
    if os.geteuid() != 0:
        return "e2e tests need root (systemd-nspawn, overlay mounts, veth links)"
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        return f"e2e tests need {', '.join(missing)} (apt-get install systemd-container debootstrap)"
    return None


def _sigterm_to_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def e2e_rootfs() -> Iterator[Rootfs]:
    problem = missing_prerequisites()
    if problem:
        skip_or_fail(problem)
    # A CI timeout or `kill` sends SIGTERM, which would end pytest without running fixture
    # finalizers and leave containers, mounts and veths behind. Treat it like Ctrl-C.
    previous = signal.getsignal(signal.SIGTERM)
    if previous == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
    try:
        yield ensure_rootfs()
    finally:
        if previous == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.fixture(scope="session")
def admin_key(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return generate_ed25519(tmp_path_factory.mktemp("e2e-keys"), comment="hp-e2e-admin")


@contextmanager
def _host_factory(rootfs: Rootfs) -> Iterator[BootHost]:
    started: list[BootedHost] = []

    def boot(
        user_data: str,
        admin_key: KeyPair,
        *,
        ssh_port: int = 22,
        root_authorized_keys: Sequence[str] | None = None,
        boot_timeout: float = 180.0,
        allow_cloud_init_errors: bool = False,
        docker: bool = False,
    ) -> BootedHost:
        """Boot a container provisioned by ``user_data`` (cloud-config) and wait for sshd.

        Like a Hetzner server created with ``ssh_keys=[admin_key]``, root's
        authorized_keys gets the admin key unless ``root_authorized_keys`` says otherwise.
        """
        host = BootedHost(
            rootfs.path,
            user_data,
            ssh_port=ssh_port,
            root_authorized_keys=([admin_key.public_line] if root_authorized_keys is None else root_authorized_keys),
            boot_timeout=boot_timeout,
            admin_key_path=admin_key.private_path,
            allow_cloud_init_errors=allow_cloud_init_errors,
            docker=docker,
        )
        started.append(host)  # registered before start: a failed boot is cleaned up too
        host.start()
        return host

    try:
        yield boot
    finally:
        for host in reversed(started):
            host.stop()


@pytest.fixture
def booted_host(e2e_rootfs: Rootfs) -> Iterator[BootHost]:
    """Factory; hosts live until the end of the test."""
    with _host_factory(e2e_rootfs) as boot:
        yield boot


@pytest.fixture(scope="module")
def booted_host_module(e2e_rootfs: Rootfs) -> Iterator[BootHost]:
    """Same factory, hosts live until the end of the module (boot once, check many)."""
    with _host_factory(e2e_rootfs) as boot:
        yield boot
