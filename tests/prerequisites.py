"""The one skip rule of every suite: a test whose prerequisite (a tool, root, a package) is missing skips
with the reason on a developer's machine, and fails with the same reason under CI=true, so CI can never go
green by skipping. The root conftest turns any other skip under CI=true into a failure as well (a skipif
mark, a bare pytest.skip); these helpers say at the test what is missing."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import NoReturn

import pytest

UNDER_CI = os.environ.get("CI", "").lower() == "true"
# Tools the venv installs (docker-compose, check-jsonschema) live next to the interpreter, maybe not on PATH.
VENV_BIN = Path(sys.executable).parent


def skip_or_fail(reason: str) -> NoReturn:
    """Skip with `reason`; under CI=true fail with it."""
    if UNDER_CI:
        pytest.fail(f"CI=true, and a test may not skip: {reason}", pytrace=False)
    pytest.skip(reason)


def require(condition: bool, reason: str) -> None:
    """Go on when `condition` holds; otherwise skip (CI: fail) with `reason`."""
    if not condition:
        skip_or_fail(reason)


def find_tool(name: str) -> str | None:
    """The path of `name` on PATH or in the venv, or None."""
    venv_tool = VENV_BIN / name
    return shutil.which(name) or (str(venv_tool) if venv_tool.exists() else None)


def require_tool(*names: str) -> None:
    """Every tool in `names` must be installed (on PATH or in the venv)."""
    missing = [name for name in names if find_tool(name) is None]
    require(not missing, f"not installed: {', '.join(missing)}")


def tool_path(name: str) -> str:
    """The path of a tool that must be installed."""
    path = find_tool(name)
    if path is None:
        skip_or_fail(f"not installed: {name}")
    return path


def require_root(purpose: str = "mount namespaces, overlays, unshare --net") -> None:
    require(os.geteuid() == 0, f"needs root ({purpose})")
