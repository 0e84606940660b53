"""`hetzner-platform cost --stack NAME`: breakdown, headroom to budget and the next upgrade options.

The argparse part lives in cli/main.py; it loads and validates the stack, resolves the spec and calls
`run_cost_command`. `--live` reads the current prices and availability with the Hetzner token in env
HCLOUD_TOKEN (endpoint: HCLOUD_ENDPOINT); without it the report is offline (no network call).
"""

from __future__ import annotations

from typing import TextIO

from config.schema import StackConfig
from cost.api import PlanCost, plan_sections
from cost.live import credentials_from_env
from cost.report import render_plan, render_upgrades, render_warnings
from spec.resources import PlatformSpec


def render_cost_report(plan: PlanCost) -> str:
    """The plan's report (table, budget, notes, allocation), then warnings, headroom and upgrade options."""
    warnings = render_warnings(plan)
    return render_plan(plan) + "\n" + (warnings + "\n" if warnings else "") + render_upgrades(plan)


def run_cost_command(config: StackConfig, spec: PlatformSpec, out: TextIO, *, live: bool = False) -> int:
    """Print the report; exit code 1 when over (or incomplete under) an enforced budget or over capacity."""
    token, endpoint = credentials_from_env() if live else (None, None)
    plan = plan_sections(config, spec, live=live, token=token, endpoint=endpoint)
    out.write(render_cost_report(plan))
    return plan.exit_code()
