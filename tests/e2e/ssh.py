"""SSH helpers that behave like ``pulumi_command.remote.Command``.

Every call opens a fresh SSH connection and one session, runs one command line and, for
scripts, sends the script on STDIN (``sudo bash -s``) and closes STDIN, exactly like the
remote commands of the Pulumi program do. Before connecting, the destination is checked to
be loopback or routed through a veth of this harness (see ``assert_safe_destination``).
"""

from __future__ import annotations

import ipaddress
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# Host-side veth names this harness creates (see container.py).
HARNESS_IFACE_PREFIX = "ve-hpe2e-"

KeyArg: TypeAlias = str | os.PathLike[str] | paramiko.PKey


@dataclass(frozen=True)
class Result:
    rc: int
    stdout: str
    stderr: str
    seconds: float
    # SSH connection attempts it took (> 1 only with dial_attempts > 1, like pulumi-command's retries).
    dials: int = 1


@dataclass(frozen=True)
class KeyPair:
    private_path: Path
    public_line: str  # "ssh-ed25519 AAAA... comment", for authorized_keys / user-data

    @property
    def pkey(self) -> paramiko.PKey:
        return paramiko.Ed25519Key.from_private_key_file(str(self.private_path))


def generate_ed25519(directory: Path, comment: str = "hp-e2e") -> KeyPair:
    """Write a throwaway ed25519 key pair (OpenSSH format, mode 0600) into ``directory``."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    path = directory / "id_ed25519"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private)
    public_line = f"{public.decode()} {comment}"
    (directory / "id_ed25519.pub").write_text(public_line + "\n")
    return KeyPair(path, public_line)


def assert_safe_destination(host: str) -> None:
    """Refuse any destination other than loopback or an address behind a harness veth.

    Tests may only contact 127.0.0.0/8 or addresses inside namespaces they created; a
    packet to a container address sent before its route exists would leave through the
    default route, so the kernel's route choice is checked, not just the address.
    """
    addr = ipaddress.ip_address(host)
    if addr.version == 4 and addr in ipaddress.ip_network("127.0.0.0/8"):
        return
    out = subprocess.run(["ip", "route", "get", str(addr)], capture_output=True, text=True, check=False).stdout
    fields = out.split()
    dev = fields[fields.index("dev") + 1] if "dev" in fields else ""
    if not dev.startswith(HARNESS_IFACE_PREFIX):
        raise RuntimeError(f"refusing to contact {host}: route is not through a harness veth ({HARNESS_IFACE_PREFIX}*): {out.strip()!r}")


def _load_key(key: KeyArg) -> paramiko.PKey:
    if isinstance(key, paramiko.PKey):
        return key
    return paramiko.PKey.from_path(Path(key))


class _AcceptEphemeralHostKey(paramiko.MissingHostKeyPolicy):
    """Containers are throwaway: accept their host key without saving it anywhere."""

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        return None


def connect(host: str, port: int, user: str, key: KeyArg, timeout: float = 10.0) -> paramiko.SSHClient:
    """Open a new SSH connection using only ``key`` (no agent, no ~/.ssh keys)."""
    assert_safe_destination(host)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(_AcceptEphemeralHostKey())
    try:
        client.connect(
            hostname=host,
            port=port,
            username=user,
            pkey=_load_key(key),
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
            allow_agent=False,
            look_for_keys=False,
        )
    except BaseException:
        client.close()
        raise
    return client


def connect_with_retry(
    host: str, port: int, user: str, key: KeyArg, attempts: int = 1, delay: float = 0.25, timeout: float = 10.0
) -> tuple[paramiko.SSHClient, int]:
    """``connect``, retried on connection-level errors like pulumi-command's ``dialErrorLimit``.

    A refused or reset connection (sshd restarting after a reload, say) is retried up to
    ``attempts`` times; a refused *login* is never retried. Returns the client and the number of
    attempts made.
    """
    for attempt in range(1, attempts + 1):
        try:
            return connect(host, port, user, key, timeout=timeout), attempt
        except paramiko.AuthenticationException:
            raise
        except (OSError, paramiko.SSHException):
            if attempt == attempts:
                raise
            time.sleep(delay)
    raise AssertionError("unreachable")


def _exec(client: paramiko.SSHClient, command: str, stdin: str | None, timeout: float) -> tuple[int, str, str]:
    transport = client.get_transport()
    assert transport is not None
    chan = transport.open_session(timeout=timeout)
    chan.settimeout(timeout)
    chan.exec_command(command)
    if stdin is not None:
        chan.sendall(stdin.encode())
    # EOF on stdin, as remote.Command does; `bash -s` ends when it reads it.
    chan.shutdown_write()
    # Drain stdout and stderr together: a script that floods one stream while we block
    # on the other would stall once the channel window (2 MiB) is full.
    stdout, stderr = bytearray(), bytearray()
    deadline = time.monotonic() + timeout
    while True:
        busy = False
        if chan.recv_ready():
            stdout += chan.recv(65536)
            busy = True
        if chan.recv_stderr_ready():
            stderr += chan.recv_stderr(65536)
            busy = True
        # The exit status arrives after all data on the same transport, so once it is
        # there and both buffers are empty, everything has been read.
        if not busy and chan.exit_status_ready():
            break
        if time.monotonic() > deadline:
            chan.close()
            raise TimeoutError(f"{command!r} still running after {timeout} s")
        if not busy:
            time.sleep(0.01)
    rc = chan.recv_exit_status()
    chan.close()
    return rc, stdout.decode(errors="replace"), stderr.decode(errors="replace")


def run_script(
    host: str,
    port: int,
    user: str,
    key: KeyArg,
    script: str,
    sudo: bool = True,
    timeout: float = 600.0,
    dial_attempts: int = 1,
) -> Result:
    """Run ``script`` like remote.Command(create="sudo bash -s", stdin=script).

    ``dial_attempts`` > 1 retries a failed connection (never the script), as pulumi-command does
    up to its connection's ``dialErrorLimit``.
    """
    started = time.monotonic()
    client, dials = connect_with_retry(host, port, user, key, attempts=dial_attempts)
    try:
        command = "sudo bash -s" if sudo else "bash -s"
        rc, out, err = _exec(client, command, script, timeout)
    finally:
        client.close()
    return Result(rc, out, err, round(time.monotonic() - started, 3), dials)


def run(host: str, port: int, user: str, key: KeyArg, cmd: str, timeout: float = 120.0) -> Result:
    """Run one ad-hoc command line (no stdin) over a fresh SSH connection."""
    started = time.monotonic()
    client = connect(host, port, user, key)
    try:
        rc, out, err = _exec(client, cmd, None, timeout)
    finally:
        client.close()
    return Result(rc, out, err, round(time.monotonic() - started, 3))


def put_file(host: str, port: int, user: str, key: KeyArg, remote_path: str, content: bytes | str, mode: int = 0o644) -> None:
    """Upload ``content`` over SFTP, as remote.CopyToRemote does (as ``user``, no sudo)."""
    data = content.encode() if isinstance(content, str) else content
    client = connect(host, port, user, key)
    try:
        sftp = client.open_sftp()
        with sftp.open(remote_path, "wb") as fh:
            fh.write(data)
        sftp.chmod(remote_path, mode)
        sftp.close()
    finally:
        client.close()


@dataclass(frozen=True)
class SshTarget:
    """Where and as whom to connect: bundles the arguments of the functions above."""

    host: str
    port: int
    user: str
    key_path: Path

    def run_script(self, script: str, sudo: bool = True, timeout: float = 600.0, dial_attempts: int = 1) -> Result:
        return run_script(self.host, self.port, self.user, self.key_path, script, sudo=sudo, timeout=timeout, dial_attempts=dial_attempts)

    def run(self, cmd: str, timeout: float = 120.0) -> Result:
        return run(self.host, self.port, self.user, self.key_path, cmd, timeout=timeout)

    def put_file(self, remote_path: str, content: bytes | str, mode: int = 0o644) -> None:
        put_file(self.host, self.port, self.user, self.key_path, remote_path, content, mode)

    def testinfra(self, sudo: bool = False) -> Any:
        return testinfra_host(self.host, self.port, self.user, self.key_path, sudo=sudo)


def testinfra_host(host: str, port: int, user: str, key_path: str | os.PathLike[str], sudo: bool = False) -> Any:
    """A testinfra ``Host`` over paramiko (pytest-testinfra 10.2.2).

    An explicit ssh_config (written next to the key) keeps ~/.ssh/config out and turns
    host key checking off for the throwaway container: testinfra maps
    ``StrictHostKeyChecking no`` to an ignore policy instead of warning on every connect.
    """
    import testinfra

    assert_safe_destination(host)
    key_path = Path(key_path)
    cfg_path = key_path.parent / f"ssh_config-{host}-{port}"
    cfg_path.write_text(f"Host {host}\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  IdentityFile {key_path}\n")
    return testinfra.get_host(
        f"paramiko://{user}@{host}:{port}",
        ssh_config=str(cfg_path),
        ssh_identity_file=str(key_path),
        sudo=sudo,
    )
