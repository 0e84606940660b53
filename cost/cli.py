"""`hetzner-platform cost --stack NAME`: breakdown, headroom to budget and the next upgrade options.

The argparse part lives in cli/main.py; it loads and validates the stack, resolves the spec and calls
`run_cost_command`. A Hetzner token in env HCLOUD_TOKEN (endpoint: HCLOUD_ENDPOINT) turns on the live
price refresh when the stack allows it (pricing.live).
"""

from __future__ import annotations

from typing import TextIO

from components.specs import PlatformSpec
from config.schema import StackConfig
from cost.api import PlanCost, plan_sections
from cost.live import credentials_from_env
from cost.report import render_upgrades, render_warnings


def render_cost_report(plan: PlanCost) -> str:
    """The plan's report (table, budget, notes, allocation), then warnings, headroom and upgrade options."""
    warnings = render_warnings(plan)
    return plan.render_text() + "\n" + (warnings + "\n" if warnings else "") + render_upgrades(plan)


def run_cost_command(config: StackConfig, spec: PlatformSpec, out: TextIO) -> int:
    """Print the report; exit code 1 when over an enforced budget or over capacity, else 0."""
    token, endpoint = credentials_from_env()
    plan = plan_sections(config, spec, token=token, endpoint=endpoint)
    out.write(render_cost_report(plan))
    return plan.exit_code()
