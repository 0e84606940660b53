"""Do the compose services fit their servers? Limits summed per server against type minus reserve.

Placement comes from `spec.service_homes.placement(stack)`, the same function the compose renderer uses, so the
capacity check counts exactly the containers each server will run:
  * a service runs on every server that has its role (web replicas behind the load balancer, more
    workers); a stateful service (volumes, postgres, redis) only on the first of them; `server` pins it;
  * the platform's proxy (traefik, or nginx + certbot) runs on each server with an exposed service,
    with app.proxy.limits.

A server is over capacity when the services' `limits.cpus` or `limits.memory` plus the system reserve
(capacity.reserveVcpu / capacity.reserveRamGb) exceed the type's vCPU or RAM. The report then names the
cheapest type orderable in the server's location (same CPU architecture, so images keep working) that
fits, at its new-order price, with the monthly difference; orderable means listed as available by the live
/v1/datacenters answer, else sold there and not marked unavailable in the catalogue (cost/availability.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from config.catalogue import Catalogue, ServerType
from config.schema import StackConfig
from cost.availability import Availability
from cost.money import ZERO, dec, figure
from cost.prices import Price
from spec.resources import PlatformSpec
from spec.service_homes import placement as service_placement

PLACEMENT_RULE = (
    "a service runs on every server with its role (a stateful one only on the first; `server` pins it) and the "
    "proxy runs where an exposed service does, as in the compose files; limits.cpus and limits.memory are summed "
    "per server and compared with the type minus the system reserve"
)
MIB_PER_GB = Decimal(1024)


@dataclass(frozen=True)
class ServiceLoad:
    name: str
    role: str
    cpus: Decimal
    memory_mb: Decimal


@dataclass(frozen=True)
class Suggestion:
    server_type: str
    vcpu: int
    ram_gb: int
    monthly_eur: Decimal
    delta_eur: Decimal  # server only
    delta_with_backups_eur: Decimal | None  # server + its backups, when backups are on
    source: str
    orderable_source: str = ""  # where "orderable in this location" comes from


@dataclass(frozen=True)
class ServerCapacity:
    server: str
    server_type: str
    roles: tuple[str, ...]
    vcpu_total: Decimal
    ram_gb_total: Decimal
    reserve_vcpu: Decimal
    reserve_ram_gb: Decimal
    services: tuple[ServiceLoad, ...]
    suggestion: Suggestion | None = None

    @property
    def vcpu_allocated(self) -> Decimal:
        return sum((s.cpus for s in self.services), ZERO)

    @property
    def ram_gb_allocated(self) -> Decimal:
        return sum((s.memory_mb for s in self.services), ZERO) / MIB_PER_GB

    @property
    def vcpu_available(self) -> Decimal:
        return self.vcpu_total - self.reserve_vcpu

    @property
    def ram_gb_available(self) -> Decimal:
        return self.ram_gb_total - self.reserve_ram_gb

    @property
    def vcpu_ok(self) -> bool:
        return self.vcpu_allocated <= self.vcpu_available

    @property
    def ram_ok(self) -> bool:
        return self.ram_gb_allocated <= self.ram_gb_available

    @property
    def ok(self) -> bool:
        return self.vcpu_ok and self.ram_ok

    def problems(self) -> list[str]:
        found = []
        if not self.vcpu_ok:
            found.append(
                f"vCPU: services need {figure(self.vcpu_allocated)} + {figure(self.reserve_vcpu)} reserve = "
                f"{figure(self.vcpu_allocated + self.reserve_vcpu)}, {self.server_type} has {figure(self.vcpu_total)}"
            )
        if not self.ram_ok:
            found.append(
                f"RAM: services need {figure(self.ram_gb_allocated)} GB + {figure(self.reserve_ram_gb)} GB reserve = "
                f"{figure(self.ram_gb_allocated + self.reserve_ram_gb)} GB, {self.server_type} has {figure(self.ram_gb_total)} GB"
            )
        return found


@dataclass(frozen=True)
class CapacityReport:
    servers: tuple[ServerCapacity, ...]
    unplaced: tuple[ServiceLoad, ...] = ()
    rule: str = ""  # how services were placed (placement_rule), for the report

    @property
    def ok(self) -> bool:
        return all(server.ok for server in self.servers) and not self.unplaced


def _load(name: str, service: Any) -> ServiceLoad:
    return ServiceLoad(name, service.role, dec(service.limits.cpus), dec(service.limits.memory_mb))


def placement(config: StackConfig, spec: PlatformSpec) -> tuple[dict[str, list[ServiceLoad]], list[ServiceLoad]]:
    """Services per server name, and the app services no server runs."""
    placed: dict[str, list[ServiceLoad]] = {server.name: [] for server in spec.servers}
    for server_name, services in service_placement(config).items():
        placed.setdefault(server_name, []).extend(_load(name, service) for name, service in services.items())
    running = {load.name for loads in placed.values() for load in loads}
    unplaced = [_load(name, s) for name, s in config.app.services.items() if name not in running]
    return placed, unplaced


SWARM_PLACEMENT_RULE = (
    "app.engine swarm: a service's replicas spread evenly over the servers with its role, so each of them runs "
    "ceil(replicas / servers) tasks (a stateful or pinned service: one task on its server), and the proxy runs on "
    "every web server; limits.cpus and limits.memory are summed per server and compared with the type minus the "
    "system reserve"
)


def placement_rule(engine: str = "compose") -> str:
    return SWARM_PLACEMENT_RULE if engine == "swarm" else PLACEMENT_RULE


def fits(server_type: ServerType, vcpu_needed: Decimal, ram_gb_needed: Decimal) -> bool:
    """`*_needed` include the reserve."""
    return Decimal(server_type.vcpu) >= vcpu_needed and Decimal(server_type.ram_gb) >= ram_gb_needed


def cheapest_fitting(
    catalogue: Catalogue,
    location: str,
    arch: str,
    vcpu_needed: Decimal,
    ram_gb_needed: Decimal,
    new_order_price: Callable[[str, str], Price],
    availability: Availability,
) -> tuple[ServerType, Price] | None:
    """The cheapest type orderable in `location` with `arch` that fits, priced as a new order."""
    candidates = []
    for server_type in catalogue.server_types.values():
        if not availability.orderable(server_type.name, location) or server_type.arch != arch:
            continue
        if not fits(server_type, vcpu_needed, ram_gb_needed):
            continue
        price = new_order_price(server_type.name, location)
        if price.amount is None:
            continue
        candidates.append((price.amount, server_type.vcpu, server_type.ram_gb, server_type.name, server_type, price))
    if not candidates:
        return None
    best = min(candidates, key=lambda c: c[:4])
    return best[4], best[5]


def check_capacity(
    config: StackConfig,
    spec: PlatformSpec,
    catalogue: Catalogue,
    new_order_price: Callable[[str, str], Price],
    current_server_monthly: Callable[[str], Decimal | None],
    backup_share: Decimal,
    availability: Availability,
) -> CapacityReport:
    """`new_order_price(type, location)`: price at the newest epoch; `current_server_monthly(server)`:
    the server's line in this plan (for the delta)."""
    reserve_vcpu = dec(config.capacity.reserve_vcpu)
    reserve_ram = dec(config.capacity.reserve_ram_gb)
    placed, unplaced = placement(config, spec)
    servers = []
    for server in spec.servers:
        server_type = catalogue.server_types[server.server_type]
        capacity = ServerCapacity(
            server=server.name,
            server_type=server.server_type,
            roles=server.roles,
            vcpu_total=Decimal(server_type.vcpu),
            ram_gb_total=Decimal(server_type.ram_gb),
            reserve_vcpu=reserve_vcpu,
            reserve_ram_gb=reserve_ram,
            services=tuple(placed[server.name]),
        )
        if not capacity.ok:
            found = cheapest_fitting(
                catalogue, server.location, server_type.arch,
                capacity.vcpu_allocated + reserve_vcpu, capacity.ram_gb_allocated + reserve_ram, new_order_price,
                availability,
            )
            if found is not None:
                new_type, price = found
                assert price.amount is not None
                current = current_server_monthly(server.name) or ZERO
                delta = price.amount - current
                capacity = replace(capacity, suggestion=Suggestion(
                    new_type.name, new_type.vcpu, new_type.ram_gb, price.amount, delta,
                    delta * (1 + backup_share) if server.backups else None, price.source,
                    availability.source(server.location),
                ))
        servers.append(capacity)
    return CapacityReport(tuple(servers), tuple(unplaced), placement_rule(config.app.engine))
