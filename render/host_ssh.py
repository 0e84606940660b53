"""The ssh step (sshd hardening drop-in) and the sshd files cloud-init writes at first boot.

The port drop-in and the ssh.socket override are rendered here once: cloud-init writes them at first
boot (render/cloud_init.py) and the ssh step keeps exactly the same bytes, so it reports them unchanged.
"""

from __future__ import annotations

from config.schema import StackConfig
from render.host_script import HostFile, build_step, host_file
from render.steps import HostStep
from spec.host_paths import HARDENING_DROPIN, PORT_DROPIN, SOCKET_DROPIN


def allow_users(config: StackConfig) -> list[str]:
    users = [config.ssh.admin_user, *config.host.ssh.extra_allow_users]
    return list(dict.fromkeys(users))


def port_dropin(config: StackConfig) -> HostFile:
    return host_file(PORT_DROPIN, ssh_port=config.ssh.port)


def socket_dropin(config: StackConfig) -> HostFile:
    return host_file(SOCKET_DROPIN, ssh_port=config.ssh.port)


def hardening_dropin(config: StackConfig) -> HostFile:
    ssh = config.host.ssh
    return host_file(
        HARDENING_DROPIN,
        allow_users=" ".join(allow_users(config)),
        max_auth_tries=ssh.max_auth_tries,
        max_sessions=ssh.max_sessions,
        login_grace_time=ssh.login_grace_time_s,
        ciphers=",".join(ssh.ciphers),
        kex_algorithms=",".join(ssh.kex_algorithms),
        macs=",".join(ssh.macs),
        client_alive_interval=ssh.client_alive_interval_s,
        client_alive_count_max=ssh.client_alive_count_max,
        allow_tcp_forwarding=ssh.allow_tcp_forwarding,
    )


def ssh_step(config: StackConfig, server: str) -> HostStep:
    return build_step(
        "ssh",
        server=server,
        values={
            "HP_SSH_PORT": config.ssh.port,
            "HP_ADMIN_USER": config.ssh.admin_user,
            "HP_SSHD_FILES": [PORT_DROPIN, HARDENING_DROPIN],
            "HP_SSH_SOCKET_DROPIN": SOCKET_DROPIN,
        },
        files=[port_dropin(config), hardening_dropin(config), socket_dropin(config)],
    )
