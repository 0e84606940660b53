"""The whole stack configuration as one validated pydantic model tree.

A stack file (Pulumi.<stack>.yaml) holds one key per top-level field below, in the
`hetzner-platform:` namespace. Field checks run first; checks that need several fields at once
(a type sold in the stack's location, references between servers, volumes and IPs) are in
config/cross_checks.py; config/loader.py runs them once every field is valid, so each problem is reported
with its own config path. The sections live in their own modules: servers.py (ssh, servers, volumes),
network.py (load balancer, floating IP, private network), dns.py, budget.py (budget, pricing, capacity),
host_settings.py, app.py and ops.py.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from config.app import AppConfig
from config.base import ConfigModel, Environment
from config.budget import BudgetConfig, CapacityConfig, PricingConfig
from config.catalogue import load_catalogue
from config.dns import DnsConfig
from config.host_settings import HostConfig
from config.network import FloatingIpConfig, LoadBalancerConfig, NetworkConfig
from config.ops import OpsConfig
from config.servers import NAME_RE, ServerConfig, SshConfig, VolumeConfig


class StackConfig(ConfigModel):
    project: str
    environment: Environment
    location: str = "nbg1"
    ssh: SshConfig
    servers: dict[str, ServerConfig] = Field(min_length=1)
    volumes: dict[str, VolumeConfig] = Field(default_factory=dict)
    load_balancer: LoadBalancerConfig | None = None
    floating_ip: FloatingIpConfig | None = None
    network: NetworkConfig | None = None
    dns: DnsConfig | None = None
    budget: BudgetConfig
    pricing: PricingConfig = Field(default_factory=PricingConfig)
    capacity: CapacityConfig = Field(default_factory=CapacityConfig)
    host: HostConfig = Field(default_factory=HostConfig)
    app: AppConfig = Field(default_factory=AppConfig)
    ops: OpsConfig = Field(default_factory=OpsConfig)

    @field_validator("project")
    @classmethod
    def _project(cls, value: str) -> str:
        if not NAME_RE.fullmatch(value):
            raise ValueError(f"'{value}' must be 2-32 lowercase letters, digits or '-', starting with a letter")
        return value

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        catalogue = load_catalogue()
        if value not in catalogue.locations:
            raise ValueError(f"unknown location '{value}'; use one of {', '.join(sorted(catalogue.locations))}")
        return value

    @field_validator("servers")
    @classmethod
    def _server_names(cls, value: dict[str, ServerConfig]) -> dict[str, ServerConfig]:
        for name in value:
            if not NAME_RE.fullmatch(name):
                raise ValueError(f"server name '{name}' must be 2-32 lowercase letters, digits or '-'")
        return value

    @field_validator("volumes")
    @classmethod
    def _volume_names(cls, value: dict[str, VolumeConfig]) -> dict[str, VolumeConfig]:
        # The name becomes the Hetzner volume name <project>-<environment>-<name>.
        for name in value:
            if not NAME_RE.fullmatch(name):
                raise ValueError(f"volume name '{name}' must be 2-32 lowercase letters, digits or '-'")
        return value

    # --- derived views used by components ------------------------------------------------------
    def served_roles(self) -> set[str]:
        return {role for server in self.servers.values() for role in server.roles}

    def servers_with_role(self, role: str) -> list[str]:
        return [name for name, server in self.servers.items() if role in server.roles]

    def volume_server(self, volume_name: str) -> str:
        volume = self.volumes[volume_name]
        if volume.server is not None:
            return volume.server
        if len(self.servers) == 1:
            return next(iter(self.servers))
        db_servers = self.servers_with_role("db")
        return db_servers[0] if db_servers else next(iter(self.servers))

    def floating_ip_server(self) -> str | None:
        if self.floating_ip is None:
            return None
        if self.floating_ip.server is not None:
            return self.floating_ip.server
        web = self.servers_with_role("web")
        return web[0] if web else next(iter(self.servers))

    @property
    def network_zone(self) -> str:
        return load_catalogue().locations[self.location].network_zone

    def resource_prefix(self) -> str:
        return f"{self.project}-{self.environment}"
