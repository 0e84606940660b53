"""TCP connect scans of a booted host's public address from the test's side of the veth: what the
internet would reach. Only after the kernel routes the address through the test's own interface."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from .container import BootedHost
from .ssh import assert_safe_destination

SCAN_TIMEOUT = 0.3  # seconds per port: the hosts answer on a local veth in well under a millisecond
SCAN_WORKERS = 64


def probe(ip: str, port: int, timeout: float = SCAN_TIMEOUT) -> str:
    try:
        with socket.create_connection((ip, port), timeout=timeout):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"
    except OSError as exc:
        return f"error {exc.errno}"


def tcp_scan(host: BootedHost, ports: Iterable[int]) -> dict[int, str]:
    """Each port's state: open, refused (a RST), timeout (dropped) or an error."""
    host.assert_route()
    assert_safe_destination(host.ip)
    ports = sorted(set(ports))
    with ThreadPoolExecutor(max_workers=SCAN_WORKERS) as pool:
        return dict(zip(ports, pool.map(lambda port: probe(host.ip, port), ports), strict=True))


def open_ports(host: BootedHost, ports: Iterable[int]) -> list[int]:
    return [port for port, state in tcp_scan(host, ports).items() if state == "open"]
