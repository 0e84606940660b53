"""The e2e host chain: the one-server stack with a volume, a floating IP, a private network and an admin port,
its constants, and the handle the host-chain and ops-timer modules check a booted host through
(test_host_chain.py, test_ops_timers.py; the Docker modules share its image packages and probe key)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from config.schema import StackConfig
from render.steps import HostStep
from tests.keys import ADMIN_KEY_MATERIAL

from .conftest import Report
from .container import BootedHost
from .step_runs import StepRun, run_steps

SERVER = "app"
SSH_PORT = 2222
ADMIN = "deploy"
VOLUME_ID = 4242
FLOATING_IP = "192.0.2.10"  # TEST-NET-1: it only ever exists inside the container's namespace
PRIVATE_RANGE = "10.0.0.0/16"
ADMIN_PORT = 9100  # an extra admin-only port (node exporter): allowed from the admin CIDR, nothing listens
SKIP = ("docker", "swap", "mount")
# Packages of a Hetzner Debian 12 image the stock e2e image may lack; the base step installs
# missing ones with apt, and the container has no route to a mirror.
IMAGE_PACKAGES = ("ifupdown", "systemd-timesyncd")
PROBE_KEY = f"{ADMIN_KEY_MATERIAL} probe"  # config only


def stack_values(admin_key_line: str, admin_cidr: str) -> dict[str, Any]:
    """The e2e stack: one server with a volume, a floating IP, a private network and one admin port."""
    return {
        "project": "hpe2e",
        "environment": "prod",
        "location": "nbg1",
        "ssh": {"adminUser": ADMIN, "port": SSH_PORT, "publicKeys": [admin_key_line], "adminCidrs": [admin_cidr]},
        "servers": {SERVER: {"serverType": "cx33"}},
        "volumes": {"data": {"sizeGb": 10}},
        "network": {"ipRange": PRIVATE_RANGE, "subnet": "10.0.1.0/24"},
        "floatingIp": {"type": "ipv4"},
        # host0 is the container's "public" interface; 9100 exercises admin-only rules.
        "host": {"publicInterface": "host0", "adminPorts": [ADMIN_PORT]},
        "budget": {"monthlyEur": 50},
    }


# ------------------------------------------------------------------------------------ records
@dataclass
class Chain:
    host: BootedHost
    config: StackConfig
    steps: list[HostStep]
    first: list[StepRun]
    second: list[StepRun]
    report: Report
    timings: dict[str, float]

    def step(self, name: str) -> HostStep:
        return next(step for step in self.steps if step.name == name)

    _infra: Any = None

    @property
    def infra(self) -> Any:
        """testinfra over SSH as the admin with sudo (tests/e2e/ssh.py), one connection for all checks."""
        if self._infra is None:
            self._infra = self.host.admin.testinfra(sudo=True)
        return self._infra

    def run(self, cmd: str) -> Any:
        """A command as root through testinfra (counted in the report); .rc, .stdout, .stderr."""
        self.report.commands += 1
        return self.infra.run(cmd)

    def sudo(self, cmd: str) -> str:
        """``run`` that must succeed; its stdout."""
        res = self.run(cmd)
        assert res.rc == 0, f"{cmd}: rc {res.rc}\n{res.stdout}{res.stderr}"
        return str(res.stdout)


def run_chain(host: BootedHost, steps: Sequence[HostStep], report: Report) -> list[StepRun]:
    return run_steps(host, steps, report, skip=SKIP, timeout=300)
