"""The one skip rule (tests/prerequisites.py and the root conftest): a missing prerequisite skips with its
reason on a developer's machine and fails under CI=true, whether a test calls the helpers or skips itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import prerequisites
from tests.prerequisites import require, require_tool, tool_path

ROOT = Path(__file__).resolve().parents[2]
MISSING_TOOL = "no-such-tool-xyz"
TINY_SUITE = f'''
import pytest

from tests.prerequisites import require_tool


def test_calls_the_helper():
    require_tool("{MISSING_TOOL}")


def test_skips_by_itself():
    pytest.skip("a reason of its own")
'''


def test_missing_tool_skips_locally_but_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prerequisites, "UNDER_CI", False)
    with pytest.raises(pytest.skip.Exception, match=f"not installed: {MISSING_TOOL}"):
        require_tool("bash", MISSING_TOOL)
    with pytest.raises(pytest.skip.Exception, match=MISSING_TOOL):
        tool_path(MISSING_TOOL)
    monkeypatch.setattr(prerequisites, "UNDER_CI", True)
    with pytest.raises(pytest.fail.Exception, match=rf"CI=true.*not installed: {MISSING_TOOL}"):
        require_tool(MISSING_TOOL)
    with pytest.raises(pytest.fail.Exception, match=r"CI=true.*no PostgreSQL here"):
        require(False, "no PostgreSQL here")


def test_present_prerequisites_pass() -> None:
    require(True, "never shown")
    require_tool("bash")
    assert Path(tool_path("bash")).name == "bash"


def run_tiny_suite(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    """The tiny suite above, under the root conftest (loaded as a plugin), in a pytest of its own."""
    test_file = tmp_path / "test_tiny.py"
    test_file.write_text(TINY_SUITE, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    if ci is not None:
        env["CI"] = ci
    command = [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider", "-rA",
               "--rootdir", str(tmp_path), str(test_file)]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_a_skip_is_a_skip_without_ci(tmp_path: Path) -> None:
    result = run_tiny_suite(tmp_path, ci=None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 skipped" in result.stdout and "failed" not in result.stdout, result.stdout


def test_under_ci_every_skip_fails_with_its_reason(tmp_path: Path) -> None:
    result = run_tiny_suite(tmp_path, ci="true")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 failed" in result.stdout and "skipped" not in result.stdout.splitlines()[-1], result.stdout
    assert f"not installed: {MISSING_TOOL}" in result.stdout and "a reason of its own" in result.stdout, result.stdout
