"""The host side of a server type change: stop the app and shut down cleanly before, start it after.

The provider changes a server's type by powering it off HARD (Poweroff, not Shutdown) when it is still
running, then ChangeType and PowerOn (terraform-provider-hcloud internal/server/resource.go,
resourceServerUpdate: `if server.Status == hcloud.ServerStatusRunning { c.Server.Poweroff(...) }`).
Cutting power to PostgreSQL means crash recovery at best. So before the type change the program runs
STOP (below) over SSH, then waits until the server is off (components/resize_steps.py), and after the
type change runs START: `docker compose stop` marks the containers as stopped on purpose, and a
`restart: unless-stopped` container stays down after the boot unless something starts it.
"""

from __future__ import annotations

import shlex

from config.schema import StackConfig
from spec.host_paths import current_release_dir

# The scripts arrive on stdin (`sudo bash -s`): every command reads /dev/null instead, so none can eat
# the rest of the script.
# Seconds each container gets for a clean stop (PostgreSQL's image stops on SIGINT: a fast shutdown with
# a final checkpoint); docker kills it only after this.
APP_STOP_TIMEOUT_S = 120
# The guest powers off this long after the command returned, so the SSH session ends cleanly first.
POWEROFF_DELAY_S = 5
POWEROFF_UNIT = "hetzner-platform-resize-poweroff"


def _compose(config: StackConfig) -> str:
    project = shlex.quote(config.project)
    current = current_release_dir(config.project)
    return (f'docker compose --project-name {project} --project-directory {shlex.quote(current)} '
            f'--file {shlex.quote(current)}/docker-compose.yml --env-file {shlex.quote(current)}/.env')


def stop_before_resize_script(config: StackConfig, server: str, old_type: str, new_type: str) -> str:
    current = shlex.quote(current_release_dir(config.project))
    return f"""#!/usr/bin/env bash
# hetzner-platform: {server} changes type {old_type} -> {new_type}. Stop the app cleanly, then shut down.
set -euo pipefail
if [ -e {current}/docker-compose.yml ] && command -v docker >/dev/null 2>&1; then
    {_compose(config)} stop --timeout {APP_STOP_TIMEOUT_S} </dev/null
    echo "hetzner-platform resize: app stopped"
fi
sync
# A clean OS shutdown a few seconds after this session ends (systemd stops docker, flushes and unmounts).
systemd-run --quiet --unit={POWEROFF_UNIT} --on-active={POWEROFF_DELAY_S} systemctl poweroff </dev/null
echo "hetzner-platform resize: powering off in {POWEROFF_DELAY_S} s for the type change"
"""


def start_after_resize_script(config: StackConfig, server: str) -> str:
    current = shlex.quote(current_release_dir(config.project))
    return f"""#!/usr/bin/env bash
# hetzner-platform: {server} is back after its type change; start the app stopped before it.
set -euo pipefail
if [ -e {current}/docker-compose.yml ] && command -v docker >/dev/null 2>&1; then
    {_compose(config)} start </dev/null
    echo "hetzner-platform resize: app started"
fi
"""
