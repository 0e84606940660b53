"""The admin's SSH keys as Hetzner resources, each named by the key itself (not its list position).

A key named by position ("<prefix>-key-0") is replaced when the list shifts; replaced delete-first
(Hetzner names and fingerprints are unique per project, `uniqueness_error`) the new key can collide with a
key another resource still holds, and the run stops half way, every later run failing the same way. Named
by a hash of the key line, adding, removing or reordering keys creates or deletes only those keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

IDENTITY_LENGTH = 8


@dataclass(frozen=True)
class SshKeySpec:
    resource_name: str  # the Pulumi name: "<prefix>-key-<identity>"
    hetzner_name: str  # the name in the Hetzner project (unchanged since the first release)
    public_key: str
    legacy_resource_name: str  # "<prefix>-key-<index>", the name before issue 14, for an alias


def key_identity(public_key: str) -> str:
    """A short, stable hash of the key line (the same hash the Hetzner name always carried)."""
    return hashlib.sha256(public_key.encode()).hexdigest()[:IDENTITY_LENGTH]


def ssh_key_specs(prefix: str, public_keys: Sequence[str]) -> list[SshKeySpec]:
    return [
        SshKeySpec(
            resource_name=f"{prefix}-key-{key_identity(key)}",
            hetzner_name=f"{prefix}-{key_identity(key)}",
            public_key=key,
            legacy_resource_name=f"{prefix}-key-{index}",
        )
        for index, key in enumerate(public_keys)
    ]
