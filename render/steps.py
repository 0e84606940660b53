"""The unit of host configuration: one idempotent bash script per concern, sent over SSH stdin."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HostRuntime:
    """Values only known once the cloud resources exist (ids and addresses from Hetzner).

    Scripts receive them rendered in; the plan renders with stand-in values from Pulumi's mocks.
    """

    volume_ids: dict[str, int] = field(default_factory=dict)  # volume name -> Hetzner volume id
    floating_ip: str | None = None
    private_ip: str | None = None  # this server's address on the private network


# The cloud-assigned HostRuntime fields each step's script reads (private_ip comes from the config and
# is always known). Only these steps wait for new ids and addresses, so a preview that adds a volume or
# a floating IP shows the storage or network step as changing instead of every step of the server.
# tests/unit/test_step_runtime.py renders every step with and without the other fields to keep it true.
STEP_RUNTIME_FIELDS: dict[str, frozenset[str]] = {
    "storage": frozenset({"volume_ids"}),
    "network": frozenset({"floating_ip"}),
}


def runtime_fields(step_name: str) -> frozenset[str]:
    return STEP_RUNTIME_FIELDS.get(step_name, frozenset())


def limited_runtime(runtime: HostRuntime, fields: frozenset[str]) -> HostRuntime:
    """`runtime` with only `fields` of the cloud-assigned values (and the always-known private IP)."""
    return HostRuntime(
        volume_ids=runtime.volume_ids if "volume_ids" in fields else {},
        floating_ip=runtime.floating_ip if "floating_ip" in fields else None,
        private_ip=runtime.private_ip,
    )


@dataclass(frozen=True)
class HostStep:
    """One remote command: `sudo bash -s` with `script` on stdin.

    `files` lists every file the script installs (host path -> content) so the plan's --out and the
    validator tests see exactly what the host receives. The step re-runs only when `digest` changes.
    """

    name: str
    script: str
    files: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.script.encode()).hexdigest()
