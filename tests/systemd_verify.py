"""`systemd-analyze verify` and `calendar` on rendered units, inside a fake root: a copy of this machine's
/lib/systemd/system, the rendered files, and stubs for what the host step installs (Docker's service and
binary), so nothing resolves against the host's own units. systemd reports many problems as warnings with
exit 0: callers treat any output as a failure."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from tests.prerequisites import require, require_tool

SYSTEM_UNITS = Path("/lib/systemd/system")
DOCKER_SERVICE_STUB = "[Unit]\nDescription=stub\n[Service]\nExecStart=/usr/bin/docker\n"


def fake_root(root: Path, files: Mapping[str, str]) -> list[str]:
    """Build the fake root at `root` with `files` (host path -> content) in it; return their host paths.
    Scripts under /usr/local/sbin/ are made executable (units name them in ExecStart=)."""
    require_tool("systemd-analyze")
    require(SYSTEM_UNITS.is_dir(), f"no {SYSTEM_UNITS} to build the fake root from (apt-get install systemd)")
    (root / "lib/systemd").mkdir(parents=True)
    shutil.copytree(SYSTEM_UNITS, root / "lib/systemd/system", symlinks=True)
    for path, content in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        target.chmod(0o755 if path.startswith("/usr/local/sbin/") else 0o644)
    docker_service = root / "etc/systemd/system/docker.service"
    docker_service.parent.mkdir(parents=True, exist_ok=True)
    docker_service.write_text(DOCKER_SERVICE_STUB, encoding="utf-8")
    docker = root / "usr/bin/docker"
    docker.parent.mkdir(parents=True, exist_ok=True)
    docker.write_text("#!/bin/sh\n", encoding="utf-8")
    docker.chmod(0o755)
    return list(files)


def verify(root: Path, units: list[str]) -> tuple[int, str]:
    """(exit code, everything systemd-analyze verify printed) for these units in the fake root."""
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}", *units],
                            capture_output=True, text=True, timeout=120, check=False)
    return result.returncode, (result.stdout + result.stderr).strip()


def assert_calendar_parses(calendar: str) -> None:
    require_tool("systemd-analyze")
    result = subprocess.run(["systemd-analyze", "calendar", calendar], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and "Next elapse" in result.stdout, f"{calendar}: {result.stderr}"
