"""The network step in the sandbox: Debian with ifupdown gets /etc/network/interfaces.d/, Ubuntu gets
the netplan file (0600); the live address is added once to the interface (a veth inside the sandbox's
own network namespace). `ifup` is a stub there: ifupdown is not installed on this machine."""

from __future__ import annotations

import ipaddress

import pytest
import yaml

from render.host_steps import host_steps
from render.steps import HostStep
from spec.host_paths import IFUPDOWN_FILE, NETPLAN_FILE
from spec.resources import resolve
from tests.render.conftest import FLOATING_IP, Sandbox, make_config, make_runtime, summary

pytestmark = pytest.mark.render

DEBIAN_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nID=debian\nVERSION_CODENAME=bookworm\n'
UBUNTU_OS_RELEASE = 'PRETTY_NAME="Ubuntu 24.04 LTS"\nNAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\n'
VETH = "ip link add eth0 type veth peer name eth0-peer && ip link set eth0 up"


def with_ifupdown(sandbox: Sandbox) -> None:
    sandbox.overlays = (*sandbox.overlays, "/usr/local")
    sandbox.seed("/usr/local/sbin/ifup", "#!/bin/sh\nexit 0\n", mode=0o755)
    sandbox.seed("/etc/network/interfaces", "source /etc/network/interfaces.d/*\n")
    sandbox.seed("/etc/os-release", DEBIAN_OS_RELEASE)  # the same on an Ubuntu CI runner


def test_rendered_network_files(files: dict[str, str]) -> None:
    netplan = yaml.safe_load(files[NETPLAN_FILE])
    assert netplan == {"network": {"version": 2, "ethernets": {"eth0": {"addresses": [f"{FLOATING_IP}/32"]}}}}
    assert files[IFUPDOWN_FILE].splitlines()[1:] == [
        "auto eth0:1",
        "iface eth0:1 inet static",
        f"    address {FLOATING_IP}",
        "    netmask 32",
    ]


def test_ipv6_floating_ip_takes_the_first_address_of_its_64() -> None:
    config = make_config(floatingIp={"type": "ipv6"})
    step = next(s for s in host_steps(config, resolve(config), "app", make_runtime(config)) if s.name == "network")
    netplan = yaml.safe_load(step.files[NETPLAN_FILE])
    (address,) = netplan["network"]["ethernets"]["eth0"]["addresses"]
    assert address == "2001:db8:1234::1/64"
    assert ipaddress.ip_interface(address).network.prefixlen == 64
    assert "iface eth0:1 inet6 static" in step.files[IFUPDOWN_FILE]


def test_network_step_debian_ifupdown(steps: dict[str, HostStep], files: dict[str, str], sandbox: Sandbox) -> None:
    with_ifupdown(sandbox)
    result = sandbox.run(steps["network"].script, runs=2, before=VETH, after="ip -o addr show dev eth0")
    assert result.returncode == 0, result.output
    first, second = result.runs
    assert f"changed: {IFUPDOWN_FILE}" in first
    assert f"changed: address {FLOATING_IP}/32 on eth0" in first
    assert summary(second) == {"step": "network", "changed": "0"}
    assert f"inet {FLOATING_IP}/32" in result.stdout.split("@@hetzner-platform-run@@\n")[-1]
    assert sandbox.upper(IFUPDOWN_FILE).read_text(encoding="utf-8") == files[IFUPDOWN_FILE]
    assert not sandbox.upper(NETPLAN_FILE).exists()


def test_network_step_ubuntu_netplan(steps: dict[str, HostStep], files: dict[str, str], sandbox: Sandbox) -> None:
    sandbox.seed("/etc/os-release", UBUNTU_OS_RELEASE)
    result = sandbox.run(steps["network"].script, runs=2, skip="network")
    assert result.returncode == 0, result.output
    first, second = result.runs
    assert f"changed: {NETPLAN_FILE}" in first
    assert "skipped: live address" in first
    assert summary(second) == {"step": "network", "changed": "0"}
    installed = sandbox.upper(NETPLAN_FILE)
    assert installed.read_text(encoding="utf-8") == files[NETPLAN_FILE]
    assert oct(installed.stat().st_mode & 0o777) == "0o600"


def test_network_step_refuses_a_missing_interface(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    with_ifupdown(sandbox)
    result = sandbox.run(steps["network"].script)
    assert result.returncode == 1
    assert "interface eth0 does not exist" in result.stderr
