"""Create-once, cached Debian 12 (bookworm) root filesystem for the e2e host container.

The rootfs is built with ``debootstrap --variant=minbase --include=...`` into a temp dir
next to the cache entry and renamed into place only when complete, so a killed build never
leaves a half-built cache. Builds are serialised with a file lock; the cache key is a hash
of everything that changes the result (suite, mirror, packages, recipe version).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
DEFAULT_CACHE_ROOT = Path("/var/cache/hetzner-platform-e2e")
# Bump when the post-debootstrap customisation below changes: it is part of the cache key.
RECIPE_VERSION = 4

# What a Hetzner Debian 12 image has, plus what the host scripts need. The container has no
# network route to the outside world, so anything the scripts `apt-get install` must already
# be here (extend with HP_E2E_EXTRA_PACKAGES="pkg1 pkg2" or ensure_rootfs(extra_packages=...)).
DEFAULT_PACKAGES: tuple[str, ...] = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "libpam-systemd",
    "openssh-server",
    # Recommends are not installed by debootstrap; SFTP is what remote.CopyToRemote uses.
    "openssh-sftp-server",
    "locales",
    "logrotate",
    "sudo",
    "iproute2",
    "iptables",
    "ufw",
    "fail2ban",
    "python3",
    "python3-systemd",
    "unattended-upgrades",
    "ca-certificates",
    "curl",
    "gnupg",
    "procps",
    "kmod",
    "util-linux",
    "e2fsprogs",
    "netbase",
    "cloud-init",
    # debootstrap's resolver ignores virtual packages: python3-cryptography (via cloud-init)
    # needs python3-cffi-backend-api-*, which only this package provides.
    "python3-cffi-backend",
    # On Hetzner's Debian 12 image, wanted by the host steps: the base step installs the NTP
    # client if missing (offline here) and the network step writes the floating IP for ifupdown.
    "ifupdown",
    "systemd-timesyncd",
)

# Hetzner images let cloud-init put the server's SSH keys into root's authorized_keys
# (disable_root: false) and manage /etc/hosts. Network config stays off: the harness
# addresses host0 itself and the container has no DHCP server to ask.
CLOUD_CFG = """\
# Written by tests/e2e/rootfs.py: make cloud-init behave like on a Hetzner Cloud image,
# with the NoCloud seed the e2e harness writes into /var/lib/cloud/seed/nocloud/.
datasource_list: [ NoCloud, None ]
disable_root: false
# /etc/hosts gets the hostname (otherwise sudo warns "unable to resolve host").
manage_etc_hosts: true
network:
  config: disabled
