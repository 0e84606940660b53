"""The admin's SSH public keys registered in the Hetzner project (names from spec/ssh_keys.py)."""

from __future__ import annotations

import pulumi
import pulumi_hcloud as hcloud

from components.naming import fixed_name_options
from spec.resources import PlatformSpec
from spec.ssh_keys import ssh_key_specs


class SshKeys(pulumi.ComponentResource):
    def __init__(self, name: str, spec: PlatformSpec, public_keys: list[str], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hetzner-platform:access:SshKeys", name, None, opts)
        self.keys = [
            hcloud.SshKey(
                key.resource_name,
                name=key.hetzner_name,
                public_key=key.public_key,
                labels=spec.labels,
                # A stack deployed before keys were named by identity holds "<prefix>-key-<index>": the alias
                # adopts it in place on the first run after the upgrade. Correct when the key list is left
                # as it was for that one run (docs/growth.md, "Changing a running stack"); from then on the names
                # no longer depend on the order.
                opts=fixed_name_options(self, pulumi.ResourceOptions(aliases=[pulumi.Alias(name=key.legacy_resource_name)])),
            )
            for key in ssh_key_specs(spec.prefix, public_keys)
        ]
        self.key_ids: list[pulumi.Output[str]] = [key.id for key in self.keys]
        self.register_outputs({"keyIds": self.key_ids})
