"""Read a stack file for a command: merge its base, refuse misplaced secrets, validate every field and the
resolved view (spec/checks.py). `plan`, `cost` and the pull-request comment share it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from config.errors import ConfigError
from config.loader import misplaced_secret_issues, validate_config
from config.schema import StackConfig
from config.stack_base import read_merged_stack_file
from config.stack_file import StackFile
from spec.checks import spec_issues


def stack_path(stack: str | None, config_file: str | None, project_dir: Path) -> Path:
    if config_file:
        return Path(config_file)
    return project_dir / f"Pulumi.{stack}.yaml"


def load(path: Path, as_of: dt.date | None = None) -> tuple[StackFile, StackConfig]:
    """Read and validate; ConfigError carries every problem. `as_of` replaces the stack's pricing.asOf
    (the program reads it from the stack values, so it is set there, not on the validated model)."""
    stack = read_merged_stack_file(path)
    if as_of is not None:
        pricing = stack.values.get("pricing")
        stack.values["pricing"] = {**(pricing if isinstance(pricing, dict) else {}), "asOf": as_of.isoformat()}
    misplaced = stack.plain_secret_issues()
    misplaced += misplaced_secret_issues({key.split(".")[0].split("[")[0] for key in stack.secret_keys if ":" not in key})
    try:
        config = validate_config(stack.values, source=str(path))
    except ConfigError as error:
        raise ConfigError(misplaced + error.issues, error.source) from None
    issues = misplaced + spec_issues(config)
    if issues:
        raise ConfigError(issues, str(path))
    return stack, config
