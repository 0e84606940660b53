"""Refuse an SSH port or admin user change that would lock `pulumi up` out of the hosts.

Every remote command connects with the CONFIGURED port and user, but a running server's sshd still
listens on the old ones (cloud-init user-data is ignored after creation). Changing either in one run
would make every command dial a port nothing answers, while the Cloud Firewall closes the old one: a
lockout. So the last deployment's `ssh` output is compared with the config; on a change the run is
refused before anything is registered (components/deployment_guard.py), with the safe procedure.
"""

from __future__ import annotations

from typing import Any

from config.servers import SshConfig
from spec.host_paths import PORT_DROPIN


def access_output(ssh: SshConfig) -> dict[str, Any]:
    """What the program exports as `ssh`, and what the next run compares against."""
    return {"port": ssh.port, "adminUser": ssh.admin_user}


def access_problem(previous: Any, ssh: SshConfig) -> str | None:
    if not isinstance(previous, dict) or "port" not in previous:
        return None  # first deployment, or one from before this output existed
    old_port, old_user = int(previous["port"]), str(previous.get("adminUser", ssh.admin_user))
    if (old_port, old_user) == (ssh.port, ssh.admin_user) or ssh.confirm_access_change:
        return None
    return (
        f"Access guard: ssh.port/adminUser changed from {old_port}/{old_user} to {ssh.port}/{ssh.admin_user}. "
        "The servers' sshd still listens on the old values, so every remote command would be locked out. "
        "Nothing was changed on the hosts. Safe procedure: (1) add the new port to host.adminPorts and run "
        "pulumi up (both firewalls open it); (2) on each server add a second `Port` (or the new user with "
        f"the same keys) to {PORT_DROPIN} and reload ssh; (3) set the "
        "new ssh.port/adminUser with ssh.confirmAccessChange: true, remove the extra admin port, and run "
        "pulumi up: the ssh step then keeps only the new values. Finally set confirmAccessChange back to false."
    )
