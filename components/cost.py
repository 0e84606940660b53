"""Cost report, budget and capacity guards inside the Pulumi program.

`enforce_budget(plan_cost)` and `enforce_capacity(plan_cost)` run BEFORE any resource is declared: over
an enforced budget, or over a server's capacity, they raise `pulumi.RunError` (a clean stop, nothing
half-applied); at warn / critical (or over but not enforced) the budget guard logs a warning.
`CostReport` carries the priced breakdown as a stack output.
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


def enforce_capacity(plan_cost: PlanCost) -> None:
    """Over capacity (the compose limits do not fit a server): stop before any resource is declared."""
    message = plan_cost.capacity_guard_message()
    if message is not None:
        raise pulumi.RunError(message)


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
