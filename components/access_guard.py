"""Refuse an SSH port or admin user change that would lock `pulumi up` out of the hosts.

Every remote command connects with the CONFIGURED port and user, but a running server's sshd still
listens on the old ones (cloud-init user-data is ignored after creation). Changing either in one run
would make every command dial a port nothing answers, while the Cloud Firewall closes the old one: a
lockout. So the last deployment's `ssh` output is compared with the config; on a change the firewall
rules and every connection wait for an Output that raises `pulumi.RunError` with the safe procedure.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.resize import self_stack_name
from config.schema import SshConfig

STACK_REFERENCE_NAME = "previous-access"


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
        "the same keys) to /etc/ssh/sshd_config.d/00-hetzner-platform-port.conf and reload ssh; (3) set the "
        "new ssh.port/adminUser with ssh.confirmAccessChange: true, remove the extra admin port, and run "
        "pulumi up: the ssh step then keeps only the new values. Finally set confirmAccessChange back to false."
    )


class AccessGuard:
    def __init__(self, ssh: SshConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        reference = pulumi.StackReference(STACK_REFERENCE_NAME, stack_name=self_stack_name(), opts=opts)
        previous = pulumi.Output.unsecret(reference.outputs.apply(lambda outputs: (outputs or {}).get("ssh")))

        def check(value: Any) -> bool:
            problem = access_problem(value, ssh)
            if problem is not None:
                raise pulumi.RunError(problem)
            return True

        # Resolves to True when access is unchanged (or confirmed); never resolves otherwise.
        self.ok: pulumi.Output[bool] = previous.apply(check)

    def gate(self, value: Any) -> pulumi.Output[Any]:
        """`value`, but only once the check passed."""
        return pulumi.Output.all(self.ok, value).apply(lambda args: args[1])
