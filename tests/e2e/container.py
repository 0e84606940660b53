"""Boot the cached Debian 12 rootfs as a throwaway "Hetzner server" with systemd-nspawn.

``BootedHost`` layers an overlayfs over the cached rootfs (so the cache stays pristine),
seeds cloud-init's NoCloud datasource with the given user-data, boots systemd with a
private veth link (host ``ve-<name>`` 10.213.X.1/30 <-> container ``host0`` 10.213.X.2/30),
waits for systemd and cloud-init to finish and for sshd to listen, and on exit stops only
the nspawn process it started (by PID) and removes every mount, directory and link it made.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import yaml

from . import cgroups, host_link, procfs
from .rootfs import mounts_under
from .ssh import HARNESS_IFACE_PREFIX, SshTarget, assert_safe_destination

CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class BootError(RuntimeError):
    """The container did not come up; the message carries the relevant logs."""


class BootedHost:
    """Context manager: a booted, cloud-init-provisioned Debian 12 container.

    Attributes once entered: ``ip`` (container address to SSH to), ``host_ip``,
    ``iface`` (host-side veth), ``ssh_port``, ``nspawn_pid``, ``init_pid`` (host PID of
    the container's systemd), ``timings`` (seconds per phase) and ``log_path``.
    """

    def __init__(
        self,
        rootfs: Path,
        user_data: str,
        *,
        ssh_port: int = 22,
        root_authorized_keys: Sequence[str] = (),
        name: str | None = None,
        boot_timeout: float = 180.0,
        workdir: Path | None = None,
        admin_user: str | None = None,
        admin_key_path: Path | None = None,
        allow_cloud_init_errors: bool = False,
        docker: bool = False,
    ) -> None:
        self.rootfs = rootfs
        # A host that runs dockerd: extra nspawn options, its own cgroups, /var/lib/docker on tmpfs.
        self.docker = docker
        self.cgroups: list[Path] = []
        self.user_data = user_data
        self.ssh_port = ssh_port
        self.root_authorized_keys = list(root_authorized_keys)
        # <= 12 chars so nspawn's "ve-<name>" fits IFNAMSIZ unshortened.
        self.name = name or "hpe2e-" + secrets.token_hex(3)
        self.iface = "ve-" + self.name
        if not self.iface.startswith(HARNESS_IFACE_PREFIX) or len(self.iface) > 15:
            raise ValueError(f"machine name {self.name!r} must be 'hpe2e-' + at most 6 chars")
        self.boot_timeout = boot_timeout
        self.admin_user = admin_user or admin_user_from_user_data(user_data)
        self.admin_key_path = admin_key_path
        self.allow_cloud_init_errors = allow_cloud_init_errors
        self._workdir_parent = workdir
        self.workdir: Path | None = None
        self.merged: Path | None = None
        self.overlay_mounted = False
        self.copy_fallback = False
        self.net_index: int | None = None
        self.ip = ""
        self.host_ip = ""
        self.nspawn: subprocess.Popen[bytes] | None = None
        self.nspawn_pid: int | None = None
        self.init_pid: int | None = None
        self._init_starttime: str | None = None
        self.log_path: Path | None = None
        self.timings: dict[str, float] = {}
        self.started_at = 0.0  # time.monotonic() when start() began

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self) -> BootedHost:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        t0 = self.started_at = time.monotonic()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"hp-e2e-{self.name}-", dir=self._workdir_parent))
        self.log_path = self.workdir / "console.log"
        self._prepare_root()
        self._seed_cloud_init()
        if self.docker:
            self._prepare_docker()
        self.timings["prepare"] = round(time.monotonic() - t0, 2)
        with host_link.net_lock():
            self.net_index = host_link.pick_free_index()
            self.host_ip = f"{host_link.NET_PREFIX}.{self.net_index}.1"
            self.ip = f"{host_link.NET_PREFIX}.{self.net_index}.2"
            self._spawn()
            self._wait_for_iface()
            host_link.ip("addr", "add", f"{self.host_ip}/30", "dev", self.iface)
            host_link.ip("link", "set", self.iface, "up")
        self.init_pid = self._wait_for_init_pid()
        self._setup_container_net()
        # The one rule that keeps tests off foreign networks: check the kernel's route
        # to the container before any packet is sent to it.
        self._assert_route()
        self._wait_system_running(t0)
        self.timings["systemd_ready"] = round(time.monotonic() - t0, 2)
        self._wait_cloud_init()
        self.timings["cloud_init_done"] = round(time.monotonic() - t0, 2)
        self._wait_tcp(self.ssh_port, t0)
        self.timings["ssh_port_open"] = round(time.monotonic() - t0, 2)

    def stop(self) -> None:
        """Stop what this instance started, by PID, and remove its mounts/dirs/veth."""
        errors: list[str] = []
        t0 = time.monotonic()
        if self.nspawn is not None and self.nspawn.poll() is None:
            # nspawn turns SIGTERM into an orderly shutdown of the booted container.
            self.nspawn.send_signal(signal.SIGTERM)
            try:
                self.nspawn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                errors.append("container did not shut down in 30 s; killed")
                self._kill_init()
                try:
                    self.nspawn.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.nspawn.kill()
                    self.nspawn.wait(timeout=10)
        if host_link.link_exists(self.iface):
            subprocess.run(["ip", "link", "del", self.iface], check=False, capture_output=True)
        if self.cgroups and (self.nspawn is None or self.nspawn.poll() is not None):
            left = cgroups.remove_machine_cgroups(self.cgroups)
            if left:
                errors.append(f"cgroups left: {', '.join(left)}")
            self.cgroups = []
        if self.merged is not None and self.overlay_mounted:
            for mnt in mounts_under(self.merged):
                if subprocess.run(["umount", mnt], check=False, capture_output=True).returncode:
                    subprocess.run(["umount", "-l", mnt], check=False, capture_output=True)
            self.overlay_mounted = False
        if self.workdir is not None and self.workdir.exists():
            if mounts_under(self.workdir):
                errors.append(f"mounts left under {self.workdir}; not deleting it")
            else:
                subprocess.run(["rm", "-rf", "--one-file-system", str(self.workdir)], check=False)
        if self.nspawn is not None:
            self.timings["stop"] = round(time.monotonic() - t0, 2)
        self.nspawn = None
        if errors:
            # Cleanup problems must be visible, but must not mask a test failure.
            print(f"[hp-e2e] cleanup of {self.name}: " + "; ".join(errors))

    # ------------------------------------------------------------ public helpers
    def target(self, user: str, key_path: Path | None = None) -> SshTarget:
        """SSH coordinates of this container for ``user`` (default key: the admin key)."""
        key = key_path or self.admin_key_path
        if key is None:
            raise ValueError("no key given and no admin_key_path set")
        return SshTarget(self.ip, self.ssh_port, user, Path(key))

    @property
    def admin(self) -> SshTarget:
        """The admin user created by the user-data, with the admin key."""
        if not self.admin_user:
            raise ValueError("user-data has no user and no admin_user was given")
        return self.target(self.admin_user)

    def assert_route(self) -> None:
        """Raise unless the kernel routes ``ip`` via this container's own veth (before raw TCP)."""
        self._assert_route()

    def nsenter(self, argv: Sequence[str], input: str | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run a command inside the container's namespaces (debugging/back-door, not SSH)."""
        if self.init_pid is None:
            raise RuntimeError("container not started")
        cmd = [
            "nsenter", "-t", str(self.init_pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w",
            "/usr/bin/env", "-i", f"PATH={CONTAINER_PATH}", "LANG=C.UTF-8", *argv,
        ]  # fmt: skip
        return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, check=False)

    def pipe(self, argv: Sequence[str], data: bytes, timeout: float = 300.0) -> subprocess.CompletedProcess[bytes]:
        """``nsenter`` with bytes on stdin (a tar stream for ``docker build -`` / ``docker import -``)."""
        if self.init_pid is None:
            raise RuntimeError("container not started")
        cmd = [
            "nsenter", "-t", str(self.init_pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w",
            "/usr/bin/env", "-i", f"PATH={CONTAINER_PATH}", "LANG=C.UTF-8", *argv,
        ]  # fmt: skip
        return subprocess.run(cmd, input=data, capture_output=True, timeout=timeout, check=False)

    def diagnostics(self) -> str:
        """Console tail, failed units and cloud-init output, for error messages."""
        parts = []
        if self.log_path and self.log_path.exists():
            parts.append("--- console (tail) ---\n" + self.log_path.read_text(errors="replace")[-3000:])
        if self.init_pid is not None and self.nspawn is not None and self.nspawn.poll() is None:
            for argv in (
                ["systemctl", "--failed", "--no-pager"],
                ["cloud-init", "status", "--long"],
                ["tail", "-n", "40", "/var/log/cloud-init-output.log"],
                ["sh", "-c", "grep -E 'WARNING|ERROR|Traceback' /var/log/cloud-init.log | tail -n 20"],
            ):
                try:
                    res = self.nsenter(argv, timeout=15)
                    parts.append(f"--- {' '.join(argv)} (rc {res.returncode}) ---\n{res.stdout}{res.stderr}")
                except subprocess.TimeoutExpired:
                    parts.append(f"--- {' '.join(argv)}: timed out ---")
        return "\n".join(parts)

    # ------------------------------------------------------------------ internals
    def _prepare_root(self) -> None:
        assert self.workdir is not None
        upper, work, merged = (self.workdir / d for d in ("upper", "work", "merged"))
        for d in (upper, work, merged):
            d.mkdir()
        self.merged = merged
        opts = f"lowerdir={self.rootfs},upperdir={upper},workdir={work}"
        if os.environ.get("HP_E2E_NO_OVERLAY") != "1":
            res = subprocess.run(
                ["mount", "-t", "overlay", "overlay", "-o", opts, str(merged)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if res.returncode == 0:
                self.overlay_mounted = True
                return
        # No overlayfs (e.g. inside some CI containers): a full copy, slower but equivalent.
        self.copy_fallback = True
        subprocess.run(["cp", "-a", "--reflink=auto", f"{self.rootfs}/.", str(merged)], check=True)

    def _seed_cloud_init(self) -> None:
        assert self.merged is not None
        seed = self.merged / "var/lib/cloud/seed/nocloud"
        seed.mkdir(parents=True, exist_ok=True)
        (seed / "user-data").write_text(self.user_data)
        # Like Hetzner's metadata: instance id, hostname and the server's SSH keys (which
        # cloud-init installs for root because the image has disable_root: false).
        meta: dict[str, object] = {"instance-id": f"iid-{self.name}", "local-hostname": self.name}
        if self.root_authorized_keys:
            meta["public-keys"] = self.root_authorized_keys
        # JSON is valid YAML and needs no YAML library here.
        (seed / "meta-data").write_text(json.dumps(meta, indent=2) + "\n")

    def _prepare_docker(self) -> None:
        """What dockerd needs in nspawn: writable cgroups (see cgroups.py) in per-machine cgroups."""
        assert self.merged is not None
        for path, content, mode in (
            (cgroups.REMOUNT_PATH, cgroups.REMOUNT_SCRIPT, 0o755),
            (cgroups.CONTAINERD_DROPIN_PATH, cgroups.CONTAINERD_DROPIN, 0o644),
        ):
            target = self.merged / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            target.chmod(mode)
        self.cgroups = cgroups.make_machine_cgroups(self.name)

    def _spawn(self) -> None:
        assert self.merged is not None and self.log_path is not None
        cmd = [
            "systemd-nspawn", "--boot",
            "--directory", str(self.merged),
            "--machine", self.name,
            "--network-veth",
            "--keep-unit", "--register=no",  # no systemd/machined on this host
            "--capability=CAP_NET_ADMIN",
            "--link-journal=no", "--resolv-conf=off", "--timezone=off",
            "--console=read-only",
        ]  # fmt: skip
        if self.docker:
            cmd += [
                # runc joins a new session keyring for every container.
                "--system-call-filter=add_key keyctl",
                # overlay2 cannot stack on the overlayfs root; on tmpfs it works (else: vfs, ~5x slower).
                "--tmpfs=/var/lib/docker",
            ]
        machine_cgroups = self.cgroups
        with open(self.log_path, "wb") as log:
            # New session: a Ctrl-C in the terminal reaches pytest, whose cleanup then
            # stops the container in order, instead of hitting nspawn directly.
            self.nspawn = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=(lambda: cgroups.join(machine_cgroups)) if machine_cgroups else None,
            )  # fmt: skip
        self.nspawn_pid = self.nspawn.pid

    def _check_alive(self, what: str) -> None:
        assert self.nspawn is not None
        if self.nspawn.poll() is not None:
            raise BootError(f"systemd-nspawn exited (rc {self.nspawn.returncode}) while {what}\n{self.diagnostics()}")

    def _wait_for_iface(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not host_link.link_exists(self.iface):
            self._check_alive(f"waiting for {self.iface}")
            if time.monotonic() > deadline:
                raise BootError(f"{self.iface} did not appear\n{self.diagnostics()}")
            time.sleep(0.05)

    def _wait_for_init_pid(self, timeout: float = 20.0) -> int:
        """Host PID of the container's PID 1: the descendant of nspawn whose NSpid ends in 1."""
        assert self.nspawn_pid is not None
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive("waiting for the container init")
            pid = procfs.find_ns_init(self.nspawn_pid)
            if pid is not None:
                self._init_starttime = procfs.starttime(pid)
                return pid
            if time.monotonic() > deadline:
                raise BootError(f"no container init below nspawn PID {self.nspawn_pid}\n{self.diagnostics()}")
            time.sleep(0.05)

    def _setup_container_net(self) -> None:
        assert self.init_pid is not None
        base = ["nsenter", "-t", str(self.init_pid), "-n", "ip"]
        for args in (
            ["addr", "add", f"{self.ip}/30", "dev", "host0"],
            ["link", "set", "host0", "up"],
            ["link", "set", "lo", "up"],
        ):
            res = subprocess.run(base + args, capture_output=True, text=True, check=False)
            if res.returncode != 0:
                raise BootError(f"container network setup failed: ip {' '.join(args)}: {res.stderr}")

    def _assert_route(self) -> None:
        out = subprocess.run(["ip", "route", "get", self.ip], capture_output=True, text=True, check=True).stdout
        fields = out.split()
        if "dev" not in fields or fields[fields.index("dev") + 1] != self.iface:
            raise BootError(f"route to {self.ip} is not via {self.iface}: {out.strip()!r}")
        assert_safe_destination(self.ip)

    def _wait_system_running(self, t0: float) -> None:
        state = ""
        while time.monotonic() - t0 < self.boot_timeout:
            self._check_alive("booting")
            left = max(1.0, self.boot_timeout - (time.monotonic() - t0))
            try:
                res = self.nsenter(["systemctl", "is-system-running", "--wait"], timeout=left)
            except subprocess.TimeoutExpired:
                break
            state = res.stdout.strip()
            # Degraded is acceptable: stock fail2ban fails on Debian 12 without a log file.
            if state in ("running", "degraded"):
                return
            if state in ("maintenance", "stopping"):
                break
            time.sleep(0.2)  # bus not up yet ("offline"/"unknown"): retry
        raise BootError(f"systemd state {state!r} after {self.boot_timeout} s\n{self.diagnostics()}")

    def _wait_cloud_init(self) -> None:
        try:
            res = self.nsenter(["cloud-init", "status", "--wait", "--long"], timeout=self.boot_timeout)
        except subprocess.TimeoutExpired:
            raise BootError(f"cloud-init still running after {self.boot_timeout} s\n{self.diagnostics()}") from None
        if self.allow_cloud_init_errors and "status: error" in res.stdout:
            return
        if res.returncode != 0 or "status: done" not in res.stdout:
            raise BootError(f"cloud-init did not finish cleanly (rc {res.returncode}):\n{res.stdout}{res.stderr}\n{self.diagnostics()}")

    def _wait_tcp(self, port: int, t0: float) -> None:
        assert_safe_destination(self.ip)
        while time.monotonic() - t0 < self.boot_timeout:
            self._check_alive(f"waiting for port {port}")
            try:
                with socket.create_connection((self.ip, port), timeout=1.0):
                    return
            except OSError:
                time.sleep(0.2)
        raise BootError(f"nothing listens on {self.ip}:{port}\n{self.diagnostics()}")

    def _kill_init(self) -> None:
        # SIGKILL to a PID namespace's init kills the whole container. Check the PID
        # still is our process (same start time) before signalling it.
        if self.init_pid is not None and procfs.starttime(self.init_pid) == self._init_starttime:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.init_pid, signal.SIGKILL)


# ---------------------------------------------------------------------- helpers
def admin_user_from_user_data(user_data: str) -> str | None:
    """Name of the first explicit user in a cloud-config (``users:`` entry), if any."""
    try:
        doc = yaml.safe_load(user_data)
    except yaml.YAMLError:
        return None
    users = doc.get("users") if isinstance(doc, dict) else None
    for entry in users or []:
        if isinstance(entry, dict) and entry.get("name"):
            return str(entry["name"])
        if isinstance(entry, str) and entry != "default":
            return entry
    return None
