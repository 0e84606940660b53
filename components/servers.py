"""Servers with their own primary IPs (so addresses survive a server replacement) and placement group."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_hcloud as hcloud

from components.deployment_guard import DeploymentGuard
from components.naming import fixed_name_options
from components.resize_steps import ResizeHooks
from spec.resources import PlatformSpec, PrimaryIpSpec, ServerSpec


class Server(pulumi.ComponentResource):
    """One server, its primary IPv4/IPv6, the firewall attached from the first boot."""

    def __init__(
        self,
        name: str,
        spec: ServerSpec,
        *,
        primary_ips: Sequence[PrimaryIpSpec],
        user_data: str,
        ssh_key_ids: list[pulumi.Output[str]],
        firewall_id: pulumi.Output[int],
        placement_group_id: pulumi.Input[int | None],
        guard: DeploymentGuard | None = None,
        resize_hooks: ResizeHooks | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hetzner-platform:compute:Server", name, None, opts)
        self.spec = spec
        # The same specs the cost component prices: one IPv4 and one IPv6 per server.
        ips = {ip.ip_type: self._primary_ip(ip) for ip in primary_ips}
        self.primary_ipv4, self.primary_ipv6 = ips["ipv4"], ips["ipv6"]
        # A type change first stops the app and shuts the server down cleanly (and snapshots it when asked).
        host = self.primary_ipv4.ip_address
        before: pulumi.Input[list[pulumi.Resource]] = (
            guard.before_type_change(spec, self, resize_hooks, host) if guard else []
        )
        self.server = self._server(spec, user_data, ssh_key_ids, firewall_id, placement_group_id, before)
        if guard is not None:
            guard.after_type_change(spec, self, resize_hooks, host, self.server)
        self.server_id: pulumi.Output[int] = self.server.id.apply(int)
        self.ipv4: pulumi.Output[str] = self.primary_ipv4.ip_address
        self.ipv6: pulumi.Output[str] = self.server.ipv6_address
        self.register_outputs({"serverId": self.server_id, "ipv4": self.ipv4, "ipv6": self.ipv6})

    def _server(
        self,
        spec: ServerSpec,
        user_data: str,
        ssh_key_ids: list[pulumi.Output[str]],
        firewall_id: pulumi.Output[int],
        placement_group_id: pulumi.Input[int | None],
        before: pulumi.Input[list[pulumi.Resource]],
    ) -> hcloud.Server:
        """The server on its own primary IPs, after whatever a type change needs first (`before`)."""
        return hcloud.Server(
            spec.resource_name,
            name=spec.resource_name,
            server_type=spec.server_type,
            image=spec.image,
            location=spec.location,
            backups=spec.backups,
            labels=spec.labels,
            user_data=user_data,
            ssh_keys=ssh_key_ids,
            firewall_ids=[firewall_id],
            placement_group_id=placement_group_id,
            # Hetzner rejects a mix; the schema guarantees both flags agree.
            delete_protection=spec.protected,
            rebuild_protection=spec.protected,
            # A type change keeps the disk as it is when asked, so a later downgrade stays possible.
            keep_disk=spec.keep_disk,
            public_nets=[
                hcloud.ServerPublicNetArgs(
                    ipv4_enabled=True,
                    ipv4=self.primary_ipv4.id.apply(int),
                    ipv6_enabled=True,
                    ipv6=self.primary_ipv6.id.apply(int),
                )
            ],
            # Changing either would replace the server (and its disk); keys are managed over SSH afterwards.
            # placement_group_id: a running server never changes group (spec/placement.py); the program already
            # keeps each server's group, and this makes sure the provider is never asked to.
            opts=fixed_name_options(self, pulumi.ResourceOptions(
                depends_on=before, ignore_changes=["ssh_keys", "user_data", "placement_group_id"]
            )),
        )

    def _primary_ip(self, ip: PrimaryIpSpec) -> hcloud.PrimaryIp:
        """A primary IP of its own: kept (not auto-deleted) when the server is replaced, so DNS stays valid."""
        spec = self.spec
        return hcloud.PrimaryIp(
            ip.resource_name,
            name=ip.resource_name,
            type=ip.ip_type,
            location=ip.location,
            # No assignee_type: without an assignee_id the provider warns "Unused Attribute ... Please
            # remove it" on every run (terraform-provider-hcloud internal/primaryip/resource.go
            # ValidateConfig, since 1.62) and the API's "unassigned" answer can show as a diff
            # (pulumi-terraform-bridge#2413). The server takes the IP through its public_nets instead.
            auto_delete=False,
            delete_protection=spec.protected,
            labels=spec.labels,
            opts=fixed_name_options(self),
        )


class PlacementGroups(pulumi.ComponentResource):
    """Spread placement groups: no two servers of a group share a physical host.

    Which groups exist follows from the last deployment (spec/placement.py: a server keeps the group it
    was created with), which is an Output, so the groups are declared once it resolved. The first group
    keeps its old name and parent, so a stack deployed before keeps its group.
    """

    def __init__(self, name: str, spec: PlatformSpec, groups: pulumi.Output[list[str]], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hetzner-platform:compute:PlacementGroup", name, None, opts)

        def declare(names: list[str]) -> dict[str, pulumi.Output[int]]:
            return {
                group: hcloud.PlacementGroup(
                    group, name=group, type="spread", labels=spec.labels, opts=fixed_name_options(self)
                ).id.apply(int)
                for group in names
            }

        def ids(names: list[str]) -> pulumi.Input[dict[str, int]]:
            declared = declare(names)
            return pulumi.Output.all(**declared) if declared else {}

        self.group_ids: pulumi.Output[dict[str, int]] = groups.apply(ids)
        self.register_outputs({"placementGroupIds": self.group_ids})
