"""The plan's `cost` and `capacity` sections for one stack.

    plan = plan_sections(config, spec)                     # offline: no network call
    plan = plan_sections(config, spec, live=True, token=token)  # --live-prices: /v1/pricing, /v1/datacenters
    plan.cost_json(); plan.capacity_json(); plan.exit_code(); print(render_plan(plan))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from config.catalogue import Catalogue, load_catalogue
from config.schema import StackConfig
from cost.availability import Availability
from cost.capacity import CapacityReport, check_capacity
from cost.engine import CostLine, budget_status, price_stack, total_of
from cost.live import DEFAULT_TIMEOUT_S, LivePricing, LivePricingError, fetch_live_pricing, resolve_endpoint
from cost.money import ZERO, cents, dec, eur
from cost.plan_cost import LiveStatus, PlanCost
from cost.prices import PriceBook, override_key_problems
from cost.upgrades import rescale_option, split_option
from spec.order_dates import resolve_order_dates
from spec.resources import PlatformSpec

__all__ = ["PlanCost", "plan_sections"]

STANDARD_NOTES = (
    "Prices are net (excl. VAT); hetzner.com plan pages show the server price plus the EUR 0.50 primary IPv4.",
    "Networks, subnets, firewalls, placement groups, SSH keys and Cloudflare DNS are not billed.",
)


def _read_live(live: bool, token: str | None, endpoint: str | None, timeout: float) -> tuple[LivePricing | None, LiveStatus]:
    """Only on request: without `live` nothing is read, whatever token the caller holds."""
    if not live:
        return None, LiveStatus(False, False, None, None, "live prices not requested")
    if not token:
        return None, LiveStatus(True, False, None, "no HCLOUD_TOKEN", "failed")
    url = resolve_endpoint(endpoint)
    try:
        pricing = fetch_live_pricing(token, url, timeout=timeout)
    except LivePricingError as exc:
        return None, LiveStatus(True, False, url, str(exc), "failed")
    except Exception as exc:  # no crash on anything the client library may raise
        return None, LiveStatus(True, False, url, f"unexpected {type(exc).__name__}", "failed")
    return pricing, LiveStatus(True, True, url, None, "read")


def plan_sections(
    config: StackConfig,
    spec: PlatformSpec,
    *,
    previous_outputs: Mapping[str, Any] | None = None,
    live: bool = False,
    token: str | None = None,
    endpoint: str | None = None,
    live_timeout: float = DEFAULT_TIMEOUT_S,
    catalogue: Catalogue | None = None,
) -> PlanCost:
    """Price `spec` (the resolved resources) and check capacity.

    `previous_outputs`: the last deployment's stack outputs (the program reads them through its
    self-StackReference; `plan --previous` feeds them to it): servers without `orderedOn` in the config
    keep the order date recorded there (spec/order_dates.py).

    `live`: read GET /v1/pricing and /v1/datacenters with `token` (the CLI's --live-prices / --live, or
    pricing.live under `pulumi up`); False (the default) makes no network call at all. The endpoint
    defaults to env HCLOUD_ENDPOINT, then https://api.hetzner.cloud/v1. A failed live read is a
    warning, never an error.
    """
    catalogue = catalogue or load_catalogue()
    as_of = config.pricing.as_of or dt.date.today()
    live_pricing, live_status = _read_live(live, token, endpoint, live_timeout)
    book = PriceBook(catalogue, live_pricing, config.pricing.overrides)
    order_dates = resolve_order_dates(config, previous_outputs, as_of)
    priced = price_stack(config, spec, book, as_of, order_dates)
    lines = priced.lines
    vat_rate, vat_source = _vat_rate(config, live_pricing)
    server_lines = {line.resource: line for line in lines if line.kind == "server"}
    availability = Availability(catalogue, live_pricing.available if live_pricing is not None else None)
    capacity = _capacity(config, spec, catalogue, book, server_lines, availability)
    upgrades = [
        option for option in (
            rescale_option(spec, book, as_of, lines, capacity, availability),
            split_option(config, spec, book, as_of, lines, availability),
        ) if option is not None
    ]
    budget = budget_status(config.budget, cents(total_of(lines)), complete=all(line.monthly_eur is not None for line in lines))
    plan = PlanCost(
        stack=spec.prefix,
        location=spec.location,
        as_of=as_of,
        catalogue_taken_on=catalogue.taken_on,
        lines=lines,
        budget=budget,
        vat_rate_percent=vat_rate,
        vat_source=vat_source,
        capacity=capacity,
        upgrades=upgrades,
        live=live_status,
        order_dates=order_dates,
        server_epochs={server.name: server_lines[server.resource_name].epoch
                       for server in spec.servers if server.resource_name in server_lines},
    )
    notes = _price_notes(catalogue, live_pricing, live_status, as_of, vat_rate)
    plan.price_notes = notes + [note for note in priced.notes if note not in notes]
    plan.warnings = _live_warnings(config, catalogue, live_pricing, live_status) + _plan_warnings(plan)
    return plan


def _vat_rate(config: StackConfig, live_pricing: LivePricing | None) -> tuple[Decimal | None, str | None]:
    """The stack config wins (it may know about reverse charge), then the API's owner rate."""
    if config.pricing.vat_rate_percent is not None:
        return dec(config.pricing.vat_rate_percent), "config pricing.vatRatePercent"
    if live_pricing is not None:
        return live_pricing.vat_rate, "live /v1/pricing vat_rate"
    return None, None


