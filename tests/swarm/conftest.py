"""Shared helpers for the swarm tests: the preset's values, edited per case."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from config.loader import validate_config
from config.schema import StackConfig
from config.stack_base import read_merged_stack_file

REPO = Path(__file__).resolve().parents[2]
PRESET = REPO / "examples" / "Pulumi.swarm.yaml"


def preset_values() -> dict[str, Any]:
    return copy.deepcopy(read_merged_stack_file(PRESET).values)


def swarm_config(values: dict[str, Any] | None = None) -> StackConfig:
    return validate_config(values if values is not None else preset_values(), source="swarm test")
