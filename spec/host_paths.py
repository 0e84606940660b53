"""Where the platform's things live on a host: directories, files, installed scripts, unit and container
names. The renderers and the guards read them here, and the bash templates receive them as variables
(ops.conf, the step scripts), so each is written once."""

from __future__ import annotations

from config.path_checks import releases_dir as releases_dir  # /opt/<project>: the releases and their env file

SBIN = "/usr/local/sbin"
UNIT_DIR = "/etc/systemd/system"
ETC_DIR = "/etc/hetzner-platform"
CONF_PATH = f"{ETC_DIR}/ops.conf"
ENV_PATH = f"{ETC_DIR}/ops.env"
STORAGEBOX_KEY_PATH = f"{ETC_DIR}/storagebox_ed25519"
STORAGEBOX_SSH_CONFIG = f"{ETC_DIR}/storagebox_ssh_config"
MONITORING_DIR = f"{ETC_DIR}/monitoring"
STATE_DIR = "/var/lib/hetzner-platform"
STATE_FILE = f"{STATE_DIR}/backup-state.json"
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
DOCKER = "/usr/bin/docker"

SCRIPTS = ("hp-pg", "hp-backup", "hp-restore-drill", "hp-restore", "hp-cleanup", "hp-alert-check", "hp-alert-send")
TIMER_UNITS = ("hp-backup-hourly", "hp-backup-daily", "hp-restore-drill", "hp-cleanup", "hp-alert-check")
# Every unit this step may ever install: ones no longer rendered are disabled and removed.
ALL_UNITS = (
    *(f"{name}.{suffix}" for name in TIMER_UNITS for suffix in ("service", "timer")),
    "hp-alert@.service",
    "hp-node-exporter.service",
    "hp-monitoring.service",
)
DRILL_CONTAINER = "hp-restore-drill"

# sshd and its socket: cloud-init writes the first and the last at first boot, the ssh step keeps them.
# render/templates/host/ssh.sh lists the sshd ones in HP_SSHD_FILES (tests/unit/test_host_paths.py).
PORT_DROPIN = "/etc/ssh/sshd_config.d/00-hetzner-platform-port.conf"
HARDENING_DROPIN = "/etc/ssh/sshd_config.d/10-hetzner-platform.conf"
SOCKET_DROPIN = "/etc/systemd/system/ssh.socket.d/10-hetzner-platform-port.conf"

def current_release_dir(project: str) -> str:
    """The `current` link of the app step: the live release's compose project."""
    return f"{releases_dir(project)}/current"
