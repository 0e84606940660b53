"""spec/host_paths.py is the one home of the platform's paths on a host. The bash templates that still
spell a path (changing a step script's text re-runs the step on every host) must spell the same one."""

from __future__ import annotations

import re
from pathlib import Path

from config.loader import validate_config
from render.ops_conf import ops_conf
from render.ops_view import ops_view
from spec import host_paths
from tests.stacks import PROD

TEMPLATES = Path(__file__).resolve().parents[2] / "render" / "templates"


def test_the_ssh_step_handles_the_drop_ins_the_renderer_writes() -> None:
    script = (TEMPLATES / "host" / "ssh.sh").read_text(encoding="utf-8")
    array = re.search(r"^HP_SSHD_FILES=\(\n(.*?)\n\)", script, re.M | re.S)
    assert array is not None
    assert [line.strip() for line in array.group(1).splitlines()] == [host_paths.PORT_DROPIN, host_paths.HARDENING_DROPIN]
    assert f"HP_SSH_SOCKET_DROPIN={host_paths.SOCKET_DROPIN}\n" in script


def test_ops_conf_hands_the_paths_to_the_scripts() -> None:
    """The ops scripts read their paths from ops.conf, rendered from spec/host_paths.py."""
    config = validate_config(PROD)
    conf = ops_conf(ops_view(config, next(iter(config.servers))))
    assert host_paths.STATE_FILE in conf
    assert host_paths.current_release_dir(config.project) in conf
