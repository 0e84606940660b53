"""One real offline plan per stack file for the whole growth suite (each run takes a few seconds)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.growth.support import plan_json

PlanResult = tuple[int, dict[str, Any], str]


@pytest.fixture(scope="session")
def real_plan() -> Callable[[Path], PlanResult]:
    cache: dict[Path, PlanResult] = {}

    def run(path: Path) -> PlanResult:
        key = path.resolve()
        if key not in cache:
            cache[key] = plan_json(key)
        return cache[key]

    return run
