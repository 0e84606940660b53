"""A floating IP assigned to one server, with reverse DNS. The OS side is the host network step."""

from __future__ import annotations

import pulumi
import pulumi_hcloud as hcloud

from components.naming import fixed_name_options
from spec.addresses import floating_host_address
from spec.resources import FloatingIpSpec, PlatformSpec


class FloatingIp(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        spec: PlatformSpec,
        fip: FloatingIpSpec,
        server_id: pulumi.Output[int],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hetzner-platform:network:FloatingIp", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.ip = hcloud.FloatingIp(
            fip.resource_name,
            name=fip.resource_name,
            type=fip.ip_type,
            home_location=fip.location,
            delete_protection=fip.protected,
            labels=spec.labels,
            opts=fixed_name_options(self),
        )
        self.assignment = hcloud.FloatingIpAssignment(
            f"{fip.resource_name}-assignment",
            floating_ip_id=self.ip.id.apply(int),
            server_id=server_id,
            opts=child,
        )
        # IPv6: the API gives the /64's network address; the host binds, and DNS publishes, its ::1.
        self.address: pulumi.Output[str] = self.ip.ip_address.apply(lambda raw: floating_host_address(fip.ip_type, raw))
        if fip.dns_ptr:
            hcloud.Rdns(
                f"{fip.resource_name}-rdns",
                floating_ip_id=self.ip.id.apply(int),
                ip_address=self.address,
                dns_ptr=fip.dns_ptr,
                opts=child,
            )
        self.register_outputs({"address": self.address})
