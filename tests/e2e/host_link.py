"""The veth link between this machine and one booted host: a free 10.213.X.0/30 picked under a lock
shared by parallel runs, and the `ip` calls that set it up (tests/e2e/container.py, private_lan.py)."""

from __future__ import annotations

import contextlib
import fcntl
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path

NET_PREFIX = "10.213"
NET_LOCK = Path("/run/hp-e2e-net.lock")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def pick_free_index() -> int:
    """A random X in 1..250 whose 10.213.X.0/30 no interface on this host uses yet."""
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, check=True).stdout
    used = {int(tok.split(".")[2]) for tok in out.split() if tok.startswith(NET_PREFIX + ".")}
    routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True, check=True).stdout
    used |= {int(tok.split(".")[2]) for tok in routes.split() if tok.startswith(NET_PREFIX + ".")}
    free = [x for x in range(1, 251) if x not in used]
    if not free:
        raise RuntimeError(f"no free {NET_PREFIX}.X.0/30 left")
    return random.choice(free)


@contextlib.contextmanager
def net_lock() -> Iterator[None]:
    """Serialise address choice + assignment between parallel runs on this machine."""
    with open(NET_LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
