"""Hetzner load balancer in front of the web servers, reaching them over the private network."""

from __future__ import annotations

import pulumi
import pulumi_hcloud as hcloud

from components.naming import fixed_name_options
from config.network import LbServiceConfig
from spec.resources import LoadBalancerSpec, PlatformSpec


class LoadBalancer(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        spec: PlatformSpec,
        lb: LoadBalancerSpec,
        *,
        target_server_ids: dict[str, pulumi.Output[int]],
        subnet_id: pulumi.Output[str] | None,
        network_attachments: list[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("hetzner-platform:network:LoadBalancer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.lb = hcloud.LoadBalancer(
            lb.resource_name,
            name=lb.resource_name,
            load_balancer_type=lb.lb_type,
            location=lb.location,
            algorithm=hcloud.LoadBalancerAlgorithmArgs(type=lb.algorithm),
            delete_protection=lb.protected,
            labels=spec.labels,
            opts=fixed_name_options(self),
        )
        lb_int_id = self.lb.id.apply(int)
        depends: list[pulumi.Resource] = []
        if lb.use_private_ip and subnet_id is not None:
            self.network = hcloud.LoadBalancerNetwork(
                f"{lb.resource_name}-net",
                load_balancer_id=lb_int_id,
                subnet_id=subnet_id,
                ip=lb.private_ip,
                opts=child,
            )
            # Private targets only work once both the LB and the servers sit in the network.
            depends = [self.network, *network_attachments]
        self.services = [self._service(lb, service) for service in lb.services]
        self.targets = [
            hcloud.LoadBalancerTarget(
                f"{lb.resource_name}-target-{server}",
                load_balancer_id=lb_int_id,
                type="server",
                server_id=target_server_ids[server],
                use_private_ip=lb.use_private_ip,
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends),
            )
            for server in lb.targets
        ]
        self.ipv4: pulumi.Output[str] = self.lb.ipv4
        self.ipv6: pulumi.Output[str] = self.lb.ipv6
        self.register_outputs({"ipv4": self.ipv4, "ipv6": self.ipv6})

    def _service(self, lb: LoadBalancerSpec, service: LbServiceConfig) -> hcloud.LoadBalancerService:
        """One listener with the health check spec/lb_checks.py derived for its port."""
        check, health = lb.checks[service.listen_port], lb.health_check
        return hcloud.LoadBalancerService(
            f"{lb.resource_name}-svc-{service.listen_port}",
            load_balancer_id=self.lb.id,  # this one argument is a string in the provider
            protocol=service.protocol,
            listen_port=service.listen_port,
            destination_port=service.destination_port,
            proxyprotocol=service.proxy_protocol,
            health_check=hcloud.LoadBalancerServiceHealthCheckArgs(
                protocol=check.protocol,
                port=check.port,
                interval=health.interval_s,
                timeout=health.timeout_s,
                retries=health.retries,
                # A Host header, a path and 2xx: see spec/lb_checks.py for the provider arguments.
                http=hcloud.LoadBalancerServiceHealthCheckHttpArgs(
                    domain=check.domain, path=check.path, status_codes=list(check.status_codes),
                ) if check.protocol == "http" else None,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
