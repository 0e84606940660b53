"""`hetzner-platform cost`: breakdown, headroom to budget, and upgrade options."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TextIO

from cli.plan import load, report_refusal, stack_path
from spec.resources import resolve


def run_cost(stack: str | None, config_file: str | None, project_dir: Path,
             out: TextIO | None = None, err: TextIO | None = None, *, as_of: dt.date | None = None,
             live: bool = False) -> int:
    from cost.cli import run_cost_command

    # Looked up per call: a default of sys.stdout would keep whatever stream was current at import.
    out, err = out or sys.stdout, err or sys.stderr

    path = stack_path(stack, config_file, project_dir)
    try:
        _, config = load(path, as_of)
        return run_cost_command(config, resolve(config), out, live=live)
    except Exception as error:  # any failure on a stack is exit 2, never a traceback
        return report_refusal(error, str(path), err)
