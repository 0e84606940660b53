"""Hetzner Cloud Firewall: the outer wall, enforced outside the VM so Docker cannot bypass it."""

from __future__ import annotations

import pulumi
import pulumi_hcloud as hcloud

from components.naming import fixed_name_options
from spec.resources import PlatformSpec

ANYWHERE = ["0.0.0.0/0", "::/0"]


def firewall_rules(ssh_port: int, admin_cidrs: list[str], admin_ports: list[int],
                   web_sources: list[str] | None = None) -> list[hcloud.FirewallRuleArgsDict]:
    """Only SSH (from admin CIDRs), HTTP/HTTPS and ICMP come in; extra admin ports only from admin CIDRs.
    `web_sources`: who may use 80/443 (None: anywhere; Cloudflare's ranges for a Cloudflare-only origin)."""
    web = web_sources if web_sources is not None else ANYWHERE
    via = " from Cloudflare" if web_sources is not None else ""
    rules: list[hcloud.FirewallRuleArgsDict] = [
        {"direction": "in", "protocol": "tcp", "port": str(ssh_port), "source_ips": admin_cidrs, "description": "SSH from admin networks"},
        {"direction": "in", "protocol": "tcp", "port": "80", "source_ips": web, "description": f"HTTP (redirects to HTTPS){via}"},
        {"direction": "in", "protocol": "tcp", "port": "443", "source_ips": web, "description": f"HTTPS{via}"},
        {"direction": "in", "protocol": "icmp", "source_ips": ANYWHERE, "description": "ICMP (ping, path MTU)"},
    ]
    rules += [
        {"direction": "in", "protocol": "tcp", "port": str(port), "source_ips": admin_cidrs, "description": f"admin port {port}"}
        for port in sorted(set(admin_ports))
    ]
    return rules


class Firewall(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        spec: PlatformSpec,
        ssh_port: int,
        admin_cidrs: list[str],
        admin_ports: list[int],
        web_sources: list[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hetzner-platform:network:Firewall", name, None, opts)
        rules = firewall_rules(ssh_port, admin_cidrs, admin_ports, web_sources)
        self.firewall = hcloud.Firewall(
            f"{spec.prefix}-fw",
            name=f"{spec.prefix}-fw",
            labels=spec.labels,
            rules=rules,
            opts=fixed_name_options(self),
        )
        self.firewall_id: pulumi.Output[int] = self.firewall.id.apply(int)
        self.register_outputs({"firewallId": self.firewall_id})
