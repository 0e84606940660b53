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
DOCKER_CONFIG_DIR = "/root/.docker"  # registry logins (app.registries): root only
ROLLBACK_BIN = f"{SBIN}/hp-rollback"  # links to the current release's copy
STEP_LOG_DIR = "/var/log/hetzner-platform"  # each host step's full output (render/redacted_step.py)

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

# ---- files the host steps install (render/host_*.py embeds them; each step's script receives the
# paths it names as HP_* values, so the templates under render/templates/host/ spell none of them) ----

# ssh: cloud-init writes the port drop-in and the socket override at first boot, the ssh step keeps them.
PORT_DROPIN = "/etc/ssh/sshd_config.d/00-hetzner-platform-port.conf"
HARDENING_DROPIN = "/etc/ssh/sshd_config.d/10-hetzner-platform.conf"
SOCKET_DROPIN = "/etc/systemd/system/ssh.socket.d/10-hetzner-platform-port.conf"

# base
TIMEZONE_FILE = "/etc/timezone"
CHRONY_FILE = "/etc/chrony/sources.d/hetzner-platform.sources"
TIMESYNCD_FILE = "/etc/systemd/timesyncd.conf.d/50-hetzner-platform.conf"
JOURNALD_FILE = "/etc/systemd/journald.conf.d/50-hetzner-platform.conf"
SYSCTL_FILE = "/etc/sysctl.d/90-hetzner-platform.conf"
MODULES_FILE = "/etc/modules-load.d/hetzner-platform.conf"
SWAP_UNIT = f"{UNIT_DIR}/swapfile.swap"

# docker
DOCKER_DAEMON_JSON = "/etc/docker/daemon.json"
DOCKER_PREFERENCES = "/etc/apt/preferences.d/docker-ce"
DOCKER_SOURCES = "/etc/apt/sources.list.d/docker.sources"
DOCKER_KEYRING = "/etc/apt/keyrings/docker.asc"

# fail2ban
FAIL2BAN_LOCAL = "/etc/fail2ban/fail2ban.d/hetzner-platform.local"
JAIL_LOCAL = "/etc/fail2ban/jail.d/hetzner-platform.local"

# firewall
UFW_AFTER_RULES = "/etc/ufw/after.rules"
UFW_AFTER6_RULES = "/etc/ufw/after6.rules"

# network (the floating IP): netplan on Ubuntu, ifupdown on Debian, else a systemd-networkd drop-in
# next to whichever .network file manages the interface (found at run time).
NETPLAN_FILE = "/etc/netplan/60-floating-ip.yaml"
IFUPDOWN_FILE = "/etc/network/interfaces.d/60-floating-ip.cfg"
NETWORKD_DROPIN_NAME = "60-floating-ip.conf"

# storage
FSTAB = "/etc/fstab"

# upgrades
AUTO_UPGRADES = "/etc/apt/apt.conf.d/20auto-upgrades"
UNATTENDED_UPGRADES = "/etc/apt/apt.conf.d/52hetzner-platform-unattended-upgrades"
NEEDRESTART_CONF = "/etc/needrestart/conf.d/50-hetzner-platform.conf"

def current_release_dir(project: str) -> str:
    """The `current` link of the app step: the live release's compose project."""
    return f"{releases_dir(project)}/current"
