"""A stand-in for the Hetzner private network between booted hosts: a bridge inside a network namespace
the test creates (never this machine's own namespace), one veth per host whose inner end is moved
straight into the host as its private NIC (`ens10`, Hetzner's name), MTU 1450 as on Hetzner.

Measured recipe: ../shared/research/swarm/README.md ("The private network"). `ip netns exec` around
systemd-nspawn does not work here (it remounts /sys), so hosts boot with their usual public veth and get
the private NIC after boot. Deleting the namespace removes the bridge and every veth end with it.
"""

from __future__ import annotations

import secrets
import subprocess
from types import TracebackType

from . import host_link
from .container import BootedHost

PRIVATE_NIC = "ens10"
PRIVATE_MTU = 1450  # Hetzner Cloud networks


class PrivateLan:
    """Context manager: `attach(host, address)` gives a booted host its private NIC on the bridge."""

    def __init__(self, prefix_len: int = 24) -> None:
        self.name = "hpe2e-lan-" + secrets.token_hex(3)
        self.prefix_len = prefix_len
        self.links: list[str] = []

    def __enter__(self) -> PrivateLan:
        host_link.ip("netns", "add", self.name)
        try:
            host_link.ip("-n", self.name, "link", "set", "lo", "up")
            host_link.ip("-n", self.name, "link", "add", "br0", "type", "bridge")
            host_link.ip("-n", self.name, "link", "set", "br0", "up")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def attach(self, host: BootedHost, address: str) -> None:
        """Both veth ends are made inside the lab namespace; the inner one moves into the host at once."""
        assert host.init_pid is not None
        link = f"lan{len(self.links)}"
        host_link.ip("-n", self.name, "link", "add", link, "mtu", str(PRIVATE_MTU), "type", "veth",
            "peer", "name", PRIVATE_NIC, "mtu", str(PRIVATE_MTU), "netns", str(host.init_pid))  # fmt: skip
        self.links.append(link)
        host_link.ip("-n", self.name, "link", "set", link, "master", "br0", "up")
        inside = ["nsenter", "-t", str(host.init_pid), "-n", "ip"]
        for args in (["addr", "add", f"{address}/{self.prefix_len}", "dev", PRIVATE_NIC], ["link", "set", PRIVATE_NIC, "up"]):
            res = subprocess.run([*inside, *args], capture_output=True, text=True, check=False)
            if res.returncode != 0:
                raise RuntimeError(f"in {host.name}: ip {' '.join(args)}: {res.stderr.strip()}")

    def close(self) -> None:
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
        if any(line.split()[0] == self.name for line in listed.splitlines() if line.strip()):
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False)
