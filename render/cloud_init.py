"""Minimal, stable cloud-init user-data: admin user, SSH key, SSH port. Nothing else.

Changing user_data replaces a Hetzner server, so this only changes when the admin user, their keys or
the SSH port change. Everything else is configured later over SSH by the host steps (render/host_steps.py).

From the first boot on: the admin user exists with the keys and passwordless sudo, root cannot log
in, passwords are refused, and sshd listens on the configured port only, both where sshd runs as a
service (Debian 12) and where ssh.socket starts it (Ubuntu 24.04). The two sshd files are the very
bytes the ssh step installs later, so that step finds them unchanged.
"""

from __future__ import annotations

import yaml

from config.schema import StackConfig
from render.host_ssh import port_dropin, socket_dropin

# Runs once, at the end of first boot (after write_files placed both drop-ins): a socket-activated
# sshd (Ubuntu 24.04) needs its socket re-bound to the new port; a plain sshd service just restarts.
APPLY_SSH_PORT = (
    "systemctl daemon-reload; "
    "if systemctl is-enabled --quiet ssh.socket; then "
    "systemctl stop ssh.service; systemctl restart ssh.socket; "
    "else systemctl restart ssh.service; fi"
)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (the file contents) as literal blocks, readable in the plan output."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render_user_data(config: StackConfig) -> str:
    ssh = config.ssh
    document = {
        "users": [
            {
                "name": ssh.admin_user,
                "groups": ["sudo"],
                "shell": "/bin/bash",
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "lock_passwd": True,
                "ssh_authorized_keys": list(ssh.public_keys),
            }
        ],
        "disable_root": True,
        "ssh_pwauth": False,
        "write_files": [
            {"path": item.path, "owner": "root:root", "permissions": item.mode, "content": item.content}
            for item in (port_dropin(config), socket_dropin(config))
        ],
        "runcmd": [["sh", "-c", APPLY_SSH_PORT]],
    }
    return "#cloud-config\n" + yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=1000)
