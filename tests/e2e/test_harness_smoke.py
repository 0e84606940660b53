"""Smoke test of the e2e harness itself: boot, cloud-init, SSH-over-stdin, testinfra."""

from __future__ import annotations

import socket
import time

import paramiko
import pytest

from .conftest import BootHost
from .container import BootedHost
from .ssh import KeyPair, connect

pytestmark = pytest.mark.e2e

SSH_PORT = 2222

# What our Pulumi program's user-data does, reduced to the essentials: admin user with the
# key and passwordless sudo, sshd moved to another port with root and password login off.
USER_DATA = """\
#cloud-config
users:
  - name: deploy
    shell: /bin/bash
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    lock_passwd: true
    ssh_authorized_keys:
      - {key}
write_files:
  - path: /etc/ssh/sshd_config.d/00-port.conf
    permissions: "0644"
    content: |
      Port {port}
      PermitRootLogin no
      PasswordAuthentication no
runcmd:
  - [systemctl, restart, ssh]
"""


@pytest.fixture(scope="module")
def smoke_host(booted_host_module: BootHost, admin_key: KeyPair) -> BootedHost:
    host = booted_host_module(USER_DATA.format(key=admin_key.public_line, port=SSH_PORT), admin_key, ssh_port=SSH_PORT)
    # First login closes the boot-to-SSH measurement.
    host.admin.run("true")
    host.timings["first_ssh_login"] = round(time.monotonic() - host.started_at, 2)
    print(f"\n[hp-e2e] {host.name} {host.ip} timings: {host.timings}")
    return host


def test_admin_ssh_on_custom_port(smoke_host: BootedHost) -> None:
    assert smoke_host.admin_user == "deploy"
    res = smoke_host.admin.run("id -un; hostname")
    assert res.rc == 0, res
    assert res.stdout.split() == ["deploy", smoke_host.name]


def test_port_22_closed(smoke_host: BootedHost) -> None:
    with pytest.raises(OSError):
        socket.create_connection((smoke_host.ip, 22), timeout=2).close()


def test_run_script_over_stdin(smoke_host: BootedHost) -> None:
    script = 'set -eu\necho "user=$(id -un)"\necho to-stderr >&2\nread -r rest || echo "stdin=eof"\n'
    res = smoke_host.admin.run_script(script)
    assert res.rc == 0, res
    # sudo bash -s: root runs it, the script came on stdin, and stdin is closed after it.
    assert res.stdout.splitlines() == ["user=root", "stdin=eof"]
    assert res.stderr.strip() == "to-stderr"
    assert res.seconds > 0


def test_run_script_failure_propagates(smoke_host: BootedHost) -> None:
    res = smoke_host.admin.run_script("set -e\necho before\nfalse\necho never\n")
    assert res.rc == 1
    assert res.stdout == "before\n"
    assert smoke_host.admin.run_script("exit 42\n").rc == 42


def test_sftp_upload_then_run(smoke_host: BootedHost) -> None:
    # remote.CopyToRemote + remote.Command: upload over SFTP, then run it with sudo.
    smoke_host.admin.put_file("/tmp/hello.sh", "echo hello from $(id -un)\n", mode=0o700)
    res = smoke_host.admin.run("sudo bash /tmp/hello.sh")
    assert (res.rc, res.stdout) == (0, "hello from root\n"), res


def test_root_login_refused(smoke_host: BootedHost, admin_key: KeyPair) -> None:
    # Root does hold the key (Hetzner puts the server's keys there), so a refusal is
    # PermitRootLogin at work and not a missing key.
    keys = smoke_host.admin.run("sudo cat /root/.ssh/authorized_keys")
    assert admin_key.public_line.split()[1] in keys.stdout
    with pytest.raises(paramiko.AuthenticationException):
        connect(smoke_host.ip, SSH_PORT, "root", admin_key.private_path).close()


def test_testinfra_sees_sshd(smoke_host: BootedHost) -> None:
    host = smoke_host.admin.testinfra(sudo=True)
    assert host.service("ssh").is_running
    assert host.socket(f"tcp://0.0.0.0:{SSH_PORT}").is_listening
    assert host.file("/etc/ssh/sshd_config.d/00-port.conf").contains(f"Port {SSH_PORT}")
    assert host.user("deploy").exists
