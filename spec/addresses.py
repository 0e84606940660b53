"""Addresses the program derives from what Hetzner hands out."""

from __future__ import annotations

import ipaddress

# The host inside a floating IPv6 /64 that the server binds and DNS/rDNS publish.
FLOATING_IPV6_HOST = 1


def floating_host_address(ip_type: str, api_address: str) -> str:
    """The address to bind, publish in DNS and use for rDNS.

    For IPv4 the API's address itself. For IPv6 Hetzner assigns a whole /64 and the provider reports its
    network address ("2001:db8:1::", terraform-provider-hcloud internal/floatingip/resource.go, the
    ip_address attribute): that address is not usable as a host, so "<network>::1" is taken.
    """
    raw = api_address.split("/")[0]
    if ip_type == "ipv4":
        return str(ipaddress.IPv4Address(raw))
    network = ipaddress.IPv6Network(f"{raw}/64", strict=False)
    address = ipaddress.IPv6Address(raw)
    if address == network.network_address:
        address = network.network_address + FLOATING_IPV6_HOST
    return str(address)
