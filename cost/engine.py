"""Price every resource of a PlatformSpec, line by line, and place the total against the budget.

Rules (docs/cost.md has the reasoning):
* a server is priced in the epoch of its order date (Catalogue.server_epoch; the date from
  spec/order_dates.py: orderedOn, else the last deployment's outputs, else a new order on the pricing
  date); everything else in the epoch of the pricing date (pricing.asOf, default today);
* servers with hours_per_month cost min(monthly, ceil(hours) x hourly); other resources a full month;
* backups are a percentage of the server line; IPv6 primary IPs are free but listed;
* snapshots and traffic overage only when pricing.expectedSnapshotGb / expectedTrafficTb are set;
  the stack's expected outgoing traffic is compared with the pooled allowance: the sum of what each
  server and the load balancer include for their type and location;
* each line is rounded half-up to the cent; the total is the exact sum of the rounded lines.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from config.budget import BudgetConfig
from config.catalogue import EPOCHS, Catalogue
from config.schema import StackConfig
from cost.money import ZERO, cents, dec, eur, number
from cost.prices import OVERRIDE_SOURCE, Price, PriceBook
from spec.order_dates import OrderDate, resolve_order_dates
from spec.resources import PlatformSpec, ServerSpec

EXTRA_SOURCE = "config pricing.extraLines"


@dataclass(frozen=True)
class CostLine:
    item: str
    kind: str  # server | backup | primary_ip | volume | load_balancer | floating_ip | snapshot | traffic | external
    quantity: Decimal
    unit: str  # month | hour | GB | TB | share of server price
    unit_eur: Decimal | None
    exact_eur: Decimal | None  # quantity x unit before rounding; None when no price is known
    source: str
    confidence: str
    epoch: str | None = None
    resource: str | None = None
    note: str | None = None
    # The pricing.overrides key that prices this line (server:cx33, volume_gb, ...); named when unpriced.
    price_key: str | None = None
    # Server lines: the order date that decided the epoch (None: unknown) and where it came from.
    ordered_on: dt.date | None = None
    order_origin: str | None = None

    @property
    def monthly_eur(self) -> Decimal | None:
        return None if self.exact_eur is None else cents(self.exact_eur)

    @property
    def estimate(self) -> bool:
        return self.confidence in ("estimate", "unknown")

    def gross_eur(self, vat_rate_percent: Decimal | None) -> Decimal | None:
        """The line's net plus VAT, rounded: indicative only. The gross total is NOT the sum of these
        (see vat_on_net_total): gross lines may add up to a cent or two more than the invoice."""
        if self.monthly_eur is None or vat_rate_percent is None:
            return None
        return cents(self.monthly_eur * (1 + vat_rate_percent / 100))


def total_of(lines: Iterable[CostLine]) -> Decimal:
    """Exact sum of the rounded lines; lines without a known price are left out (and warned about)."""
    return sum((line.monthly_eur for line in lines if line.monthly_eur is not None), ZERO)


def vat_on_net_total(lines: Iterable[CostLine], vat_rate_percent: Decimal) -> Decimal:
    """VAT the way an invoice computes it: on the net total of all lines at one rate, rounded once.

    A Hetzner invoice lists net positions and adds VAT on their sum per rate (billing-system page,
    docs.hetzner.com/de/general/billing-and-account-management/billing-at-hetzner/billing-system-hetzner).
    The plan has one rate (pricing.vatRatePercent or the API's vat_rate), so one group."""
    return cents(total_of(lines) * vat_rate_percent / 100)


def epoch_label(catalogue: Catalogue, epoch: str) -> str:
    """'p1 (from 2026-04-01)'; the first epoch is 'p0 (before 2026-04-01)'."""
    index = EPOCHS.index(epoch)
    if index == 0:
        return f"{epoch} (before {catalogue.epoch_starts[EPOCHS[1]].isoformat()})"
    return f"{epoch} (from {catalogue.epoch_starts[epoch].isoformat()})"


def _line(item: str, kind: str, quantity: Decimal, unit: str, price: Price, *,
          resource: str | None = None, note: str | None = None, price_key: str | None = None) -> CostLine:
    exact = None if price.amount is None else quantity * price.amount
    return CostLine(item, kind, quantity, unit, price.amount, exact, price.source, price.confidence, price.epoch,
                    resource=resource, note=note, price_key=price_key)


@dataclass
class PricedStack:
    lines: list[CostLine]
    notes: list[str] = field(default_factory=list)

    def add_notes(self, *notes: str) -> None:
        for note in notes:
            if note and note not in self.notes:
                self.notes.append(note)


def server_lines(
    server: ServerSpec, book: PriceBook, as_of: dt.date, stack: PricedStack, spec: PlatformSpec, order: OrderDate
) -> list[CostLine]:
    catalogue = book.catalogue
    # An unknown order date prices the server as a new order (the newest price, never below the invoice).
    epoch = catalogue.server_epoch(as_of, order.date)
    latest = catalogue.latest_epoch
    monthly = book.server_monthly(server.server_type, server.location, epoch)
    stack.add_notes(*monthly.notes)
    note = f"ordered {order.describe(server.name)}: price epoch {epoch_label(catalogue, epoch)}"
    if epoch != latest and catalogue.epoch_applies.get(latest) == "new_server_orders" and as_of >= catalogue.epoch_starts[latest]:
        new_price = book.server_monthly(server.server_type, server.location, latest)
        stack.add_notes(
            f"Server {server.name} ({server.server_type}) was ordered before {catalogue.epoch_starts[latest].isoformat()} and keeps "
            f"its {epoch} price {eur(monthly.amount)}; a new order or a rescale pays the {latest} price {eur(new_price.amount)}."
        )
    family_note = catalogue.family_notes.get(catalogue.server_types[server.server_type].family, "")
    if epoch == latest and "not available" in family_note:
        stack.add_notes(f"{server.server_type}: {family_note}.")

    price_key = f"server:{server.server_type}"
    line = replace(_line(f"Server {server.name} ({server.server_type})", "server", Decimal(1), "month", monthly,
                         resource=server.resource_name, note=note, price_key=price_key),
                   ordered_on=order.date, order_origin=order.origin)
    if server.hours_per_month is not None and monthly.amount is not None:
        hourly = book.server_hourly(server.server_type, server.location, epoch)
        stack.add_notes(*hourly.notes)
        hours = Decimal(math.ceil(server.hours_per_month))
        if hourly.amount is not None and hours * hourly.amount < monthly.amount:
            hourly_note = f"{note}; {number(hours)} h x {number(hourly.amount)} is under the monthly cap {eur(monthly.amount)}"
            line = replace(_line(f"Server {server.name} ({server.server_type})", "server", hours, "hour", hourly,
                                 resource=server.resource_name, price_key=price_key, note=hourly_note),
                           ordered_on=order.date, order_origin=order.origin)
        else:
            line = replace(line, note=f"{note}; {server.hours_per_month} h reach the monthly cap")
    lines = [line]
    if server.backups:
        lines.append(_backup_line(server, line, book, epoch))
    billing_epoch = catalogue.epoch_on(as_of)
    for ip in spec.primary_ips:
        if ip.server != server.name:
            continue
        price = book.primary_ip_monthly(ip.ip_type, ip.location, billing_epoch)
        stack.add_notes(*price.notes)
        label = "IPv4" if ip.ip_type == "ipv4" else "IPv6"
        lines.append(_line(f"Primary {label} {server.name}", "primary_ip", Decimal(1), "month", price,
                           resource=ip.resource_name, note="free" if price.amount == ZERO else None,
                           price_key=f"primary_ip:{ip.ip_type}"))
    return lines


def _backup_line(server: ServerSpec, server_line: CostLine, book: PriceBook, epoch: str) -> CostLine:
    """Backups cost a share of the server's price (in the server's price epoch)."""
    pct = book.backup_percentage(epoch)
    share = None if pct.amount is None else pct.amount / 100
    exact = None if share is None or server_line.exact_eur is None else server_line.exact_eur * share
    source, confidence = server_line.source, server_line.confidence
    if pct.source == OVERRIDE_SOURCE:
        source, confidence = OVERRIDE_SOURCE, "override"
    return CostLine(
        f"Backups {server.name} ({number(pct.amount or ZERO)} % of server)", "backup", share or ZERO,
        "share of server price", server_line.exact_eur, exact, source, confidence, epoch, server.resource_name,
        price_key=server_line.price_key if pct.amount is not None else "backup_percent",
    )


def traffic_line(expected_tb: Decimal, spec: PlatformSpec, book: PriceBook, epoch: str) -> CostLine:
    """Outgoing traffic beyond the pooled allowance: every server and the load balancer bring their own
    included traffic (per type and location; docs.hetzner.com/de/robot/general/traffic), the stack's
    allowance is their sum, and only the expected traffic above it is billed per TB (only outgoing traffic
    counts; docs.hetzner.com/de/cloud/billing/faq)."""
    pool: list[tuple[str, Price]] = [
        (f"{server.name} {server.server_type}", book.included_traffic("server", server.server_type, server.location, epoch))
        for server in spec.servers
    ]
    if spec.load_balancer is not None:
        lb = spec.load_balancer
        pool.append((f"load balancer {lb.lb_type}", book.included_traffic("lb", lb.lb_type, lb.location, epoch)))
    allowance = sum((price.amount or ZERO for _, price in pool), ZERO)
    first_type = spec.servers[0].server_type if spec.servers else None
    price = book.traffic_overage(first_type, spec.location, epoch)
    overage = max(ZERO, expected_tb - allowance)
    # The line is only as sure as its least certain part: an allowance that is an estimate makes the
    # overage one too (an override prices the TB but does not confirm the allowance).
    levels = [price.confidence] + [p.confidence for _, p in pool]
    confidence = next((level for level in ("unknown", "estimate") if level in levels), price.confidence)
    source = price.source if confidence == price.confidence else book.catalogue_source(confidence)
    parts = " + ".join(f"{label} {number(p.amount or ZERO)} TB" for label, p in pool)
    return CostLine(
        f"Traffic overage ({number(expected_tb)} TB expected, {number(allowance)} TB included)", "traffic", overage, "TB",
        price.amount, None if price.amount is None else overage * price.amount, source, confidence, epoch,
        note=f"outgoing traffic beyond the pooled allowance of the stack in {spec.location}: {parts}",
        price_key="traffic_tb",
    )


def price_stack(
    config: StackConfig, spec: PlatformSpec, book: PriceBook, as_of: dt.date, order_dates: Mapping[str, OrderDate] | None = None
) -> PricedStack:
    """`order_dates`: spec/order_dates.resolve_order_dates (default: from the config alone)."""
    catalogue = book.catalogue
    stack = PricedStack(lines=[])
    epoch = catalogue.epoch_on(as_of)
    dates = order_dates if order_dates is not None else resolve_order_dates(config, None, as_of)
    for server in spec.servers:
        stack.lines += server_lines(server, book, as_of, stack, spec, dates[server.name])
        if server.snapshot_before_resize and config.pricing.expected_snapshot_gb == 0:
            disk = catalogue.server_types[server.server_type].disk_gb
            per_gb = book.snapshot_per_gb(epoch).amount
            bound = "" if per_gb is None else f" (at most EUR {eur(per_gb * disk)}/month)"
            stack.add_notes(
                f"Server {server.name}: snapshotBeforeResize keeps a snapshot of up to {disk} GB{bound} until you delete it; "
                "set pricing.expectedSnapshotGb to count it."
            )

    for volume in spec.volumes:
        price = book.volume_per_gb(epoch)
        stack.add_notes(*price.notes)
        stack.lines.append(_line(f"Volume {volume.name} ({volume.size_gb} GB)", "volume", Decimal(volume.size_gb), "GB", price,
                                 resource=volume.resource_name, note=f"attached to {volume.server}", price_key="volume_gb"))
    if spec.load_balancer is not None:
        lb = spec.load_balancer
        price = book.load_balancer_monthly(lb.lb_type, lb.location, epoch)
        stack.add_notes(*price.notes)
        stack.lines.append(_line(f"Load balancer {lb.lb_type}", "load_balancer", Decimal(1), "month", price, resource=lb.resource_name,
                                 price_key=f"lb:{lb.lb_type}"))
    if spec.floating_ip is not None:
        fip = spec.floating_ip
        price = book.floating_ip_monthly(fip.ip_type, fip.location, epoch)
        stack.add_notes(*price.notes)
        label = "IPv4" if fip.ip_type == "ipv4" else "IPv6"
        note = f"assigned to {fip.server}"
        if price.estimate:
            note += "; price not found in public material, check it with a HCLOUD_TOKEN or pricing.overrides"
        stack.lines.append(_line(f"Floating {label}", "floating_ip", Decimal(1), "month", price, resource=fip.resource_name, note=note,
                                 price_key=f"floating_ip:{fip.ip_type}"))

    pricing = config.pricing
    if pricing.expected_snapshot_gb > 0:
        gigabytes = dec(pricing.expected_snapshot_gb)
        price = book.snapshot_per_gb(epoch)
        stack.add_notes(*price.notes)
        stack.lines.append(_line(f"Snapshots ({number(gigabytes)} GB expected)", "snapshot", gigabytes, "GB", price,
                                 note="pricing.expectedSnapshotGb; billed on the stored (compressed) size", price_key="snapshot_gb"))
    if pricing.expected_traffic_tb > 0:
        stack.lines.append(traffic_line(dec(pricing.expected_traffic_tb), spec, book, epoch))

    for extra in pricing.extra_lines:
        amount = dec(extra.monthly_eur)
        stack.lines.append(CostLine(extra.item, "external", Decimal(1), "month", amount, amount, EXTRA_SOURCE, "config",
                                    None, None, extra.note))
    return stack


# --- budget ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class BudgetStatus:
    budget: Decimal
    warn: Decimal
    critical: Decimal
    enforce: bool
    total: Decimal
    status: str

    @property
    def headroom(self) -> Decimal:
        return self.budget - self.total


def budget_status(budget: BudgetConfig, total: Decimal, *, complete: bool = True) -> BudgetStatus:
    """incomplete: a line has no price, so the total is only a lower bound and cannot be compared;
    over: total > budget; critical: total >= critical; warn: total >= warn; else ok (net amounts)."""
    monthly, warn, critical = cents(dec(budget.monthly_eur)), cents(dec(budget.warn)), cents(dec(budget.critical))
    if not complete:
        status = "incomplete"
    elif total > monthly:
        status = "over"
    elif total >= critical:
        status = "critical"
    elif total >= warn:
        status = "warn"
    else:
        status = "ok"
    return BudgetStatus(monthly, warn, critical, budget.enforce, total, status)
