"""The remote commands around a server type change, in the order Pulumi must run them.

    stop app + shut down (remote) -> wait until off (local) -> [snapshot] -> Server update -> start app (remote)

Ordering in Pulumi: the type change IS the update of the hcloud.Server, so whatever must happen before it
has to be a resource the Server depends on (`depends_on`). Pulumi performs a resource's update only after
every dependency was created or updated, and these commands are created only in the run that changes the
type (declared when the deployment guard found a resize), so they run exactly once, right before the
provider's ChangeType. The start command depends on the Server, so it runs after the server is back.
A command the next run no longer declares is deleted from the state without running anything.

Why each step: render/resize_steps.py (the provider powers a running server off hard).
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pulumi
from pulumi_command import local, remote

from components.host_setup import REMOTE_SHELL, ssh_connection
from config.schema import StackConfig
from render.resize_steps import start_after_resize_script, stop_before_resize_script
from spec.resources import ServerSpec

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ResizeHooks:
    """What the resize commands need: the config (scripts, SSH port/user) and the admin's private key."""

    config: StackConfig
    private_key: pulumi.Input[str]

    def before(self, spec: ServerSpec, old_type: str, host: pulumi.Input[str], parent: pulumi.Resource) -> list[pulumi.Resource]:
        name = f"{spec.resource_name}-resize-{old_type}-to-{spec.server_type}"
        stop = remote.Command(
            f"{name}-stop",
            connection=ssh_connection(self.config, host, self.private_key),
            create=REMOTE_SHELL,
            stdin=stop_before_resize_script(self.config, spec.name, old_type, spec.server_type),
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        # Runs where `pulumi up` runs, with the program's own interpreter: until sshd stops answering.
        wait = local.Command(
            f"{name}-wait-off",
            create=pulumi.Output.from_input(host).apply(
                lambda address: " ".join(shlex.quote(part) for part in (
                    sys.executable, "-m", "components.wait_port_closed", address, str(self.config.ssh.port)
                ))
            ),
            dir=str(PROJECT_ROOT),  # where `components` can be imported from
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[stop]),
        )
        return [stop, wait]

    def after(self, spec: ServerSpec, old_type: str, host: pulumi.Input[str], server: pulumi.Resource,
              parent: pulumi.Resource) -> remote.Command:
        return remote.Command(
            f"{spec.resource_name}-resize-{old_type}-to-{spec.server_type}-start",
            connection=ssh_connection(self.config, host, self.private_key),
            create=REMOTE_SHELL,
            stdin=start_after_resize_script(self.config, spec.name),
            add_previous_output_in_env=False,
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[server]),
        )