"""


@dataclass(frozen=True)
class Rootfs:
    path: Path
    key: str
    packages: tuple[str, ...]
    # Seconds the debootstrap build took (from the build record; None if unknown).
    build_seconds: float | None
    built_now: bool


def cache_root() -> Path:
    return Path(os.environ.get("HP_E2E_CACHE") or DEFAULT_CACHE_ROOT)


def package_list(extra_packages: Sequence[str] = ()) -> tuple[str, ...]:
    env_extra = os.environ.get("HP_E2E_EXTRA_PACKAGES", "").split()
    return tuple(sorted(set(DEFAULT_PACKAGES) | set(extra_packages) | set(env_extra)))


def cache_key(packages: Sequence[str]) -> str:
    spec = {
        "suite": SUITE,
        "mirror": MIRROR,
        "variant": "minbase",
        "packages": sorted(packages),
        "recipe": RECIPE_VERSION,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def ensure_rootfs(extra_packages: Sequence[str] = (), root: Path | None = None) -> Rootfs:
    """Return the cached rootfs, building it first if needed (about 1 minute)."""
    root = root or cache_root()
    packages = package_list(extra_packages)
    key = cache_key(packages)
    final = root / f"rootfs-{SUITE}-{key}"
    record = root / f"rootfs-{SUITE}-{key}.build.json"
    root.mkdir(parents=True, exist_ok=True)
    if final.is_dir():
        return Rootfs(final, key, packages, _read_build_seconds(record), built_now=False)
    with _locked(root / ".lock") as lock_fd:
        if final.is_dir():  # another process built it while we waited for the lock
            return Rootfs(final, key, packages, _read_build_seconds(record), built_now=False)
        _remove_stale_builds(root)
        tmp = root / f".tmp-rootfs-{SUITE}-{key}-{os.getpid()}"
        started = time.monotonic()
        try:
            _debootstrap(tmp, packages, lock_fd)
            _customise(tmp)
            seconds = round(time.monotonic() - started, 1)
            os.rename(tmp, final)  # atomic on the same filesystem
        except BaseException:
            _remove_tree(tmp)
            raise
        record.write_text(
            json.dumps(
                {
                    "key": key,
                    "suite": SUITE,
                    "mirror": MIRROR,
                    "packages": list(packages),
                    "recipe": RECIPE_VERSION,
                    "build_seconds": seconds,
                    "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                },
                indent=2,
            )
            + "\n"
        )
        return Rootfs(final, key, packages, seconds, built_now=True)


def _debootstrap(target: Path, packages: Sequence[str], lock_fd: int) -> None:
    cmd = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(packages)}",
        SUITE,
        str(target),
        MIRROR,
    ]
    # debootstrap inherits the lock fd: if this process is SIGKILLed, the orphaned build
    # keeps the lock until it ends, so the next run never deletes a dir still being written.
    proc = subprocess.run(cmd, capture_output=True, text=True, pass_fds=(lock_fd,))
    if proc.returncode != 0:
        log = target / "debootstrap" / "debootstrap.log"
        tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
        raise RuntimeError(f"debootstrap failed (rc {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}\n{tail}")


def _customise(target: Path) -> None:
    # Every container gets its own machine id at boot (nspawn/systemd fill an empty file).
    (target / "etc/machine-id").write_text("")
    dbus_id = target / "var/lib/dbus/machine-id"
    if dbus_id.is_file() and not dbus_id.is_symlink():
        dbus_id.unlink()
    (target / "etc/hostname").write_text("debian-e2e\n")
    # debootstrap copied the build machine's resolver; the container has no route to it
    # anyway, and with no nameserver a lookup fails at once instead of timing out.
    (target / "etc/resolv.conf").unlink(missing_ok=True)
    (target / "etc/resolv.conf").write_text("# e2e container: no network beyond its veth, no DNS\n")
    (target / "etc/cloud/cloud.cfg.d/90-hp-e2e-hetzner-like.cfg").write_text(CLOUD_CFG)
    # Cloud images ship a generated en_US.UTF-8; cloud-init's locale module sets it and
    # fails otherwise (Debian's locale-gen ignores its arguments, only reads locale.gen).
    (target / "etc/locale.gen").write_text("en_US.UTF-8 UTF-8\n")
    (target / "etc/default/locale").write_text("LANG=en_US.UTF-8\n")
    subprocess.run(["chroot", str(target), "locale-gen"], check=True, capture_output=True)
    # Downloaded .debs are not needed in the image.
    for deb in (target / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()


@contextmanager
def _locked(path: Path) -> Iterator[int]:
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield fh.fileno()
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_stale_builds(root: Path) -> None:
    # Only called with the lock held, so any temp dir left is from a killed build.
    for stale in root.glob(".tmp-rootfs-*"):
        _remove_tree(stale)


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below ``path``, deepest first (from /proc/self/mountinfo)."""
    prefix = str(path.resolve())
    found = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            mnt = line.split()[4].replace("\\040", " ")
            if mnt == prefix or mnt.startswith(prefix + "/"):
                found.append(mnt)
    return sorted(found, key=lambda m: m.count("/"), reverse=True)


def _remove_tree(path: Path) -> None:
    if not path.exists():
        return
    # A killed debootstrap can leave proc/sys mounted inside the target: unmount first so
    # the removal never walks into a kernel filesystem.
    for mnt in mounts_under(path):
        subprocess.run(["umount", "-l", mnt], check=False)
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)


def _read_build_seconds(record: Path) -> float | None:
    try:
        value = json.loads(record.read_text()).get("build_seconds")
    except (OSError, ValueError):
        return None
    return float(value) if value is not None else None


if __name__ == "__main__":
    fs = ensure_rootfs()
    print(json.dumps({"path": str(fs.path), "built_now": fs.built_now, "build_seconds": fs.build_seconds}))