def _capacity(config: StackConfig, spec: PlatformSpec, catalogue: Catalogue, book: PriceBook,
              server_lines: Mapping[str | None, CostLine], availability: Availability) -> CapacityReport:
    latest = catalogue.latest_epoch
    backup_pct = book.backup_percentage(latest).amount or ZERO
    return check_capacity(
        config, spec, catalogue,
        new_order_price=lambda name, location: book.server_monthly(name, location, latest),
        current_server_monthly=lambda server: (
            server_lines[spec.server(server).resource_name].exact_eur if spec.server(server).resource_name in server_lines else None
        ),
        backup_share=backup_pct / 100,
        availability=availability,
    )


def _price_notes(catalogue: Catalogue, live_pricing: LivePricing | None, live_status: LiveStatus, as_of: dt.date,
                 vat_rate: Decimal | None) -> list[str]:
    notes = list(STANDARD_NOTES)
    if live_pricing is None:
        notes.append(f"Prices from the dated catalogue of {catalogue.taken_on} ({live_status.reason}); "
                     "`plan --live-prices` / `cost --live` with a HCLOUD_TOKEN read the current prices from GET /v1/pricing.")
    elif as_of < catalogue.epoch_starts[catalogue.latest_epoch]:
        notes.append(f"Live prices not used: the plan is priced for {as_of.isoformat()}, before the newest epoch.")
    if vat_rate is None:
        notes.append("Gross unknown: set pricing.vatRatePercent (or use --live-prices: the /v1/pricing answer carries the VAT rate).")
    return notes


def _live_warnings(config: StackConfig, catalogue: Catalogue, live_pricing: LivePricing | None,
                   live_status: LiveStatus) -> list[str]:
    warnings: list[str] = []
    if live_status.error:
        warnings.append(f"live /v1/pricing not used: {live_status.error}; prices come from catalogue {catalogue.taken_on}")
    if live_pricing is not None and live_pricing.availability_error:
        warnings.append(f"live availability not read: {live_pricing.availability_error}; "
                        f"orderable types come from catalogue {catalogue.taken_on}")
    return warnings + override_key_problems(config.pricing.overrides, catalogue)


def _plan_warnings(plan: PlanCost) -> list[str]:
    """Estimated prices, servers over capacity, services without a server, the budget."""
    warnings: list[str] = []
    estimates = [line for line in plan.lines if line.confidence == "estimate"]
    if estimates:
        listed = ", ".join(f"{line.item} {eur(line.monthly_eur)}" for line in estimates)
        warnings.append(f"estimated prices (check them with --live-prices and a HCLOUD_TOKEN, or set pricing.overrides): {listed}")
    for server in plan.capacity.servers:
        if not server.ok:
            hint = ""
            if server.suggestion is not None:
                s = server.suggestion
                hint = f"; cheapest fitting type: {s.server_type} EUR {eur(s.monthly_eur)}/month ({_signed(s.delta_eur)}/month)"
            warnings.append(f"over capacity on server {server.server} ({server.server_type}): {'; '.join(server.problems())}{hint}")
    if plan.capacity.unplaced:
        warnings.append(f"services without a server for their role: {', '.join(s.name for s in plan.capacity.unplaced)}")
    message = plan.budget_message()
    if message:
        warnings.append(message)
    return warnings


def _signed(value: Decimal) -> str:
    return f"+{eur(value)}" if value >= 0 else eur(value)
