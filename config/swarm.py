"""`app.engine: swarm`: Docker Swarm mode across the stack's servers (the settings; their checks against
the rest of the stack are in config/swarm_checks.py).

With `compose` (the default) every server runs its own compose project. With `swarm` the servers form
one swarm over the private network: the managers are the servers with the `manager` role (none: the
first server alone), the first manager initialises the swarm and the others join; the app becomes one
stack (`docker stack deploy`) whose services the swarm places by node labels (the servers' roles).

Why the limits below:
- Managers keep the swarm state with Raft, which needs a majority of managers up. Two managers
  tolerate no failure, like one, but halve the chance that a majority is up: an even count is refused.
  https://docs.docker.com/engine/swarm/admin_guide/#add-manager-nodes-for-fault-tolerance
- Swarm's own addresses (2377/tcp, 7946/tcp+udp, 4789/udp) must be reachable between the nodes only:
  https://docs.docker.com/engine/swarm/swarm-tutorial/#open-protocols-and-ports-between-the-hosts
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from config.app_values import check_duration
from config.base import ConfigModel

Engine = Literal["compose", "swarm"]
MANAGER_ROLE = "manager"
# Raft: an odd number of managers; more than 7 is Docker's own advice against (and past any stack here).
ALLOWED_MANAGER_COUNTS = (1, 3, 5, 7)
# Hetzner names the first private-network NIC ens10 on its x86 types (enp7s0 on some others: set it).
DEFAULT_PRIVATE_INTERFACE = "ens10"
_IFACE_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$")


class SwarmUpdateConfig(ConfigModel):
    """How a service's tasks are replaced (update_config and rollback_config of every app service)."""

    parallelism: Annotated[int, Field(ge=1, le=100)] = 1
    # How long a new task must stay healthy before the update goes on (and counts as failed if not).
    monitor: str = "10s"
    delay: str = "0s"

    @field_validator("monitor", "delay", mode="before")
    @classmethod
    def _durations(cls, value: str | int) -> str:
        return check_duration(value)


class SwarmConfig(ConfigModel):
    # The NIC on the private network: swarm's ports are opened on it only, and the swarm advertises the
    # server's private address on it.
    private_interface: str = DEFAULT_PRIVATE_INTERFACE
    # Overlay networks with IPsec (ESP) between nodes: the app's traffic crosses the private network
    # encrypted. Needs the kernel's esp4 and GCM support (Hetzner's images have them).
    encrypted: bool = True
    update: SwarmUpdateConfig = Field(default_factory=SwarmUpdateConfig)

    @field_validator("private_interface")
    @classmethod
    def _interface(cls, value: str) -> str:
        if not _IFACE_RE.fullmatch(value):
            raise ValueError(f"'{value}' is not a network interface name (at most 15 letters, digits, _ . -)")
        return value
