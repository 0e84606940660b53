"""A priced plan: its lines, totals, budget and capacity verdicts, and their JSON (the plan's `cost` and
`capacity` sections). cost/api.py builds it; cost/report.py renders it as text.

JSON money convention: every amount (`monthly_eur`, `gross_eur`, totals, budget figures, deltas) is a
JSON number rounded to 2 decimals; `unit_eur` and `quantity` are the exact figures as numbers (0.0572,
100, 0.2). `null` means unknown (e.g. gross without a VAT rate). Internally everything is Decimal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cost.capacity import CapacityReport, placement_rule
from cost.engine import BudgetStatus, CostLine, total_of, vat_on_net_total
from cost.money import ZERO, eur, json_money, json_number
from cost.upgrades import UpgradeOption
from spec.order_dates import OrderDate


@dataclass(frozen=True)
class LiveStatus:
    requested: bool
    used: bool
    endpoint: str | None
    error: str | None
    reason: str


@dataclass
class PlanCost:
    stack: str
    location: str
    as_of: dt.date
    catalogue_taken_on: str
    lines: list[CostLine]
    budget: BudgetStatus
    vat_rate_percent: Decimal | None
    vat_source: str | None
    capacity: CapacityReport
    upgrades: list[UpgradeOption]
    live: LiveStatus
    order_dates: dict[str, OrderDate] = field(default_factory=dict)
    server_epochs: dict[str, str | None] = field(default_factory=dict)  # server name -> the epoch it is priced in
    price_notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    # --- totals --------------------------------------------------------------------------------
    @property
    def total_net_eur(self) -> Decimal:
        """Exact sum of the rounded lines (lines without a known price are left out and warned about)."""
        return total_of(self.lines)

    @property
    def vat_eur(self) -> Decimal | None:
        """VAT on the net total (as the invoice computes it), not the sum of per-line VAT."""
        if self.vat_rate_percent is None:
            return None
        return vat_on_net_total(self.lines, self.vat_rate_percent)

    @property
    def total_gross_eur(self) -> Decimal | None:
        vat = self.vat_eur
        return None if vat is None else self.total_net_eur + vat

    @property
    def complete(self) -> bool:
        return all(line.monthly_eur is not None for line in self.lines)

    @property
    def status(self) -> str:
        return self.budget.status

    @property
    def unpriced(self) -> list[CostLine]:
        return [line for line in self.lines if line.monthly_eur is None]

    def how_to_price(self) -> str:
        """How to price the unpriced lines: their pricing.overrides keys, or the live API."""
        keys = sorted({line.price_key for line in self.unpriced if line.price_key})
        overrides = f"set pricing.overrides ({', '.join(f'{key}: <EUR net/month>' for key in keys)})" if keys else "set pricing.overrides"
        return (f"{overrides}, or read the current prices with a HCLOUD_TOKEN: "
                "`hetzner-platform plan --live-prices` / `hetzner-platform cost --live`")

    def unpriced_text(self) -> str:
        return ", ".join(line.item for line in self.unpriced)

    # --- the lead's API ------------------------------------------------------------------------
    def exit_code(self) -> int:
        """1 when over an enforced budget, incomplete under an enforced budget, or over capacity; else 0."""
        if (self.status in ("over", "incomplete") and self.budget.enforce) or not self.capacity.ok:
            return 1
        return 0

    def biggest_lines(self, count: int = 3) -> list[CostLine]:
        priced = [line for line in self.lines if line.monthly_eur is not None]
        return sorted(priced, key=lambda line: (-(line.monthly_eur or ZERO), self.lines.index(line)))[:count]

    def budget_message(self) -> str | None:
        """One line for warn / critical / over; None when ok."""
        b = self.budget
        if b.status == "ok":
            return None
        total = f"EUR {eur(b.total)}/month net"
        if b.status == "incomplete":
            tail = " (budget.enforce is off: not blocking)" if not b.enforce else ""
            return (f"budget incomplete: no price known for {self.unpriced_text()}; the priced lines alone cost {total}, "
                    f"so the budget of EUR {eur(b.budget)} cannot be checked{tail}. To price them: {self.how_to_price()}")
        if b.status == "over":
            tail = " (budget.enforce is off: not blocking)" if not b.enforce else ""
            return f"budget over: {self.stack} costs {total}, over the budget of EUR {eur(b.budget)} by EUR {eur(-b.headroom)}{tail}"
        threshold = b.critical if b.status == "critical" else b.warn
        return (f"budget {b.status}: {self.stack} costs {total}, at or above the {b.status} threshold EUR {eur(threshold)} "
                f"(budget EUR {eur(b.budget)}, headroom EUR {eur(b.headroom)})")

    def guard_message(self) -> str | None:
        """Why `pulumi up` must stop: over an enforced budget, or a total that cannot be checked against
        it (a line without a price). None otherwise."""
        b = self.budget
        if b.status == "incomplete" and b.enforce:
            return (
                f"Budget guard: stack {self.stack} cannot be checked against its budget of EUR {eur(b.budget)}: no price known "
                f"for {self.unpriced_text()} (the priced lines alone cost EUR {eur(b.total)}/month net). "
                f"To price them: {self.how_to_price()}; or set budget.enforce to false."
            )
        if b.status != "over" or not b.enforce:
            return None
        biggest = ", ".join(f"{line.item} EUR {eur(line.monthly_eur)}" for line in self.biggest_lines())
        return (
            f"Budget guard: stack {self.stack} would cost EUR {eur(b.total)}/month (net), over its budget of "
            f"EUR {eur(b.budget)} by EUR {eur(-b.headroom)}. Biggest lines: {biggest}. "
            f"Raise budget.monthlyEur, shrink the stack, or set budget.enforce to false."
        )

    def capacity_guard_message(self) -> str | None:
        """Why `pulumi up` must stop: the compose limits do not fit the servers. None otherwise."""
        if self.capacity.ok:
            return None
        problems = [f"{server.server}: {problem}" for server in self.capacity.servers for problem in server.problems()]
        problems += [f"service {service.name} has no server with its role" for service in self.capacity.unplaced]
        return "Capacity guard: the compose limits do not fit the servers. " + "; ".join(problems) + "."

    def cost_json(self) -> dict[str, Any]:
        vat = self.vat_rate_percent
        return {
            "currency": "EUR",
            "as_of": self.as_of.isoformat(),
            "catalogue": self.catalogue_taken_on,
            "live": {
                "requested": self.live.requested,
                "used": self.live.used,
                "endpoint": self.live.endpoint,
                "error": self.live.error,
            },
            "order_dates": {
                name: {"ordered_on": order.output_value, "origin": order.origin} for name, order in self.order_dates.items()
            },
            "lines": [self._line_json(line) for line in self.lines],
            "total_net_eur": json_money(self.total_net_eur),
            "vat_eur": json_money(self.vat_eur),
            "total_gross_eur": json_money(self.total_gross_eur),
            "vat_rate_percent": json_number(vat),
            "vat_source": self.vat_source,
            "complete": self.complete,
            "budget_eur": json_money(self.budget.budget),
            "warn_eur": json_money(self.budget.warn),
            "critical_eur": json_money(self.budget.critical),
            "headroom_eur": json_money(self.budget.headroom),
            "status": self.status,
            "enforce": self.budget.enforce,
            "upgrade_options": [self._upgrade_json(option) for option in self.upgrades],
            "price_notes": list(self.price_notes),
            "warnings": list(self.warnings),
        }

    def capacity_json(self) -> dict[str, Any]:
        servers = []
        for server in self.capacity.servers:
            suggestion = server.suggestion
            servers.append({
                "server": server.server,
                "server_type": server.server_type,
                "roles": list(server.roles),
                "vcpu": json_number(server.vcpu_total),
                "ram_gb": json_number(server.ram_gb_total),
                "reserve_vcpu": json_number(server.reserve_vcpu),
                "reserve_ram_gb": json_number(server.reserve_ram_gb),
                "vcpu_available": json_number(server.vcpu_available),
                "ram_gb_available": json_number(server.ram_gb_available),
                "vcpu_allocated": json_number(server.vcpu_allocated),
                "ram_gb_allocated": json_number(server.ram_gb_allocated.quantize(Decimal("0.001"))),
                "services": [
                    {"name": s.name, "role": s.role, "cpus": json_number(s.cpus), "memory_mb": json_number(s.memory_mb)}
                    for s in server.services
                ],
                "ok": server.ok,
                "problems": server.problems(),
                "suggestion": None if suggestion is None else {
                    "server_type": suggestion.server_type,
                    "vcpu": suggestion.vcpu,
                    "ram_gb": suggestion.ram_gb,
                    "monthly_eur": json_money(suggestion.monthly_eur),
                    "delta_eur": json_money(suggestion.delta_eur),
                    "delta_with_backups_eur": json_money(suggestion.delta_with_backups_eur),
                    "source": suggestion.source,
                    "orderable_source": suggestion.orderable_source,
                },
            })
        return {
            "ok": self.capacity.ok,
            "placement_rule": self.capacity.rule or placement_rule(),
            "servers": servers,
            "unplaced_services": [s.name for s in self.capacity.unplaced],
        }

    # --- helpers -------------------------------------------------------------------------------
    def _line_json(self, line: CostLine) -> dict[str, Any]:
        return {
            "item": line.item,
            "kind": line.kind,
            "quantity": json_number(line.quantity),
            "unit": line.unit,
            "unit_eur": json_number(line.unit_eur),
            "monthly_eur": json_money(line.monthly_eur),
            "gross_eur": json_money(line.gross_eur(self.vat_rate_percent)),
            "source": line.source,
            "confidence": line.confidence,
            "estimate": line.estimate,
            "epoch": line.epoch,
            "ordered_on": None if line.ordered_on is None else line.ordered_on.isoformat(),
            "order_origin": line.order_origin,
            "resource": line.resource,
            "note": line.note,
        }

    @staticmethod
    def _upgrade_json(option: UpgradeOption) -> dict[str, Any]:
        return {
            "kind": option.kind,
            "title": option.title,
            "total_net_eur": json_money(option.total_net_eur),
            "delta_eur": json_money(option.delta_eur),
            "servers": [
                {
                    "name": s.name, "server_type": s.server_type, "vcpu": s.vcpu, "ram_gb": s.ram_gb, "roles": list(s.roles),
                    "server_eur": json_money(s.server_eur), "backups_eur": json_money(s.backups_eur),
                    "primary_ips_eur": json_money(s.primary_ips_eur), "source": s.source,
                }
                for s in option.servers
            ],
            "notes": list(option.notes),
        }
