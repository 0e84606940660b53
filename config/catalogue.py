"""Typed access to the dated Hetzner catalogue in data/hetzner-catalogue.yaml.

The catalogue is the one place that knows which server types, load balancer types and locations
exist, what they offer and what they cost per price epoch. Config validation asks it whether a type
is orderable; the cost component asks it for prices.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

CATALOGUE_PATH = Path(__file__).parent / "data" / "hetzner-catalogue.yaml"

# Epoch ids in chronological order; see the catalogue header for what each means.
EPOCHS = ("p0", "p1", "p2")


def _decimal_map(raw: dict[str, Any] | None) -> dict[str, Decimal]:
    # str() first: YAML floats such as 0.0572 must not carry binary noise into Decimal.
    return {epoch: Decimal(str(value)) for epoch, value in (raw or {}).items()}


@dataclass(frozen=True)
class ServerType:
    name: str
    vcpu: int
    ram_gb: int
    disk_gb: int
    arch: str
    cpu: str
    family: str
    regions: tuple[str, ...]
    monthly: dict[str, Decimal]
    hourly: dict[str, Decimal]
    confidence: str
    # Epochs whose hourly figure was seen in an API answer; the others are derived from the monthly cap.
    hourly_seen: tuple[str, ...] = ()
    epoch_confidence: dict[str, str] = field(default_factory=dict)
    # Prices for regions other than "eu" where public material gives them.
    regional: dict[str, RegionalPrice] = field(default_factory=dict)

    def confidence_for(self, epoch: str, *, hourly: bool = False) -> str:
        return _confidence(self, epoch, hourly)


@dataclass(frozen=True)
class PricedItem:
    """A price per epoch with how sure we are of it."""

    monthly: dict[str, Decimal]
    hourly: dict[str, Decimal] = field(default_factory=dict)
    confidence: str = "verified"
    hourly_seen: tuple[str, ...] = ()
    epoch_confidence: dict[str, str] = field(default_factory=dict)

    def confidence_for(self, epoch: str, *, hourly: bool = False) -> str:
        return _confidence(self, epoch, hourly)


# A server type's price in a region other than "eu": the same shape as any other priced item.
RegionalPrice = PricedItem


@dataclass(frozen=True)
class RetiredType:
    name: str
    deprecated: str
    removed: str
    replacement: str


@dataclass(frozen=True)
class LoadBalancerType:
    name: str
    services: int
    targets: int
    regions: tuple[str, ...]
    monthly: dict[str, Decimal]
    hourly: dict[str, Decimal]
    confidence: str
    hourly_seen: tuple[str, ...] = ()
    epoch_confidence: dict[str, str] = field(default_factory=dict)

    def confidence_for(self, epoch: str, *, hourly: bool = False) -> str:
        return _confidence(self, epoch, hourly)


@dataclass(frozen=True)
class Location:
    name: str
    city: str
    country: str
    region: str
    network_zone: str


@dataclass(frozen=True)
class Source:
    key: str
    what: str
    date: str
    covers: str


@dataclass(frozen=True)
class Traffic:
    included_tb: Decimal
    overage_per_tb: dict[str, Decimal]
    confidence: str
    # Families whose allowance depends on the type (e.g. CCX 20-60 TB): included_tb is their floor.
    estimate_for_families: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalogue:
    taken_on: str
    currency: str
    epoch_starts: dict[str, dt.date]
    hours_to_cap: int
    locations: dict[str, Location]
    traffic: dict[str, Traffic]
    server_types: dict[str, ServerType]
    retired: dict[str, RetiredType]
    regional_replacements: dict[str, dict[str, str]]
    load_balancer_types: dict[str, LoadBalancerType]
    volume_per_gb: PricedItem
    snapshot_per_gb: PricedItem
    backup_percentage: Decimal
    primary_ips: dict[str, PricedItem]
    floating_ips: dict[str, PricedItem]
    volume_min_gb: int
    volume_max_gb: int
    # "all" or "new_server_orders" per epoch: the 2026-06-15 prices apply only to servers ordered
    # (or rescaled) from that day on.
    epoch_applies: dict[str, str] = field(default_factory=dict)
    family_notes: dict[str, str] = field(default_factory=dict)
    # "not_available" for a product line Hetzner showed as not orderable (see families in the data file).
    family_availability: dict[str, str] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)

    # --- questions config validation asks -------------------------------------------------
    def region_of(self, location: str) -> str:
        return self.locations[location].region

    def server_type_problem(self, name: str, location: str) -> str | None:
        """Why `name` cannot be ordered in `location`, with a suggestion; None when it can."""
        if name in self.retired:
            retired = self.retired[name]
            replacement = self.server_types[retired.replacement]
            return (
                f"'{name}' was retired (deprecated {retired.deprecated}, removed {retired.removed}); "
                f"use '{replacement.name}' ({_describe(replacement)})"
            )
        if name not in self.server_types:
            return f"unknown server type '{name}'; known types: {', '.join(sorted(self.server_types))}"
        if location not in self.locations:
            return None  # the location field reports its own error
        region = self.region_of(location)
        if region not in self.server_types[name].regions:
            suggestion = self.regional_replacements.get(region, {}).get(name)
            sold_in = ", ".join(
                loc for loc, info in sorted(self.locations.items())
                if info.region in self.server_types[name].regions
            )
            hint = f"; use '{suggestion}' ({_describe(self.server_types[suggestion])})" if suggestion else ""
            return f"'{name}' is not sold in {location} (only in {sold_in}){hint}"
        return None

    def load_balancer_problem(self, name: str, location: str) -> str | None:
        if name not in self.load_balancer_types:
            return f"unknown load balancer type '{name}'; known types: {', '.join(sorted(self.load_balancer_types))}"
        if location in self.locations and self.region_of(location) not in self.load_balancer_types[name].regions:
            return f"'{name}' is not sold in {location}"
        return None

    def epoch_on(self, day: dt.date) -> str:
        """The epoch whose prices apply to resources billed on `day` (ignoring order dates)."""
        current = EPOCHS[0]
        for epoch in EPOCHS:
            if day >= self.epoch_starts[epoch]:
                current = epoch
        return current

    @property
    def latest_epoch(self) -> str:
        """The newest epoch: the one whose prices the live /v1/pricing answer reports."""
        return EPOCHS[-1]

    def server_epoch(self, as_of: dt.date, ordered_on: dt.date | None) -> str:
        """The epoch a server's price comes from on `as_of`: a server keeps the price of its order date.

        Epochs that apply to every resource start on their date; an epoch that applies to new server
        orders only (p2, 2026-06-15) also needs the order (or last rescale) on or after its start.
        `ordered_on` None means the server is ordered on `as_of`.
        """
        order = ordered_on or as_of
        current = EPOCHS[0]
        for epoch in EPOCHS:
            start = self.epoch_starts[epoch]
            if as_of < start:
                continue
            if self.epoch_applies.get(epoch, "all") == "new_server_orders" and order < start:
                continue
            current = epoch
        return current

    def current_server_types(self, location: str) -> list[ServerType]:
        """Types orderable in `location` that have a catalogue price, cheapest first."""
        region = self.region_of(location)
        sellable = [t for t in self.server_types.values() if region in t.regions and t.monthly]
        return sorted(sellable, key=lambda t: (t.monthly[max(t.monthly)], t.vcpu, t.ram_gb))


_CONFIDENCE_ORDER = ("verified", "derived", "estimate")


def weakest(*levels: str) -> str:
    """The least certain of several confidence levels (verified > derived > estimate)."""
    known = [level for level in levels if level in _CONFIDENCE_ORDER]
    return max(known, key=_CONFIDENCE_ORDER.index) if known else "estimate"


def _confidence(item: ServerType | LoadBalancerType | PricedItem | RegionalPrice, epoch: str, hourly: bool) -> str:
    level = item.epoch_confidence.get(epoch, item.confidence)
    if hourly and epoch not in item.hourly_seen:
        level = weakest(level, "derived")
    return level


def _describe(server_type: ServerType) -> str:
    return f"{server_type.vcpu} vCPU {server_type.cpu}, {server_type.ram_gb} GB RAM, {server_type.disk_gb} GB disk"


def _priced(raw: dict[str, Any]) -> PricedItem:
    return PricedItem(
        monthly=_decimal_map(raw.get("monthly")),
        hourly=_decimal_map(raw.get("hourly")),
        confidence=raw.get("confidence", "verified"),
        hourly_seen=tuple(raw.get("hourly_seen", ())),
        epoch_confidence=dict(raw.get("epoch_confidence", {})),
    )


def _per_gb(raw: dict[str, Any]) -> PricedItem:
    return PricedItem(
        monthly=_decimal_map({k: v for k, v in raw.items() if k in EPOCHS}),
        confidence=raw.get("confidence", "verified"),
    )


def _server_types(raw: dict[str, Any]) -> dict[str, ServerType]:
    return {
        name: ServerType(
            name=name,
            vcpu=info["vcpu"],
            ram_gb=info["ram_gb"],
            disk_gb=info["disk_gb"],
            arch=info["arch"],
            cpu=info["cpu"],
            family=info["family"],
            regions=tuple(info["regions"]),
            monthly=_decimal_map(info.get("monthly")),
            hourly=_decimal_map(info.get("hourly")),
            confidence=info["confidence"],
            hourly_seen=tuple(info.get("hourly_seen", ())),
            epoch_confidence=dict(info.get("epoch_confidence", {})),
            regional={region: _priced(price) for region, price in info.get("regional", {}).items()},
        )
        for name, info in raw["server_types"].items()
    }


def _load_balancer_types(raw: dict[str, Any]) -> dict[str, LoadBalancerType]:
    return {
        name: LoadBalancerType(
            name=name,
            services=info["services"],
            targets=info["targets"],
            regions=tuple(info["regions"]),
            monthly=_decimal_map(info.get("monthly")),
            hourly=_decimal_map(info.get("hourly")),
            confidence=info["confidence"],
            hourly_seen=tuple(info.get("hourly_seen", ())),
            epoch_confidence=dict(info.get("epoch_confidence", {})),
        )
        for name, info in raw["load_balancer_types"].items()
    }


def parse_catalogue(raw: dict[str, Any]) -> Catalogue:
    """The catalogue YAML (config/data/) as typed records, prices as Decimals."""
    regions = raw["regions"]
    locations = {
        name: Location(name, info["city"], info["country"], info["region"], regions[info["region"]]["network_zone"])
        for name, info in raw["locations"].items()
    }
    return Catalogue(
        taken_on=str(raw["taken_on"]),
        currency=raw["currency"],
        epoch_starts={k: dt.date.fromisoformat(str(v["from"])) for k, v in raw["epochs"].items()},
        hours_to_cap=int(raw["hours_to_cap"]),
        locations=locations,
        traffic={
            region: Traffic(
                Decimal(str(info["included_tb"])), _decimal_map(info["overage_per_tb"]), info["confidence"],
                tuple(info.get("estimate_for_families", ())),
            )
            for region, info in raw["traffic"].items()
        },
        server_types=_server_types(raw),
        retired={name: RetiredType(name, str(i["deprecated"]), str(i["removed"]), i["replacement"])
                 for name, i in raw["retired_server_types"].items()},
        regional_replacements=raw.get("regional_replacements", {}),
        load_balancer_types=_load_balancer_types(raw),
        volume_per_gb=_per_gb(raw["volume_per_gb_month"]),
        snapshot_per_gb=_per_gb(raw["snapshot_per_gb_month"]),
        backup_percentage=Decimal(str(raw["backup_percentage"]["value"])),
        primary_ips={kind: _priced(info) for kind, info in raw["primary_ips"].items()},
        floating_ips={kind: _priced(info) for kind, info in raw["floating_ips"].items()},
        volume_min_gb=int(raw["volume_limits_gb"]["min"]),
        volume_max_gb=int(raw["volume_limits_gb"]["max"]),
        epoch_applies={k: str(v.get("applies_to", "all")) for k, v in raw["epochs"].items()},
        family_notes={name: " ".join(str(info.get("note", "")).split()) for name, info in raw.get("families", {}).items()},
        family_availability={name: str(info["availability"]) for name, info in raw.get("families", {}).items()
                             if "availability" in info},
        sources={
            key: Source(key, " ".join(str(i["what"]).split()), str(i["date"]), " ".join(str(i["covers"]).split()))
            for key, i in raw.get("sources", {}).items()
        },
    )


@lru_cache(maxsize=1)
def load_catalogue(path: Path = CATALOGUE_PATH) -> Catalogue:
    with path.open(encoding="utf-8") as handle:
        return parse_catalogue(yaml.safe_load(handle))
