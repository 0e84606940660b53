"""The fail2ban step: sshd jail on the configured port (seed 004's values, docs/sources.md) and the recidive jail."""

from __future__ import annotations

from config.schema import StackConfig
from render.host_script import HostFile, build_step, host_file
from render.steps import HostStep
from spec.host_paths import FAIL2BAN_LOCAL, JAIL_LOCAL


def fail2ban_files(config: StackConfig) -> list[HostFile]:
    f2b = config.host.fail2ban
    ignoreip = " ".join(["127.0.0.1/8", "::1", *f2b.ignore_cidrs])
    jail = host_file(
        JAIL_LOCAL,
        ssh_port=config.ssh.port,
        maxretry=f2b.maxretry,
        bantime=f2b.bantime_s,
        findtime=f2b.findtime_s,
        ignoreip=ignoreip,
        recidive_maxretry=f2b.recidive_maxretry,
        recidive_bantime=f2b.recidive_bantime_s,
        recidive_findtime=f2b.recidive_findtime_s,
    )
    # Bans survive a restart while the database still holds them: keep entries as long as the longest ban.
    dbpurgeage = max(f2b.bantime_s, f2b.recidive_bantime_s) + 86400
    return [
        host_file(FAIL2BAN_LOCAL, dbpurgeage=dbpurgeage),
        jail,
    ]


def fail2ban_step(config: StackConfig, server: str) -> HostStep:
    return build_step(
        "fail2ban",
        server=server,
        values={"HP_F2B_FILES": [FAIL2BAN_LOCAL, JAIL_LOCAL]},
        files=fail2ban_files(config),
    )
