"""This machine's /proc: which process is a booted host's init, and whether a PID still names the same
process (its start time), so the harness only ever signals processes it started."""

from __future__ import annotations

import os
from pathlib import Path


def status_field(pid: int, field: str) -> str | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def starttime(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def find_ns_init(ancestor: int) -> int | None:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        nspid = (status_field(pid, "NSpid") or "").split()
        if len(nspid) < 2 or nspid[-1] != "1":
            continue
        # Walk up the parents to make sure this is *our* container.
        cur: int | None = pid
        while cur and cur > 1:
            ppid = status_field(cur, "PPid")
            cur = int(ppid) if ppid else None
            if cur == ancestor:
                return pid
    return None
