"""How the private network's addresses are numbered: which hosts are reserved and where servers start.

The config checks pinned addresses against it (config/cross_checks.py) and spec/private_ips.py assigns
the addresses from it.
"""

from __future__ import annotations

import ipaddress

# Host numbers inside the subnet: Hetzner's gateway is the first address (.1); the LB sits at .5.
LOAD_BALANCER_HOST_INDEX = 4  # hosts()[4] == .5
FIRST_SERVER_HOST_INDEX = 9  # hosts()[9] == .10


def reserved_addresses(subnet: str) -> dict[str, str]:
    """Addresses no server may pin, with the reason."""
    base = ipaddress.ip_network(subnet).network_address
    return {str(base + 1): "Hetzner's gateway", str(base + 1 + LOAD_BALANCER_HOST_INDEX): "the load balancer"}
