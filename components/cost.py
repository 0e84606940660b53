"""Cost report and budget guard inside the Pulumi program.

`enforce_budget(plan_cost)` runs BEFORE any resource is declared: over an enforced budget it raises
`pulumi.RunError` (a clean stop, nothing half-applied); at warn / critical (or over but not enforced)
it logs a warning. `CostReport` carries the priced breakdown as a stack output.
"""

from __future__ import annotations

from typing import Any

import pulumi

from cost.api import PlanCost


def enforce_budget(plan_cost: PlanCost) -> None:
    message = plan_cost.guard_message()
    if message is not None:
        raise pulumi.RunError(message)
    for warning in plan_cost.warnings:
        pulumi.log.warn(warning)


class CostReport(pulumi.ComponentResource):
    """hetzner-platform:cost:CostReport: no cloud resources, only the priced breakdown as outputs."""

    breakdown: pulumi.Output[dict[str, Any]]
    total_net_eur: pulumi.Output[float]
    status: pulumi.Output[str]

    def __init__(self, name: str, plan_cost: PlanCost, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("hetzner-platform:cost:CostReport", name, None, opts)
        cost = plan_cost.cost_json()
        self.breakdown = pulumi.Output.from_input(cost)
        self.capacity = pulumi.Output.from_input(plan_cost.capacity_json())
        self.total_net_eur = pulumi.Output.from_input(cost["total_net_eur"])
        self.status = pulumi.Output.from_input(cost["status"])
        self.register_outputs({
            "breakdown": self.breakdown,
            "capacity": self.capacity,
            "totalNetEur": self.total_net_eur,
            "status": self.status,
        })
