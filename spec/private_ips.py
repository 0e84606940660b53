"""Private addresses that stay put when servers are added, removed or reordered.

Servers are numbered from host .10 of the subnet in name order, the load balancer takes .5. That alone
renumbers every server when a name that sorts first is added (or one is removed): each server's network
attachment would be replaced and the compose extra_hosts and LB targets would change. So:

* `servers.<name>.privateIp` pins an address; pinned addresses are taken first, the others fill the lowest
  free addresses from .10 in name order (without pins: exactly the old numbering);
* the deployment guard compares with the last deployment's `servers.<name>.privateIp` output and refuses a
  run that would move a running server, naming the `privateIp` lines that keep every address
  (`private_ip_problem`). The hosts' files are rendered from the config alone, so the addresses must be
  in the config rather than read back from the last deployment.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from config.private_network import FIRST_SERVER_HOST_INDEX, LOAD_BALANCER_HOST_INDEX


def assign_private_ips(subnet: str, servers: Sequence[str], pinned: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """({server: address}, load balancer address). `pinned` are validated addresses inside the subnet."""
    # Addresses are computed, not listed: a /8 subnet has 16 million hosts.
    network = ipaddress.IPv4Network(subnet)
    base = network.network_address
    taken = set(pinned.values())
    addresses = {name: pinned[name] for name in servers if name in pinned}
    candidate = base + 1 + FIRST_SERVER_HOST_INDEX
    for name in sorted(servers):
        if name in addresses:
            continue
        while str(candidate) in taken:
            candidate += 1
        if candidate >= network.broadcast_address:
            raise ValueError(f"network.subnet: {subnet} has no free address left for server '{name}'")
        addresses[name] = str(candidate)
        candidate += 1
    return addresses, str(base + 1 + LOAD_BALANCER_HOST_INDEX)


def private_ip_problem(previous_servers: Mapping[str, Any], addresses: Mapping[str, str | None]) -> str | None:
    """A refusal when a server that exists already would get another private address; else None."""
    moved: dict[str, tuple[str, str]] = {}
    keep: dict[str, str] = {}
    for name, address in sorted(addresses.items()):
        before = previous_servers.get(name)
        old = before.get("privateIp") if isinstance(before, Mapping) else None
        if not isinstance(old, str) or address is None:
            continue
        keep[name] = old
        if old != address:
            moved[name] = (old, address)
    if not moved:
        return None
    lines = ["Private IP guard: this change would move running servers to other private addresses: "
             + ", ".join(f"{name} {old} -> {new}" for name, (old, new) in moved.items())
             + ". Every moved server's network attachment would be replaced and the other hosts' extra_hosts "
             "and the LB targets rewritten. Nothing was changed. Pin the addresses they have now:"]
    lines += [f"  servers.{name}.privateIp: {address}" for name, address in keep.items()]
    lines.append("(New servers then take the lowest free addresses from .10.)")
    return "\n".join(lines)
