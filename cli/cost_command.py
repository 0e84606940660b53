"""`hetzner-platform cost --stack NAME`: breakdown, headroom to budget and the next upgrade options.

The argparse part lives in cli/main.py. `--live` reads the current prices and availability with the
Hetzner token in env HCLOUD_TOKEN (endpoint: HCLOUD_ENDPOINT); without it the report is offline (no
network call). The report's text is cost/report.py's `render_cost_report`.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TextIO

from cli.plan import load, report_refusal, stack_path
from config.schema import StackConfig
from cost.api import plan_sections
from cost.live import credentials_from_env
from cost.report import render_cost_report
from spec.resources import PlatformSpec, resolve


def run_cost(stack: str | None, config_file: str | None, project_dir: Path,
             out: TextIO | None = None, err: TextIO | None = None, *, as_of: dt.date | None = None,
             live: bool = False) -> int:
    """Load and validate the stack, then print its report; a stack that cannot be loaded is exit 2."""
    # Looked up per call: a default of sys.stdout would keep whatever stream was current at import.
    out, err = out or sys.stdout, err or sys.stderr

    path = stack_path(stack, config_file, project_dir)
    try:
        _, config = load(path, as_of)
        return run_cost_command(config, resolve(config), out, live=live)
    except Exception as error:  # any failure on a stack is exit 2, never a traceback
        return report_refusal(error, str(path), err)


def run_cost_command(config: StackConfig, spec: PlatformSpec, out: TextIO, *, live: bool = False) -> int:
    """Print the report; exit code 1 when over (or incomplete under) an enforced budget or over capacity."""
    token, endpoint = credentials_from_env() if live else (None, None)
    plan = plan_sections(config, spec, live=live, token=token, endpoint=endpoint)
    out.write(render_cost_report(plan))
    return plan.exit_code()
