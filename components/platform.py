"""Wires every component of a stack together, in one direction: config -> specs -> resources -> outputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi

from components.deployment_guard import SERVERS_OUTPUT, DeploymentGuard, as_mapping
from components.firewall import Firewall
from components.floating_ip import FloatingIp
from components.host_setup import HostConfiguration, RuntimeInputs, StepSource
from components.load_balancer import LoadBalancer
from components.network import PrivateNetwork
from components.resize_steps import ResizeHooks
from components.servers import PlacementGroups, Server
from components.ssh_keys import SshKeys
from components.storage import Volume
from components.swarm import SwarmCluster
from config.pulumi_config import StackSecrets
from config.schema import StackConfig
from render.app import deploy_order
from render.cloud_init import render_user_data
from spec.access import access_output
from spec.app_output import app_output
from spec.dns_adoption import DNS_RECORD_IDS_OUTPUT
from spec.order_dates import ORDERED_ON_OUTPUT_KEY
from spec.placement import PLACEMENT_OUTPUT_KEY, assign_placement_groups, groups_in_use
from spec.resources import PlatformSpec
from spec.swarm import swarm_spec
from spec.web_sources import web_sources


def _group_of(server: str) -> Callable[[dict[str, str | None]], str | None]:
    return lambda groups: groups.get(server)


def _group_id_of(server: str) -> Callable[[list[Any]], int | None]:
    """From (assignment, group ids): the id of the server's placement group, None when it has none."""

    def group_id(args: list[Any]) -> int | None:
        assignment, ids = args
        group = assignment.get(server)
        return int(ids[group]) if group is not None else None

    return group_id


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
        dns_adoption: pulumi.Output[Any] | None = None,
        ordered_on: pulumi.Input[dict[str, str | None]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hetzner-platform:index:Platform", name, None, opts)
        self.config = config
        # Set by the program: the priced report of this very spec (cost.api.PlanCost), and the Output it
        # resolves from (it waits for the last deployment's outputs).
        self.plan_cost: Any = None
        self.plan_cost_output: pulumi.Output[Any] | None = None
        # Each server's order date (ISO or None when unknown), recorded in the `servers` output so the next
        # run prices the server by it (spec/order_dates.py).
        self._ordered_on = pulumi.Output.from_input(ordered_on or {})
        self.spec = spec
        child = pulumi.ResourceOptions(parent=self)

        ssh_keys = SshKeys("ssh-keys", spec, config.ssh.public_keys, opts=child)
        firewall = Firewall("firewall", spec, config.ssh.port, config.ssh.admin_cidrs, config.host.admin_ports,
                            web_sources(config), opts=child)
        self.servers = self._servers(secrets, guard, ssh_keys, firewall)
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
        self.load_balancer = self._load_balancer(server_ids, network, attachments)
        self.floating_ip = (
            FloatingIp("floating-ip", spec, spec.floating_ip, server_ids[spec.floating_ip.server], opts=child)
            if spec.floating_ip
            else None
        )
        self._declare_dns(dns_adoption)
        self.hosts: dict[str, HostConfiguration] = {}
        self._declare_hosts(secrets, server_ids, attachments, step_sources, secret_values)
        self.outputs = self._outputs()
        self.register_outputs(self.outputs)

    def _servers(
        self, secrets: StackSecrets, guard: DeploymentGuard, ssh_keys: SshKeys, firewall: Firewall
    ) -> dict[str, Server]:
        """The placement groups, then every server with its primary IPs, keys and firewall."""
        spec, child = self.spec, pulumi.ResourceOptions(parent=self)
        # Each server's spread group: kept from the last deployment, new servers fill groups of at most 10.
        placement_assignment: pulumi.Output[dict[str, str | None]] = guard.previous.apply(
            lambda outputs: assign_placement_groups(
                spec.prefix, [server.name for server in spec.servers], as_mapping(outputs.get(SERVERS_OUTPUT))
            )
        )
        placement = PlacementGroups("placement", spec, placement_assignment.apply(groups_in_use), opts=child)
        self.placement_groups = placement_assignment
        user_data = render_user_data(self.config)
        return {
            server.name: Server(
                f"server-{server.name}",
                server,
                primary_ips=[ip for ip in spec.primary_ips if ip.server == server.name],
                user_data=user_data,
                ssh_key_ids=ssh_keys.key_ids,
                firewall_id=firewall.firewall_id,
                placement_group_id=pulumi.Output.all(placement_assignment, placement.group_ids).apply(
                    _group_id_of(server.name)
                ),
                guard=guard,
                resize_hooks=ResizeHooks(self.config, secrets.ssh_private_key),
                opts=child,
            )
            for server in spec.servers
        }

    def _load_balancer(
        self,
        server_ids: dict[str, pulumi.Output[int]],
        network: PrivateNetwork | None,
        attachments: Mapping[str, pulumi.Resource],
    ) -> LoadBalancer | None:
        lb = self.spec.load_balancer
        if lb is None:
            return None
        return LoadBalancer(
            "load-balancer",
            self.spec,
            lb,
            target_server_ids={name: server_ids[name] for name in lb.targets},
            subnet_id=network.subnet_id if network else None,
            network_attachments=list(attachments.values()),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _declare_dns(self, dns_adoption: pulumi.Output[Any] | None) -> None:
        """Cloudflare records for the stack's names (none without a dns section)."""
        self.dns_names: list[str] = []
        self.dns_record_ids: pulumi.Output[dict[str, str]] | None = None
        if self.spec.dns_zone and dns_adoption is not None:
            # Imported here on purpose: pulumi_cloudflare costs ~4 s and stacks without DNS skip it.
            from components.dns import DnsRecords

            dns = DnsRecords("dns", self.spec, self._dns_targets(), dns_adoption, opts=pulumi.ResourceOptions(parent=self))
            self.dns_names = dns.names
            self.dns_record_ids = dns.record_ids

    def _declare_hosts(
        self,
        secrets: StackSecrets,
        server_ids: dict[str, pulumi.Output[int]],
        attachments: Mapping[str, pulumi.Resource],
        step_sources: Sequence[StepSource],
        secret_values: dict[str, pulumi.Output[str]],
    ) -> None:
        """Into self.hosts (read as it fills by the swarm's hook): the host steps of every server, databases
        first, because the app steps run in this order across servers."""
        config = self.config
        previous_app: list[pulumi.Resource] = []
        for server_name in deploy_order(config):
            server = self.spec.server(server_name)
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
                before_step=self._swarm_before_app(server.name, server_ids, secrets) if config.app.engine == "swarm" else None,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.hosts[server.name] = host
            if "app" in host.commands:
                previous_app = [host.commands["app"]]

    def _ordered_on_of(self, server: str) -> pulumi.Output[str | None]:
        return self._ordered_on.apply(lambda dates: dates.get(server))

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

    def _swarm_before_app(
        self, server: str, server_ids: dict[str, pulumi.Output[int]], secrets: StackSecrets
    ) -> Callable[[str, Sequence[pulumi.Resource]], Sequence[pulumi.Resource]] | None:
        """On the swarm leader (whose app step runs last): the swarm's membership before its stack deploy."""
        if server != swarm_spec(self.config).leader:
            return None

        def before(step: str, previous: Sequence[pulumi.Resource]) -> Sequence[pulumi.Resource]:
            if step != "app":
                return ()
            after: dict[str, Sequence[pulumi.Resource]] = {name: [host.commands["app"]] for name, host in self.hosts.items()}
            after[server] = previous
            self.swarm = SwarmCluster(
                "swarm", self.config, hosts={name: s.ipv4 for name, s in self.servers.items()}, server_ids=server_ids,
                private_key=secrets.ssh_private_key, after=after, opts=pulumi.ResourceOptions(parent=self),
            )
            return list(self.swarm.nodes.values())

        return before

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
                    # Read back on the next run: a running server keeps the placement group it was created with.
                    PLACEMENT_OUTPUT_KEY: self.placement_groups.apply(_group_of(name)),
                    # Read back by the cost engine: the server keeps the price epoch of its order date.
                    ORDERED_ON_OUTPUT_KEY: self._ordered_on_of(name),
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
        if self.dns_record_ids is not None:
            # Read back on the next run: these records are this stack's own, not records to adopt or refuse.
            outputs[DNS_RECORD_IDS_OUTPUT] = self.dns_record_ids
        if self.floating_ip:
            outputs["floatingIp"] = self.floating_ip.address
        if self.load_balancer:
            outputs["loadBalancerIpv4"] = self.load_balancer.ipv4
            outputs["loadBalancerIpv6"] = self.load_balancer.ipv6
        return outputs
