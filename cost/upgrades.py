"""Upgrade path: the next bigger type of the same family, and a phase-2 split into web/db/worker.

Both are priced as NEW orders (a rescale counts as a new order since 2026-06-15), from the live answer
when one was read, else from the catalogue's newest epoch, and use only types orderable in the server's
location (cost/availability.py). Everything else in the plan (volumes, load
balancer, floating IP, snapshots, traffic, external lines) is carried over unchanged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from config.schema import StackConfig
from config.servers import ALL_ROLES
from cost.availability import Availability
from cost.capacity import CapacityReport, ServerCapacity, cheapest_fitting, fits, placement
from cost.engine import CostLine, total_of
from cost.money import ZERO, cents
from cost.prices import PriceBook
from spec.resources import PlatformSpec, ServerSpec


@dataclass(frozen=True)
class UpgradeServer:
    name: str
    server_type: str
    vcpu: int
    ram_gb: int
    roles: tuple[str, ...]
    server_eur: Decimal
    backups_eur: Decimal
    primary_ips_eur: Decimal
    source: str

    @property
    def monthly_eur(self) -> Decimal:
        return self.server_eur + self.backups_eur + self.primary_ips_eur


@dataclass(frozen=True)
class UpgradeOption:
    kind: str  # "rescale" | "split"
    title: str
    servers: tuple[UpgradeServer, ...]
    total_net_eur: Decimal
    delta_eur: Decimal
    notes: tuple[str, ...] = ()


def _server_cost_lines(server: ServerSpec, spec: PlatformSpec, lines: list[CostLine]) -> list[CostLine]:
    ip_names = {ip.resource_name for ip in spec.primary_ips if ip.server == server.name}
    return [
        line for line in lines
        if (line.kind in ("server", "backup") and line.resource == server.resource_name)
        or (line.kind == "primary_ip" and line.resource in ip_names)
    ]


def _new_server(
    name: str, server_type: str, roles: tuple[str, ...], backups: bool, location: str, book: PriceBook, as_of: dt.date,
    ip_types: tuple[str, ...],
) -> UpgradeServer | None:
    catalogue = book.catalogue
    latest = catalogue.latest_epoch
    price = book.server_monthly(server_type, location, latest)
    if price.amount is None:
        return None
    share = ZERO
    if backups:
        pct = book.backup_percentage(latest).amount
        share = (pct or ZERO) / 100
    billing_epoch = catalogue.epoch_on(as_of)
    ips = sum((cents(book.primary_ip_monthly(ip, location, billing_epoch).amount or ZERO) for ip in ip_types), ZERO)
    info = catalogue.server_types[server_type]
    return UpgradeServer(name, server_type, info.vcpu, info.ram_gb, roles, cents(price.amount), cents(price.amount * share), ips,
                         price.source)


def _busiest(capacity: CapacityReport) -> ServerCapacity | None:
    def load(server: ServerCapacity) -> Decimal:
        vcpu = (server.vcpu_allocated + server.reserve_vcpu) / server.vcpu_total
        ram = (server.ram_gb_allocated + server.reserve_ram_gb) / server.ram_gb_total
        return max(vcpu, ram)

    if not capacity.servers:
        return None
    return max(capacity.servers, key=load)  # max() keeps the first of equals: stack-file order


def rescale_option(
    spec: PlatformSpec, book: PriceBook, as_of: dt.date, lines: list[CostLine], capacity: CapacityReport,
    availability: Availability,
) -> UpgradeOption | None:
    """The next bigger orderable type of the same family (and CPU architecture) for the busiest server;
    when that family cannot be ordered in the location, the cheapest bigger orderable type of any family."""
    busiest = _busiest(capacity)
    if busiest is None:
        return None
    server = spec.server(busiest.server)
    catalogue = book.catalogue
    current = catalogue.server_types[server.server_type]
    latest = catalogue.latest_epoch

    def new_price(name: str) -> Decimal:
        amount = book.server_monthly(name, server.location, latest).amount
        return amount if amount is not None else Decimal("Infinity")

    bigger = sorted(
        (
            t for t in catalogue.server_types.values()
            if t.arch == current.arch and availability.orderable(t.name, server.location)
            and (t.ram_gb, t.vcpu) > (current.ram_gb, current.vcpu)
        ),
        # Same family first, smallest step; other families by new-order price.
        key=lambda t: (t.family != current.family, (t.ram_gb, t.vcpu) if t.family == current.family else (0, 0),
                       new_price(t.name), t.name),
    )
    for candidate in bigger:
        ip_types = tuple(ip.ip_type for ip in spec.primary_ips if ip.server == server.name)
        new = _new_server(server.name, candidate.name, server.roles, server.backups, server.location, book, as_of, ip_types)
        if new is None:
            continue
        old_total = total_of(lines)
        new_total = old_total - total_of(_server_cost_lines(server, spec, lines)) + new.monthly_eur
        notes = ["a rescale is a new order: it pays the newest price", availability.source(server.location)]
        if candidate.family != current.family:
            notes.append(f"no bigger {current.family} type is orderable in {server.location}")
        if not fits(candidate, busiest.vcpu_allocated + busiest.reserve_vcpu, busiest.ram_gb_allocated + busiest.reserve_ram_gb):
            notes.append("the services still do not fit this type")
        title = f"Rescale {server.name}: {server.server_type} -> {candidate.name} ({candidate.vcpu} vCPU, {candidate.ram_gb} GB RAM)"
        return UpgradeOption("rescale", title, (new,), new_total, new_total - old_total, tuple(notes))
    return None


def split_option(
    config: StackConfig, spec: PlatformSpec, book: PriceBook, as_of: dt.date, lines: list[CostLine],
    availability: Availability,
) -> UpgradeOption | None:
    """Phase 2 of seeds 002/003 (docs/sources.md): one server per role, each the cheapest type that fits its services."""
    if len(spec.servers) != 1 or not config.app.services:
        return None
    original = spec.servers[0]
    catalogue = book.catalogue
    arch = catalogue.server_types[original.server_type].arch
    reserve_vcpu, reserve_ram = Decimal(str(config.capacity.reserve_vcpu)), Decimal(str(config.capacity.reserve_ram_gb))
    placed, _ = placement(config, spec)
    loads = placed[original.name]
    new_servers = []
    for role in ALL_ROLES:
        role_loads = [load for load in loads if load.role == role]
        if not role_loads:
            continue
        vcpu = sum((load.cpus for load in role_loads), ZERO) + reserve_vcpu
        ram = sum((load.memory_mb for load in role_loads), ZERO) / 1024 + reserve_ram
        found = cheapest_fitting(
            catalogue, original.location, arch, vcpu, ram,
            lambda name, location: book.server_monthly(name, location, catalogue.latest_epoch),
            availability,
        )
        if found is None:
            return None
        server_type, _price = found
        new = _new_server(role, server_type.name, (role,), original.backups, original.location, book, as_of, ("ipv4", "ipv6"))
        if new is None:
            return None
        new_servers.append(new)
    if len(new_servers) < 2:
        return None
    old_total = total_of(lines)
    new_total = old_total - total_of(_server_cost_lines(original, spec, lines)) + sum((s.monthly_eur for s in new_servers), ZERO)
    names = " + ".join(f"{s.name} {s.server_type}" for s in new_servers)
    notes = (
        "each server is sized to its role's services plus the system reserve",
        availability.source(original.location),
        "needs `network` (a private network is free); volumes, load balancer and floating IP are carried over",
    )
    return UpgradeOption("split", f"Phase-2 split: {names}", tuple(new_servers), new_total, new_total - old_total, notes)
