"""systemd-analyze verify on every unit and unit drop-in the steps render, inside a fake root (a copy
of this machine's /lib/systemd/system plus the rendered files), so nothing resolves against the host.
systemd reports many problems as warnings with exit 0: any output at all fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from spec.host_paths import SOCKET_DROPIN, SWAP_UNIT, UNIT_DIR
from tests import systemd_verify
from tests.prerequisites import require, require_tool
from tests.systemd_verify import fake_root

pytestmark = pytest.mark.render

UNIT_DIRS = (f"{UNIT_DIR}/",)


def unit_files(files: dict[str, str]) -> dict[str, str]:
    return {path: content for path, content in files.items() if path.startswith(UNIT_DIRS)}


def verify(tmp_path: Path, files: dict[str, str], units: list[str]) -> tuple[int, str]:
    root = tmp_path / "root"
    fake_root(root, files)
    return systemd_verify.verify(root, units)


def test_every_rendered_unit_file_is_known_here(files: dict[str, str]) -> None:
    assert set(unit_files(files)) == {SWAP_UNIT, SOCKET_DROPIN}


def test_systemd_accepts_rendered_units(files: dict[str, str], tmp_path: Path) -> None:
    require_tool("systemd-analyze")
    require(Path("/lib/systemd/system/ssh.socket").exists(), "openssh-server's ssh.socket is needed to verify the socket drop-in")
    rc, output = verify(tmp_path, unit_files(files), [SWAP_UNIT, "ssh.socket"])
    assert rc == 0 and output == "", output


def test_systemd_rejects_broken_unit(files: dict[str, str], tmp_path: Path) -> None:
    broken = dict(unit_files(files))
    broken[SWAP_UNIT] = broken[SWAP_UNIT].replace("What=/swapfile", "Wat=/swapfile")
    rc, output = verify(tmp_path, broken, [SWAP_UNIT])
    assert "Unknown key 'Wat'" in output or "Unknown key name 'Wat'" in output, output
    assert rc != 0 or output


def test_systemd_reports_broken_dropin(files: dict[str, str], tmp_path: Path) -> None:
    broken = dict(unit_files(files))
    broken[SOCKET_DROPIN] = broken[SOCKET_DROPIN].replace("ListenStream=2222", "ListenStrem=2222")
    # An unknown key is only a warning (exit 0): the output is what fails the check.
    _, output = verify(tmp_path, broken, ["ssh.socket"])
    assert "Unknown key 'ListenStrem'" in output or "Unknown key name 'ListenStrem'" in output, output
