"""Choices the config allows but that weaken a server: printed as warnings by the plan (never silent)."""

from __future__ import annotations

import ipaddress

from config.schema import StackConfig


def config_warnings(stack: StackConfig) -> list[str]:
    warnings: list[str] = []
    world = [cidr for cidr in stack.ssh.admin_cidrs if ipaddress.ip_network(cidr).prefixlen == 0]
    if world:
        warnings.append(
            f"ssh.adminCidrs {', '.join(world)} admits SSH{' and host.adminPorts' if stack.host.admin_ports else ''} from the "
            "whole internet (Cloud Firewall and UFW); SSH stays rate limited for everyone. List your own networks instead"
        )
    return warnings
