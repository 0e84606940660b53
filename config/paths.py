"""Host paths: one normaliser and one list of protected system paths for every check that compares paths.

Paths are compared only after normalising (`..`, `.`, `//` resolved lexically), so `/mnt/../etc`, `/etc/.`
and `//etc` are all `/etc`. A path the platform writes to, deletes under or bind-mounts read-write
(volume mount points, app.dataDir, ops.backup.dir, cleanup rules) may not be a system path, lie inside
one, or contain one (`/`, `/var`).
"""

from __future__ import annotations

import posixpath
import re

# Never written, deleted under or mounted over by the platform. Symlinked twins (/var/run -> /run,
# /lib -> /usr/lib) are listed too: the comparison is lexical.
SYSTEM_PATHS = (
    "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/proc", "/root", "/run", "/sbin",
    "/snap", "/sys", "/usr", "/var/run", "/var/lib/apt", "/var/lib/containerd", "/var/lib/docker",
    "/var/lib/dpkg", "/var/lib/systemd", "/var/lib/hetzner-platform", "/var/cache/apt",
)
# Host paths a container may only mount with the service's `allowDangerousHostMounts: true`: the Docker
# socket (root on the host), the host's root, credentials and the platform's own state.
DANGEROUS_MOUNT_PATHS = (
    "/run/docker.sock", "/var/run/docker.sock", "/run/containerd", "/var/lib/docker", "/var/lib/containerd",
    "/etc/shadow", "/etc/gshadow", "/etc/ssh", "/etc/sudoers", "/etc/sudoers.d", "/etc/hetzner-platform",
    "/root", "/home", "/boot", "/dev", "/var/lib/hetzner-platform", "/var/backups/hetzner-platform",
)
GLOB_CHARS = re.compile(r"[*?\[\]]")
_PATH_CHARS = re.compile(r"^/[A-Za-z0-9._/@+*?\[\]-]*$", re.ASCII)


def normalise(path: str, *, globs: bool = False) -> str:
    """The absolute path with `.`, `..` and repeated slashes resolved; ValueError if it is not one."""
    if not _PATH_CHARS.fullmatch(path):
        raise ValueError(f"'{path}' must be an absolute path (letters, digits and . _ - / @ +)")
    if not globs and GLOB_CHARS.search(path):
        raise ValueError(f"'{path}' holds a glob character (* ? [ ]); name one directory")
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/")  # normpath keeps a leading "//"


def literal_prefix(path: str) -> str:
    """The part of a normalised path before its first component with a glob character."""
    parts: list[str] = []
    for part in path.strip("/").split("/"):
        if GLOB_CHARS.search(part):
            break
        parts.append(part)
    return "/" + "/".join(parts)


def inside(path: str, parent: str) -> bool:
    """`path` is `parent` or below it (both normalised)."""
    return path == parent or parent == "/" or path.startswith(parent.rstrip("/") + "/")


def overlap(first: str, second: str) -> bool:
    """One of the two normalised paths contains the other."""
    return inside(first, second) or inside(second, first)


def system_path_problem(path: str) -> str | None:
    """Why a normalised path may not be written, deleted or mounted over; None when it may."""
    for system in SYSTEM_PATHS:
        if inside(path, system):
            return f"'{path}' is inside the system directory {system}"
        if inside(system, path):
            return f"'{path}' contains the system directory {system}"
    return None


def check_host_dir(value: str) -> str:
    """A host directory the platform writes to: normalised, no globs, no system path."""
    path = normalise(value)
    problem = system_path_problem(path)
    if problem is not None:
        resolved = f" (it resolves to {path})" if path != value.rstrip("/") else ""
        raise ValueError(f"{problem}{resolved}; use a directory of its own such as /mnt/data or /srv/<name>")
    return path


def dangerous_mount(path: str) -> str | None:
    """The dangerous path a host mount source reaches (it is, contains or lies inside it), or None."""
    return next((danger for danger in DANGEROUS_MOUNT_PATHS if overlap(path, danger)), None)
