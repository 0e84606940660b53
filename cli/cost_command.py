"""`hetzner-platform cost`: breakdown, headroom to budget, and upgrade options."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from cli.plan import EXIT_INVALID, load, stack_path
from components.specs import resolve
from config.errors import ConfigError


def run_cost(stack: str | None, config_file: str | None, project_dir: Path,
             out: TextIO = sys.stdout, err: TextIO = sys.stderr, *, live: bool = False) -> int:
    from cost.cli import run_cost_command

    try:
        _, config = load(stack_path(stack, config_file, project_dir))
    except ConfigError as error:
        print(error.render(), file=err)
        return EXIT_INVALID
    return run_cost_command(config, resolve(config), out, live=live)
