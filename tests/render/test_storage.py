"""findmnt parses the fstab lines (its parse-error count, not its exit code, which also reports the
volume missing on this machine); the storage step (HP_SKIP=mount) merges them into /etc/fstab in
place and creates the mount point and data directories, idempotently."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from render.host_steps import host_steps
from render.steps import HostRuntime, HostStep
from spec.resources import resolve
from tests.prerequisites import require_tool
from tests.render.conftest import VOLUME_ID, Sandbox, make_config, run, summary

pytestmark = pytest.mark.render

LINE = f"/dev/disk/by-id/scsi-0HC_Volume_{VOLUME_ID} /mnt/data ext4 defaults,nofail,discard,x-systemd.device-timeout=30s 0 2"


def parse_errors(tmp_path: Path, content: str) -> tuple[int, str]:
    require_tool("findmnt")
    path = tmp_path / "fstab"
    path.write_text(content, encoding="utf-8")
    result = run(["findmnt", "--verify", "--tab-file", str(path)])
    output = result.stdout + result.stderr
    match = re.search(r"(\d+) parse errors?", output)
    assert match, output
    return int(match.group(1)), output


def test_fstab_lines_parse(files: dict[str, str], tmp_path: Path) -> None:
    assert files["/etc/fstab"] == LINE + "\n"
    errors, output = parse_errors(tmp_path, files["/etc/fstab"])
    assert errors == 0, output
    assert "/mnt/data" in output


def test_findmnt_counts_a_broken_line(tmp_path: Path) -> None:
    errors, output = parse_errors(tmp_path, f"/dev/disk/by-id/scsi-0HC_Volume_{VOLUME_ID}\n")
    assert errors == 1, output


def test_storage_step_with_mount_skipped(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    fstab = Path("/etc/fstab").read_text(encoding="utf-8") if Path("/etc/fstab").exists() else ""
    # A stale line for the same mount point (say, from a manual setup) is replaced where it stands.
    sandbox.seed("/etc/fstab", fstab + "/dev/sdb /mnt/data ext4 defaults 0 0\n# keep me\n")
    result = sandbox.run(steps["storage"].script, runs=2, skip="mount")
    assert result.returncode == 0, result.output
    first, second = result.runs
    assert "skipped: format and mount of volume data" in first
    assert summary(second) == {"step": "storage", "changed": "0"}
    merged = sandbox.upper("/etc/fstab").read_text(encoding="utf-8")
    assert merged == fstab + LINE + "\n# keep me\n"
    for directory in ("", "/postgres", "/redis", "/backups"):
        assert sandbox.upper(f"/mnt/data{directory}").is_dir(), directory


def test_storage_script_refuses_to_run_without_volume_ids(sandbox: Sandbox) -> None:
    config = make_config()
    step = next(s for s in host_steps(config, resolve(config), "app", HostRuntime()) if s.name == "storage")
    result = sandbox.run(step.script, skip="mount")
    assert result.returncode == 1
    assert "rendered before these values were known: id of volume data" in result.stderr
