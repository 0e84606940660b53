"""Minimal, stable cloud-init user-data: admin user, SSH key, SSH port. Nothing else.

Changing user_data replaces a Hetzner server, so this must only change when the admin user,
their keys or the SSH port change. Everything else is configured later over SSH.
"""

from __future__ import annotations

import yaml

from config.schema import StackConfig


def render_user_data(config: StackConfig) -> str:
    ssh = config.ssh
    port_dropin = f"Port {ssh.port}\nPermitRootLogin no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
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
            {"path": "/etc/ssh/sshd_config.d/00-hetzner-platform-port.conf", "permissions": "0644", "content": port_dropin},
        ],
        "runcmd": [
            # Ubuntu 24.04 starts sshd through ssh.socket: the listening port lives in the socket unit.
            ["sh", "-c", "if systemctl is-enabled ssh.socket >/dev/null 2>&1; then "
             "mkdir -p /etc/systemd/system/ssh.socket.d && "
             f"printf '[Socket]\\nListenStream=\\nListenStream={ssh.port}\\n' > /etc/systemd/system/ssh.socket.d/10-port.conf && "
             "systemctl daemon-reload && systemctl restart ssh.socket; else systemctl restart ssh; fi"],
        ],
    }
    return "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False)
