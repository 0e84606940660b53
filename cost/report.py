"""Human-readable reports: the cost table, the seed-style Resource Allocation Summary, upgrades."""

from __future__ import annotations

from decimal import Decimal

from cost.capacity import ServerCapacity, ServiceLoad, placement_rule
from cost.engine import CostLine
from cost.money import eur, figure, plain
from cost.plan_cost import PlanCost

RULE = "─" * 48


def unit_text(value: Decimal | None) -> str:
    """Unit prices: at least 2 decimals (6.49, 3.00), more when they matter (0.0572)."""
    if value is None:
        return "?"
    exact = plain(value)
    exponent = exact.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        return format(exact, "f")
    return f"{value:.2f}"


def quantity_text(line: CostLine) -> str:
    q = format(plain(line.quantity), "f")
    if line.kind == "backup":
        return f"{format(plain(line.quantity * 100), 'f')} %"
    return {"month": f"{q} month", "hour": f"{q} h", "GB": f"{q} GB", "TB": f"{q} TB"}.get(line.unit, q)


def ordered_text(line: CostLine) -> str:
    """The Ordered column: a server line's order date ('unknown' when no date is recorded), else blank."""
    if line.kind != "server":
        return ""
    return "unknown" if line.ordered_on is None else line.ordered_on.isoformat()


def cost_table(plan: PlanCost) -> list[str]:
    header = ("Item", "Qty", "Unit EUR", "Monthly EUR", "Epoch", "Ordered", "Source")
    rows = []
    for line in plan.lines:
        monthly = eur(line.monthly_eur) + (" *" if line.estimate else "  ")
        rows.append((line.item, quantity_text(line), unit_text(line.unit_eur), monthly, line.epoch or "",
                     ordered_text(line), line.source))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(6)]
    widths[3] = max(widths[3], len("Monthly EUR") + 2)

    def fmt(row: tuple[str, str, str, str, str, str, str]) -> str:
        return (f"  {row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]:>{widths[3]}}  "
                f"{row[4]:<{widths[4]}}  {row[5]:<{widths[5]}}  {row[6]}").rstrip()

    out = [fmt(header)]
    out += [fmt(row) for row in rows]
    width = sum(widths[:4]) + 8
    out.append("  " + "-" * width)

    def total(label: str, value: str) -> str:
        return f"  {label:<{max(width - len(value) - 2, len(label) + 2)}}{value}  "

    vat = plan.vat_rate_percent
    if plan.unpriced:
        out.append(total("Total net of the priced lines (INCOMPLETE)", eur(plan.total_net_eur)).rstrip())
    else:
        out.append(total("Total net", eur(plan.total_net_eur)).rstrip())
    if vat is None:
        out.append(total("VAT", "rate unknown").rstrip())
        out.append(total("Total gross", "unknown").rstrip())
    else:
        out.append(total(f"VAT {format(plain(vat), 'f')} % ({plan.vat_source})", eur(plan.vat_eur)).rstrip())
        out.append(total("Total gross", eur(plan.total_gross_eur)).rstrip())
    if any(line.estimate for line in plan.lines):
        out.append("  * estimate: not confirmed by a price list; see the warnings")
    if plan.unpriced:
        out.append(f"  ! incomplete: no price known for {plan.unpriced_text()}; the totals leave them out.")
        out.append(f"    To price them: {plan.how_to_price()}.")
    return out


def order_assumption(plan: PlanCost) -> str:
    """One line: which order date each server is priced by, where it came from, and the epoch it gives."""
    parts = [f"{name} {order.describe(name)} -> {plan.server_epochs.get(name)}" for name, order in plan.order_dates.items()]
    return f"Order dates (a server keeps the price epoch of its order date; a rescale is a new order): {'; '.join(parts)}."


def budget_line(plan: PlanCost) -> str:
    b = plan.budget
    enforce = "enforced" if b.enforce else "not enforced"
    if b.status == "incomplete":
        return (f"Budget: EUR {eur(b.budget)}/month net ({enforce}): INCOMPLETE, cannot be checked: "
                f"{len(plan.unpriced)} line(s) without a price")
    headroom = f"headroom EUR {eur(b.headroom)}" if b.headroom >= 0 else f"EUR {eur(-b.headroom)} over"
    return (f"Budget: EUR {eur(b.budget)}/month net (warn {eur(b.warn)}, critical {eur(b.critical)}, {enforce}): "
            f"{b.status.upper()}, {headroom}")


def memory_text(memory_mb: Decimal) -> str:
    if memory_mb < 1024:
        return f"{figure(memory_mb)} MB"
    return f"{figure(memory_mb / 1024)} GB"


