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
