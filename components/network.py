"""Private network, one cloud subnet, and each server attached at its fixed private address."""

from __future__ import annotations

import pulumi
import pulumi_hcloud as hcloud

from components.naming import fixed_name_options
from spec.resources import NetworkSpec, PlatformSpec


class PrivateNetwork(pulumi.ComponentResource):
    def __init__(self, name: str, spec: PlatformSpec, network: NetworkSpec, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hetzner-platform:network:PrivateNetwork", name, None, opts)
        self.network = hcloud.Network(
            network.resource_name,
            name=network.resource_name,
            ip_range=network.ip_range,
            labels=spec.labels,
            opts=fixed_name_options(self),
        )
        self.network_id: pulumi.Output[int] = self.network.id.apply(int)
        self.subnet = hcloud.NetworkSubnet(
            f"{network.resource_name}-subnet",
            network_id=self.network_id,
            type="cloud",
            network_zone=network.network_zone,
            ip_range=network.subnet,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The subnet id is "<networkId>-<ipRange>": a string, passed as subnet_id, never int()-ed.
        self.subnet_id: pulumi.Output[str] = self.subnet.id
        self.register_outputs({"networkId": self.network_id, "subnetId": self.subnet_id})

    def attach(self, server_id: pulumi.Output[int], private_ip: str | None, parent_name: str) -> hcloud.ServerNetwork:
        """Attach a server with a separate ServerNetwork resource (inline networks make every up replace it)."""
        attachment = hcloud.ServerNetwork(
            f"{parent_name}-net",
            server_id=server_id,
            subnet_id=self.subnet_id,
            ip=private_ip,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return attachment
