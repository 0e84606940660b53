"""The admin's SSH public keys registered in the Hetzner project."""

from __future__ import annotations

import hashlib

import pulumi
import pulumi_hcloud as hcloud

from components.naming import named
from components.specs import PlatformSpec


class SshKeys(pulumi.ComponentResource):
    def __init__(self, name: str, spec: PlatformSpec, public_keys: list[str], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hetzner-platform:access:SshKeys", name, None, opts)
        self.keys = [
            hcloud.SshKey(
                f"{spec.prefix}-key-{index}",
                # The name must be unique per project; a short hash keeps it stable per key.
                name=f"{spec.prefix}-{hashlib.sha256(key.encode()).hexdigest()[:8]}",
                public_key=key,
                labels=spec.labels,
                opts=named(self),
            )
            for index, key in enumerate(public_keys)
        ]
        self.key_ids: list[pulumi.Output[str]] = [key.id for key in self.keys]
        self.register_outputs({"keyIds": self.key_ids})
