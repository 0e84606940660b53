"""Shared helpers for the app tests: a strict load of a stack, the real `docker compose config` and the
compose schema. The stacks themselves are in tests/stacks.py."""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from config.app_stack_rules import app_stack_issues
from config.loader import validate_config
from config.schema import StackConfig
from tests.prerequisites import VENV_BIN

COMPOSE_BIN = VENV_BIN / "docker-compose"


def load(values: dict[str, Any], *, strict: bool = True) -> StackConfig:
    config = validate_config(copy.deepcopy(values))
    if strict:
        issues = app_stack_issues(config)
        assert not issues, [str(issue) for issue in issues]
    return config


@lru_cache(maxsize=1)
def compose_schema() -> dict[str, Any]:
    import check_jsonschema

    schema_path = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(schema_path.read_text(encoding="utf-8"))


def compose_check(text: str, secrets: list[str], directory: Path) -> dict[str, Any]:
    """Run the real `docker compose config` on a rendered file (dummy secret values); return its model."""
    import subprocess

    from render.app import render_env_file

    directory.mkdir(parents=True, exist_ok=True)
    compose_file = directory / "docker-compose.yml"
    compose_file.write_text(text, encoding="utf-8")
    env_file = directory / ".env"
    env_file.write_text(render_env_file({name: f"dummy-{name.lower()}" for name in secrets}), encoding="utf-8")
    base = [str(COMPOSE_BIN), "--project-directory", str(directory), "-f", str(compose_file), "--env-file", str(env_file)]
    quiet = subprocess.run([*base, "config", "-q"], capture_output=True, text=True)
    assert quiet.returncode == 0, quiet.stderr
    full = subprocess.run([*base, "config", "--format", "json"], capture_output=True, text=True)
    assert full.returncode == 0, full.stderr
    return dict(json.loads(full.stdout))


def schema_errors(model: dict[str, Any]) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(compose_schema())
    return [f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}" for error in validator.iter_errors(model)]
