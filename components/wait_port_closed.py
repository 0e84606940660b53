"""`python -m components.wait_port_closed HOST PORT`: wait until HOST stops answering on PORT, then a grace.

Run by a local command during a server type change (components/resize_steps.py): the guest was told to
power off; once sshd no longer answers, systemd is in its last seconds of shutdown, and the grace lets
it reach "off" so the provider finds the server off and skips its hard power-off. Gives up (exit 0,
the provider's power-off then cuts a server whose app is already stopped and synced) after MAX_WAIT_S.
"""

from __future__ import annotations

import socket
import sys
import time

POLL_S = 2.0
GRACE_S = 20.0
MAX_WAIT_S = 300.0


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=POLL_S):
            return True
    except OSError:
        return False


def wait(host: str, port: int, *, poll_s: float = POLL_S, grace_s: float = GRACE_S, max_wait_s: float = MAX_WAIT_S) -> bool:
    """True when the port closed within max_wait_s (then after the grace), False when it never did."""
    deadline = time.monotonic() + max_wait_s
    while time.monotonic() < deadline:
        if not answers(host, port):
            time.sleep(grace_s)
            return True
        time.sleep(poll_s)
    return False


def main(argv: list[str]) -> int:
    host, port = argv[0], int(argv[1])
    closed = wait(host, port)
    print(f"{host}:{port} {'closed: the server is powering off' if closed else 'still open after the wait'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