def allocation_summary(server: ServerCapacity, location: str) -> list[str]:
    out = [f"Resource Allocation Summary: server {server.server} ({server.server_type}, {location}; roles {', '.join(server.roles)})", ""]
    out += ["Total Available:", f"├─ CPU: {figure(server.vcpu_total)} vCPU", f"└─ RAM: {figure(server.ram_gb_total)} GB", ""]
    out.append("Allocation:")
    entries: list[tuple[str, str]] = [
        (f"{s.name}:", f"{memory_text(s.memory_mb)} RAM, {figure(s.cpus)} vCPU") for s in server.services
    ]
    if not server.services:
        entries.append(("(no services)", "none declared for these roles in app.services"))
    entries.append(("System reserve:", f"{figure(server.reserve_ram_gb)} GB RAM, {figure(server.reserve_vcpu)} vCPU"))
    width = max(len(label) for label, _ in entries) + 2
    for index, (label, value) in enumerate(entries):
        branch = "└─" if index == len(entries) - 1 else "├─"
        out.append(f"{branch} {label:<{width}}{value}")
    used_ram = server.ram_gb_allocated + server.reserve_ram_gb
    used_cpu = server.vcpu_allocated + server.reserve_vcpu
    out.append(RULE)
    out.append(f"{'Total Used:':<{width + 3}}{figure(used_ram)} GB RAM, {figure(used_cpu)} vCPU")
    out.append(f"{'Available Buffer:':<{width + 3}}{figure(server.ram_gb_total - used_ram)} GB RAM, "
               f"{figure(server.vcpu_total - used_cpu)} vCPU")
    if server.ok:
        out.append("Result: fits")
    else:
        out.append("Result: OVER CAPACITY")
        out += [f"  - {problem}" for problem in server.problems()]
        s = server.suggestion
        if s is None:
            out.append("  No current type in this location fits: split the services over several servers.")
        else:
            delta = f"{'+' if s.delta_eur >= 0 else ''}{eur(s.delta_eur)}/month"
            if s.delta_with_backups_eur is not None:
                delta += f" ({'+' if s.delta_with_backups_eur >= 0 else ''}{eur(s.delta_with_backups_eur)} with backups)"
            out.append(f"  Cheapest type that fits: {s.server_type} ({s.vcpu} vCPU, {s.ram_gb} GB RAM), "
                       f"EUR {eur(s.monthly_eur)}/month as a new order: {delta}")
    return out


def render_plan(plan: PlanCost) -> str:
    out = [f"Monthly cost of {plan.stack} in {plan.location}, priced for {plan.as_of.isoformat()} (EUR, net of VAT)", ""]
    out += cost_table(plan)
    out += ["", order_assumption(plan)]
    out += ["", budget_line(plan)]
    if plan.price_notes:
        out += ["", "Notes:"] + [f"  - {note}" for note in plan.price_notes]
    for server in plan.capacity.servers:
        out += ["", *allocation_summary(server, plan.location)]
    if plan.capacity.unplaced:
        out += ["", "Services without a server: " + ", ".join(_service(s) for s in plan.capacity.unplaced)]
    out += ["", f"Placement: {plan.capacity.rule or placement_rule()}."]
    return "\n".join(out) + "\n"


def _service(load: ServiceLoad) -> str:
    return f"{load.name} ({load.role})"


def render_warnings(plan: PlanCost) -> str:
    """Warnings are not part of render_plan: callers print them their own way (`plan` prefixes them)."""
    if not plan.warnings:
        return ""
    return "\n".join(["Warnings:", *(f"  ! {warning}" for warning in plan.warnings)]) + "\n"


def render_upgrades(plan: PlanCost) -> str:
    b = plan.budget
    if b.status == "incomplete":
        out = [f"Headroom: unknown, no price known for {plan.unpriced_text()} (budget EUR {eur(b.budget)}, status incomplete)"]
    elif b.headroom >= 0:
        out = [f"Headroom: EUR {eur(b.headroom)}/month under the budget of EUR {eur(b.budget)} (status {b.status})"]
    else:
        out = [f"Headroom: none, EUR {eur(-b.headroom)}/month over the budget of EUR {eur(b.budget)} (status {b.status})"]
    out += ["", "Upgrade options (new-order prices, EUR net per month):"]
    if not plan.upgrades:
        out.append("  none found (no bigger type in this family here, and no single server to split)")
    for number_, option in enumerate(plan.upgrades, start=1):
        delta = f"{'+' if option.delta_eur >= 0 else ''}{eur(option.delta_eur)}"
        after = option.total_net_eur
        fits = "within budget" if after <= b.budget else f"over budget by {eur(after - b.budget)}"
        out.append(f"  {number_}. {option.title}")
        out.append(f"     total EUR {eur(after)}/month ({delta}), {fits}")
        for server in option.servers:
            out.append(
                f"     - {server.name}: {server.server_type} ({server.vcpu} vCPU, {server.ram_gb} GB) "
                f"server {eur(server.server_eur)} + backups {eur(server.backups_eur)} + primary IPs {eur(server.primary_ips_eur)} "
                f"= {eur(server.monthly_eur)}  [{server.source}]"
            )
        out += [f"     ({note})" for note in option.notes]
    return "\n".join(out) + "\n"


def render_cost_report(plan: PlanCost) -> str:
    """`hetzner-platform cost`: the plan's report (table, budget, notes, allocation), then warnings,
    headroom and upgrade options."""
    warnings = render_warnings(plan)
    return render_plan(plan) + "\n" + (warnings + "\n" if warnings else "") + render_upgrades(plan)
