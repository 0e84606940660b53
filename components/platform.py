"""Wires every component of a stack together, in one direction: config -> specs -> resources -> outputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from components.access_guard import access_output
from components.deployment_guard import DeploymentGuard
from components.firewall import Firewall
from components.floating_ip import FloatingIp
from components.host import HostConfiguration, RuntimeInputs, StepSource
from components.load_balancer import LoadBalancer
from components.network import PrivateNetwork
from components.servers import PlacementGroup, Server
from components.specs import PlatformSpec
from components.ssh_keys import SshKeys
from components.storage import Volume
from config.pulumi_config import StackSecrets
from config.schema import StackConfig
from render.app import deploy_order
from render.cloud_init import render_user_data
from spec.app_output import app_output
from spec.web_sources import web_sources


class Platform(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        config: StackConfig,
        secrets: StackSecrets,
        *,
        step_sources: Sequence[StepSource],
        secret_values: dict[str, pulumi.Output[str]],
        spec: PlatformSpec,
        guard: DeploymentGuard,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hetzner-platform:index:Platform", name, None, opts)
        self.config = config
        self.plan_cost: Any = None  # set by the program: the priced report of this very spec
        self.spec = spec
        child = pulumi.ResourceOptions(parent=self)

        ssh_keys = SshKeys("ssh-keys", spec, config.ssh.public_keys, opts=child)
        firewall = Firewall("firewall", spec, config.ssh.port, config.ssh.admin_cidrs, config.host.admin_ports,
                            web_sources(config), opts=child)
        placement = PlacementGroup("placement", spec, opts=child) if spec.placement_group else None
        user_data = render_user_data(config)

        self.servers: dict[str, Server] = {
            server.name: Server(
                f"server-{server.name}",
                server,
                primary_ips=[ip for ip in spec.primary_ips if ip.server == server.name],
                user_data=user_data,
                ssh_key_ids=ssh_keys.key_ids,
                firewall_id=firewall.firewall_id,
                placement_group_id=placement.group_id if placement else None,
                guard=guard,
                opts=child,
            )
            for server in spec.servers
        }
        server_ids = {name: server.server_id for name, server in self.servers.items()}

        network = PrivateNetwork("network", spec, spec.network, opts=child) if spec.network else None
        attachments = {
            server.name: network.attach(server_ids[server.name], server.private_ip, server.resource_name)
            for server in spec.servers
            if network is not None
        }

        self.volumes = {
            volume.name: Volume(f"volume-{volume.name}", spec, volume, server_ids[volume.server], opts=child)
            for volume in spec.volumes
        }

        self.load_balancer = (
            LoadBalancer(
                "load-balancer",
                spec,
                spec.load_balancer,
                target_server_ids={name: server_ids[name] for name in spec.load_balancer.targets},
                subnet_id=network.subnet_id if network else None,
                network_attachments=list(attachments.values()),
                opts=child,
            )
            if spec.load_balancer
            else None
        )
        self.floating_ip = (
            FloatingIp("floating-ip", spec, spec.floating_ip, server_ids[spec.floating_ip.server], opts=child)
            if spec.floating_ip
            else None
        )

        self.dns_names: list[str] = []
        if spec.dns_zone:
            # Imported here on purpose: pulumi_cloudflare costs ~4 s and stacks without DNS skip it.
            from components.dns import DnsRecords

            dns = DnsRecords("dns", spec, self._dns_targets(), opts=child)
            self.dns_names = dns.names

        self.hosts: dict[str, HostConfiguration] = {}
        previous_app: list[pulumi.Resource] = []
        # Databases before the apps that use them: the app steps run in this order across servers.
        for server_name in deploy_order(config):
            server = spec.server(server_name)
            host = HostConfiguration(
                f"host-{server.name}",
                config,
                server.name,
                host=self.servers[server.name].ipv4,
                server_id=server_ids[server.name],
                private_key=secrets.ssh_private_key,
                runtime=self._runtime(server.name),
                secrets=secret_values,
                sources=step_sources,
                # Volumes, the private network and the floating IP must be in place before the host steps
                # that configure them run.
                depends_on=[
                    *[v.attachment for v in self.volumes.values()],
                    *([attachments[server.name]] if server.name in attachments else []),
                    *([self.floating_ip.assignment] if self.floating_ip else []),
                ],
                step_after={"app": previous_app},
                opts=child,
            )
            self.hosts[server.name] = host
            if "app" in host.commands:
                previous_app = [host.commands["app"]]
        self.outputs = self._outputs()
        self.register_outputs(self.outputs)

    def _dns_targets(self) -> dict[str, pulumi.Output[str]]:
        targets: dict[str, pulumi.Output[str]] = {}
        if self.load_balancer:
            targets["load_balancer/A"] = self.load_balancer.ipv4
            targets["load_balancer/AAAA"] = self.load_balancer.ipv6
        if self.floating_ip:
            kind = "A" if self.spec.floating_ip and self.spec.floating_ip.ip_type == "ipv4" else "AAAA"
            targets[f"floating_ip/{kind}"] = self.floating_ip.address
        for name, server in self.servers.items():
            targets[f"server:{name}/A"] = server.ipv4
            targets[f"server:{name}/AAAA"] = server.ipv6
        return targets

    def _runtime(self, server: str) -> RuntimeInputs:
        volumes = {v.name: self.volumes[v.name].volume_id for v in self.spec.volumes if v.server == server}
        fip = self.floating_ip.address if self.floating_ip and self.spec.floating_ip and self.spec.floating_ip.server == server else None
        volume_ids = pulumi.Output.all(*volumes.values()).apply(lambda ids: dict(zip(volumes, ids, strict=True)))
        return RuntimeInputs(volume_ids=volume_ids, floating_ip=fip, private_ip=self.spec.server(server).private_ip)

    def _outputs(self) -> dict[str, Any]:
        ssh = self.config.ssh
        outputs: dict[str, Any] = {
            "servers": {
                name: {
                    "type": server.spec.server_type,
                    "ipv4": server.ipv4,
                    "ipv6": server.ipv6,
                    "privateIp": server.spec.private_ip,
                    "roles": list(server.spec.roles),
                    # Read back by the deployment guard: a disk that already grew cannot shrink again.
                    "diskGb": server.server.primary_disk_size,
                }
                for name, server in self.servers.items()
            },
            "sshCommands": {
                name: server.ipv4.apply(lambda ip: f"ssh -p {ssh.port} {ssh.admin_user}@{ip}")
                for name, server in self.servers.items()
            },
            "dnsNames": self.dns_names,
            # Read back by the deployment guard on the next run (port/user changes need a safe procedure).
            "ssh": access_output(ssh),
            # Read by `hetzner-platform ssh|logs|exec|status` (cli/remote.py).
            "app": app_output(self.config),
        }
        if self.floating_ip:
            outputs["floatingIp"] = self.floating_ip.address
        if self.load_balancer:
            outputs["loadBalancerIpv4"] = self.load_balancer.ipv4
            outputs["loadBalancerIpv6"] = self.load_balancer.ipv6
        return outputs
