"""Per-machine cgroups for a booted host that runs Docker (cgroup v1, as on this kind of machine).

dockerd/runc inside the nspawn container create cgroups in every controller hierarchy. nspawn mounts
those hierarchies read-only, so the harness (1) starts nspawn inside cgroups of its own, made below the
test process' cgroup in every hierarchy (with cgroup namespaces the container then sees exactly that
subtree as its root), (2) lets a containerd drop-in remount them read-write inside the container
(REMOUNT_SCRIPT), and (3) removes the whole subtree after the container stopped.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")

# Runs as containerd's ExecStartPre inside the container: each read-only cgroup v1 mount there is the
# container's own subtree (cgroupns), so making it writable touches nothing outside.
REMOUNT_SCRIPT = """\
#!/bin/sh
# Written by the hetzner-platform e2e harness (tests/e2e/cgroups.py): nspawn mounts the cgroup v1
# controllers read-only; dockerd needs to create cgroups in them.
findmnt -rn -t cgroup -o TARGET,OPTIONS | while read -r target options; do
  case "$options" in ro,*) mount -o remount,bind,rw "$target" ;; esac
done
"""
REMOUNT_PATH = "/usr/local/sbin/hp-e2e-cgroup-rw"
CONTAINERD_DROPIN_PATH = "/etc/systemd/system/containerd.service.d/hp-e2e-cgroup-rw.conf"
CONTAINERD_DROPIN = f"[Service]\nExecStartPre=-{REMOUNT_PATH}\n"


def _hierarchy(controllers: str) -> Path | None:
    """The mount point of the hierarchy a /proc/self/cgroup line names."""
    if controllers == "":
        candidates = [CGROUP_ROOT / "unified", CGROUP_ROOT]
    elif controllers.startswith("name="):
        candidates = [CGROUP_ROOT / controllers.removeprefix("name=")]
    else:
        candidates = [CGROUP_ROOT / controllers]
    return next((path for path in candidates if (path / "cgroup.procs").exists()), None)


def make_machine_cgroups(name: str) -> list[Path]:
    """One cgroup named hp-e2e-<name> below this process' own cgroup in every mounted hierarchy."""
    made: list[Path] = []
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, own = line.split(":", 2)
            hierarchy = _hierarchy(controllers)
            if hierarchy is None:
                continue
            parent = hierarchy / own.lstrip("/")
            cgroup = parent / f"hp-e2e-{name}"
            cgroup.mkdir()
            made.append(cgroup)
            if (cgroup / "cpuset.cpus").exists():  # cpuset: a new cgroup starts with no CPUs and no memory nodes
                (cgroup / "cpuset.cpus").write_text((parent / "cpuset.cpus").read_text())
                (cgroup / "cpuset.mems").write_text((parent / "cpuset.mems").read_text())
    except BaseException:
        remove_machine_cgroups(made)
        raise
    return made


def join(cgroups: list[Path]) -> None:
    """Move the calling process into ``cgroups`` (used as Popen's preexec_fn, before nspawn runs)."""
    for cgroup in cgroups:
        (cgroup / "cgroup.procs").write_text(str(os.getpid()))


def remove_machine_cgroups(cgroups: list[Path]) -> list[str]:
    """Remove each cgroup with everything docker made below it, deepest first; what could not go."""
    left = []
    for cgroup in cgroups:
        if not cgroup.exists():
            continue
        below = sorted((p for p in cgroup.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True)
        for directory in [*below, cgroup]:
            with contextlib.suppress(OSError):
                directory.rmdir()
        if cgroup.exists():
            left.append(str(cgroup))
    return left
