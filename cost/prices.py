"""Where each unit price comes from: override > live /v1/pricing (newest epoch only) > catalogue.

A `Price` carries its amount, the `source` string printed in the plan and a confidence level:
  catalogue figures: verified | derived | estimate (from the dated data file)
  live figures:      live      (read from GET /v1/pricing at plan time)
  overrides:         override  (pricing.overrides in the stack config)
  nothing known:     unknown   (amount None; the plan says so instead of guessing)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from config.catalogue import EPOCHS, Catalogue, LoadBalancerType, PricedItem, RegionalPrice, ServerType, weakest
from cost.live import LivePrice, LivePricing
from cost.money import ZERO, dec, number, round_to

LIVE_SOURCE = "live /v1/pricing"
OVERRIDE_SOURCE = "override"
HOME_REGION = "eu"  # the region whose prices the catalogue's plain `monthly` maps hold

# pricing.overrides keys: exact keys and "<prefix>:<name>" forms.
OVERRIDE_EXACT = ("volume_gb", "snapshot_gb", "backup_percent", "traffic_tb")


@dataclass(frozen=True)
class Price:
    amount: Decimal | None
    source: str
    confidence: str
    epoch: str | None
    notes: tuple[str, ...] = ()

    @property
    def estimate(self) -> bool:
        return self.confidence in ("estimate", "unknown")


def override_key_problems(overrides: Mapping[str, object], catalogue: Catalogue) -> list[str]:
    """Unknown pricing.overrides keys, each with the accepted forms."""
    problems = []
    for key in overrides:
        prefix, _, name = key.partition(":")
        if key in OVERRIDE_EXACT:
            continue
        if prefix == "server" and name in catalogue.server_types:
            continue
        if prefix == "lb" and name in catalogue.load_balancer_types:
            continue
        if prefix in ("floating_ip", "primary_ip") and name in ("ipv4", "ipv6"):
            continue
        problems.append(
            f"pricing.overrides: '{key}' is not a price key (use server:<type>, lb:<type>, floating_ip:ipv4|ipv6, "
            f"primary_ip:ipv4|ipv6, {', '.join(OVERRIDE_EXACT)}); it is ignored"
        )
    return problems


class PriceBook:
    """Unit prices for one plan. `live` is used only for figures of the newest epoch."""

    def __init__(self, catalogue: Catalogue, live: LivePricing | None = None, overrides: Mapping[str, float] | None = None):
        self.catalogue = catalogue
        self.live = live
        self.overrides = {key: dec(value) for key, value in (overrides or {}).items()}

    # --- helpers -------------------------------------------------------------------------------
    def catalogue_source(self, confidence: str) -> str:
        return f"catalogue {self.catalogue.taken_on} ({confidence})"

    def _override(self, key: str, epoch: str | None) -> Price | None:
        if key not in self.overrides:
            return None
        note = f"pricing.overrides['{key}'] = {number(self.overrides[key])}"
        return Price(self.overrides[key], OVERRIDE_SOURCE, "override", epoch, (note,))

    def live_applies(self, epoch: str) -> bool:
        return self.live is not None and epoch == self.catalogue.latest_epoch

    def _live(self, amount: Decimal, epoch: str, catalogue_price: Price, what: str) -> Price:
        notes: tuple[str, ...] = ()
        if catalogue_price.amount is not None and catalogue_price.amount != amount:
            notes = (
                f"{what}: live price {number(amount)} differs from the catalogue's {epoch} figure "
                f"{number(catalogue_price.amount)} ({catalogue_price.confidence})",
            )
        return Price(amount, LIVE_SOURCE, "live", epoch, notes)

    def _not_live(self, catalogue_price: Price, epoch: str, what: str) -> Price:
        """The catalogue figure, noting when a live answer was there but did not list the item."""
        if not self.live_applies(epoch):
            return catalogue_price
        note = f"{what}: not in the live /v1/pricing answer; catalogue figure used"
        return Price(catalogue_price.amount, catalogue_price.source, catalogue_price.confidence, epoch, (*catalogue_price.notes, note))

    def _from_catalogue(
        self,
        item: ServerType | LoadBalancerType | PricedItem,
        epoch: str,
        what: str,
        *,
        location: str | None = None,
        hourly: bool = False,
    ) -> Price:
        """A catalogue figure for `epoch`, falling back (flagged as an estimate) to another epoch or
        to the EU price when the location's region has no figure of its own.

        Outside the EU a regional figure counts only for its own epoch: the 2026 changes applied at every
        location, so an older regional figure (cpx11's 2025 US price) would understate today's price. The
        EU figure of the same epoch stands in as an estimate; without one the price is unknown."""
        holder: ServerType | LoadBalancerType | PricedItem | RegionalPrice = item
        notes: list[str] = []
        forced_estimate = False
        if location is not None:
            region = self.catalogue.region_of(location)
            if region != HOME_REGION:
                regional = item.regional.get(region) if isinstance(item, ServerType) else None
                regional_figures = None if regional is None else (regional.hourly if hourly else regional.monthly)
                if regional is not None and (epoch in regional.monthly or (regional_figures and epoch in regional_figures)):
                    holder = regional
                else:
                    forced_estimate = True
                    notes.append(f"{what}: no catalogue {epoch} price for {location} ({region}); the EU {epoch} price is used "
                                 "as an estimate (the 2026 changes applied at every location, regional prices differ)")
                    eu_figures = item.hourly if hourly else item.monthly
                    if epoch not in eu_figures and not (hourly and epoch in item.monthly):
                        return Price(None, "no price known", "unknown", epoch,
                                     (f"{what}: no {epoch} price known for {location} ({region}) or the EU",))
        figures = holder.hourly if hourly else holder.monthly
        used = epoch
        if epoch not in figures and hourly and epoch in holder.monthly:
            derived = round_to(holder.monthly[epoch] / self.catalogue.hours_to_cap, 4)
            level = weakest(holder.confidence_for(epoch), "derived")
            return self._catalogue_price(derived, level, epoch, notes, forced_estimate)
        if epoch not in figures:
            fallback = _nearest_epoch(epoch, figures)
            if fallback is None:
                return Price(None, "no price known", "unknown", epoch, (*notes, f"{what}: no price known for {epoch}",))
            used = fallback
            forced_estimate = True
            notes.append(f"{what}: no {epoch} price in the catalogue; the {fallback} figure is used")
        level = holder.confidence_for(used, hourly=hourly)
        return self._catalogue_price(figures[used], level, epoch, notes, forced_estimate)

    def _catalogue_price(self, amount: Decimal, level: str, epoch: str, notes: list[str], forced_estimate: bool) -> Price:
        if forced_estimate:
            level = "estimate"
        return Price(amount, self.catalogue_source(level), level, epoch, tuple(notes))

    # --- servers -------------------------------------------------------------------------------
    def server_monthly(self, server_type: str, location: str, epoch: str) -> Price:
        override = self._override(f"server:{server_type}", epoch)
        if override:
            return override
        item = self.catalogue.server_types[server_type]
        catalogue_price = self._from_catalogue(item, epoch, server_type, location=location)
        live = self._live_entry(self.live.server_types if self.live else None, server_type, location, epoch)
        if live is not None:
            return self._live(live.monthly, epoch, catalogue_price, f"{server_type} in {location}")
        return self._not_live(catalogue_price, epoch, f"{server_type} in {location}")

    def server_hourly(self, server_type: str, location: str, epoch: str) -> Price:
        key = f"server:{server_type}"
        if key in self.overrides:
            derived = round_to(self.overrides[key] / self.catalogue.hours_to_cap, 4)
            return Price(derived, OVERRIDE_SOURCE, "override", epoch, (f"hourly figure = override / {self.catalogue.hours_to_cap} h",))
        item = self.catalogue.server_types[server_type]
        catalogue_price = self._from_catalogue(item, epoch, server_type, location=location, hourly=True)
        live = self._live_entry(self.live.server_types if self.live else None, server_type, location, epoch)
        if live is not None and live.hourly is not None:
            return self._live(live.hourly, epoch, catalogue_price, f"{server_type} hourly in {location}")
        return catalogue_price

    def backup_percentage(self, epoch: str) -> Price:
        override = self._override("backup_percent", epoch)
        if override:
            return override
        if self.live is not None and self.live_applies(epoch):
            return Price(self.live.backup_percentage, LIVE_SOURCE, "live", epoch)
        return Price(self.catalogue.backup_percentage, self.catalogue_source("verified"), "verified", epoch)

    def included_traffic(self, kind: str, name: str, location: str, epoch: str) -> Price:
        """TB of outgoing traffic one server (`kind` "server") or load balancer ("lb") of type `name`
        brings in `location`: the live per-location `included_traffic`, else the catalogue's regional
        figure (an estimate where Hetzner's allowance depends on the type and only its floor is known)."""
        table = None
        if self.live is not None:
            table = self.live.server_types if kind == "server" else self.live.load_balancer_types
        live_entry = self._live_entry(table, name, location, epoch)
        if live_entry is not None and live_entry.included_tb is not None:
            return Price(live_entry.included_tb, LIVE_SOURCE, "live", epoch)
        info = self.catalogue.traffic[self.catalogue.region_of(location)]
        level = info.confidence
        if kind == "server" and self.catalogue.server_types[name].family in info.estimate_for_families:
            level = "estimate"
        return Price(info.included_tb, self.catalogue_source(level), level, epoch)

    def traffic_overage(self, server_type: str | None, location: str, epoch: str) -> Price:
        """Price per TB of outgoing traffic beyond the allowance in `location`."""
        override = self._override("traffic_tb", epoch)
        if override:
            return override
        if server_type is not None:
            live_entry = self._live_entry(self.live.server_types if self.live else None, server_type, location, epoch)
            if live_entry is not None and live_entry.overage_per_tb is not None:
                return Price(live_entry.overage_per_tb, LIVE_SOURCE, "live", epoch)
        info = self.catalogue.traffic[self.catalogue.region_of(location)]
        amount = info.overage_per_tb.get(epoch)
        if amount is None:
            return Price(None, "no price known", "unknown", epoch)
        return Price(amount, self.catalogue_source(info.confidence), info.confidence, epoch)

    # --- other resources -----------------------------------------------------------------------
    def load_balancer_monthly(self, lb_type: str, location: str, epoch: str) -> Price:
        override = self._override(f"lb:{lb_type}", epoch)
        if override:
            return override
        catalogue_price = self._from_catalogue(self.catalogue.load_balancer_types[lb_type], epoch, lb_type, location=location)
        live = self._live_entry(self.live.load_balancer_types if self.live else None, lb_type, location, epoch)
        if live is not None:
            return self._live(live.monthly, epoch, catalogue_price, f"{lb_type} in {location}")
        return self._not_live(catalogue_price, epoch, f"{lb_type} in {location}")

    def volume_per_gb(self, epoch: str) -> Price:
        override = self._override("volume_gb", epoch)
        if override:
            return override
        catalogue_price = self._from_catalogue(self.catalogue.volume_per_gb, epoch, "volume per GB")
        if self.live is not None and self.live_applies(epoch):
            return self._live(self.live.volume_per_gb, epoch, catalogue_price, "volume per GB")
        return catalogue_price

    def snapshot_per_gb(self, epoch: str) -> Price:
        override = self._override("snapshot_gb", epoch)
        if override:
            return override
        catalogue_price = self._from_catalogue(self.catalogue.snapshot_per_gb, epoch, "snapshot per GB")
        if self.live is not None and self.live_applies(epoch):
            return self._live(self.live.image_per_gb, epoch, catalogue_price, "snapshot per GB")
        return catalogue_price

    def primary_ip_monthly(self, ip_type: str, location: str, epoch: str) -> Price:
        override = self._override(f"primary_ip:{ip_type}", epoch)
        if override:
            return override
        catalogue_price = self._from_catalogue(self.catalogue.primary_ips[ip_type], epoch, f"primary {ip_type}", location=location)
        live = self._live_entry(self.live.primary_ips if self.live else None, ip_type, location, epoch)
        if live is not None:
            return self._live(live.monthly, epoch, catalogue_price, f"primary {ip_type} in {location}")
        if ip_type == "ipv6" and catalogue_price.amount == ZERO:
            return catalogue_price  # free; the API may not list it at all
        return self._not_live(catalogue_price, epoch, f"primary {ip_type} in {location}")

    def floating_ip_monthly(self, ip_type: str, location: str, epoch: str) -> Price:
        override = self._override(f"floating_ip:{ip_type}", epoch)
        if override:
            return override
        catalogue_price = self._from_catalogue(self.catalogue.floating_ips[ip_type], epoch, f"floating {ip_type}", location=location)
        live = self.live.floating_ip(ip_type, location) if self.live is not None and self.live_applies(epoch) else None
        if live is not None:
            return self._live(live.monthly, epoch, catalogue_price, f"floating {ip_type} in {location}")
        return self._not_live(catalogue_price, epoch, f"floating {ip_type} in {location}")

    def _live_entry(self, table: dict[tuple[str, str], LivePrice] | None, name: str, location: str, epoch: str) -> LivePrice | None:
        if table is None or not self.live_applies(epoch):
            return None
        return table.get((name, location))


def _nearest_epoch(epoch: str, figures: Mapping[str, Decimal]) -> str | None:
    """The latest epoch before `epoch` that has a figure, else the earliest one after it."""
    index = EPOCHS.index(epoch)
    earlier = [e for e in EPOCHS[:index] if e in figures]
    if earlier:
        return earlier[-1]
    later = [e for e in EPOCHS[index + 1:] if e in figures]
    return later[0] if later else None
