"""The real host chain on a booted Debian 12 "Hetzner server" (issue #4 item 5).

One container for the whole module, provisioned by the REAL rendered user-data
(`render_user_data`) with sshd on the configured port 2222. Then every step of
`render.host_steps.host_steps` runs in order over SSH as the admin user, exactly like
pulumi-command's `remote.Command`: a new SSH connection per step, `sudo bash -s`, the script
on STDIN. Afterwards testinfra (over SSH) checks the effective state, the chain runs a second
time (every step must report `changed=0`), a TCP scan from the host side checks what is
reachable, and root and password logins must be refused.

The steps run with `HP_SKIP=docker,swap,mount` (how it reaches them: tests/e2e/step_runs.py); in this
container:
- `docker`: download.docker.com is unreachable (daemon.json and the apt pin are still written),
- `swap`: swapon would add swap to the HOST kernel (the swap unit is still installed),
- `mount`: there is no Hetzner volume device (the fstab line and directories are still written).
`packages`, `sysctl` and `network` are NOT skipped:
- the image carries every package the base step wants (see the `e2e_rootfs` override below),
- `sysctl -w` is safe, because `net.*` is per network namespace and the rest is read-only in nspawn,
- the floating IP goes onto the container's own `host0` (host.publicInterface = host0), inside
  its own namespace.

Run: `.venv/bin/pytest tests/e2e/test_host_chain.py -m e2e -q -s` (as root).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator

import paramiko
import pytest

from config.loader import validate_config
from render.cloud_init import render_user_data
from render.host_steps import STEP_ORDER, host_steps
from render.steps import HostRuntime
from spec.resources import resolve

from .conftest import BootHost, Report
from .host_chain import (
    ADMIN,
    ADMIN_PORT,
    FLOATING_IP,
    IMAGE_PACKAGES,
    PRIVATE_RANGE,
    PROBE_KEY,
    SERVER,
    SSH_PORT,
    VOLUME_ID,
    Chain,
    run_chain,
    stack_values,
)
from .port_scan import SCAN_TIMEOUT, SCAN_WORKERS, probe, tcp_scan
from .rootfs import Rootfs, ensure_rootfs
from .ssh import KeyPair, assert_safe_destination, connect
from .step_runs import step_table

pytestmark = pytest.mark.e2e

# TCP scan: ports 1-1024 and the usual service ports, 0.3 s per port, 64 at a time (about 5 s).
SCAN_PORTS = (*range(1, 1025), 2222, 3000, 5432, 6379, 8000, 8080, 9100, 9323)
LISTENER_PORTS = (80, 443, 5432)


# ----------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def e2e_rootfs(e2e_rootfs: Rootfs) -> Rootfs:
    """The harness image, plus whatever the rendered base step would apt-install (offline here)."""
    probe = validate_config(stack_values(PROBE_KEY, "10.213.0.1/32"))
    wanted = {*probe.host.packages(), *IMAGE_PACKAGES}
    if wanted <= set(e2e_rootfs.packages):
        return e2e_rootfs
    return ensure_rootfs(extra_packages=sorted(wanted))


@pytest.fixture(scope="module")
def chain(booted_host_module: BootHost, admin_key: KeyPair, report: Report) -> Chain:
    t0 = time.monotonic()
    # The user-data must not depend on the admin CIDRs (changing user_data replaces a server), so it
    # can be rendered before the container's address is known.
    user_data = render_user_data(validate_config(stack_values(admin_key.public_line, "203.0.113.0/24")))
    host = booted_host_module(user_data, admin_key, ssh_port=SSH_PORT)
    boot = round(time.monotonic() - t0, 2)
    # The test connects from the host side of the veth: that address is the admin network.
    config = validate_config(stack_values(admin_key.public_line, f"{host.host_ip}/32"))
    assert render_user_data(config) == user_data, "user-data changes with ssh.adminCidrs: that would replace servers"
    runtime = HostRuntime(volume_ids={"data": VOLUME_ID}, floating_ip=FLOATING_IP, private_ip="10.0.1.2")
    steps = host_steps(config, resolve(config), SERVER, runtime)
    t1 = time.monotonic()
    first = run_chain(host, steps, report)
    t2 = time.monotonic()
    second = run_chain(host, steps, report)
    t3 = time.monotonic()
    timings = report.timings  # the module's footer prints them, with what the tests add
    timings.update({"boot": boot, "first_run": round(t2 - t1, 2), "second_run": round(t3 - t2, 2)})
    report.lines += [
        f"container {host.name} at {host.ip}:{SSH_PORT} (host side {host.host_ip} on {host.iface}); boot {host.timings}",
        f"first run  ({timings['first_run']:.1f} s): {step_table(first)}",
        f"second run ({timings['second_run']:.1f} s): {step_table(second)}",
        f"step scripts run: {len(first) + len(second)}",
    ]
    return Chain(host, config, steps, first, second, report, timings)


# ---------------------------------------------------------------------------- the chain itself
def test_every_step_rendered_in_order(chain: Chain) -> None:
    # Every step exists for this stack (docker enabled, a volume, the floating IP on this server).
    assert [step.name for step in chain.steps] == list(STEP_ORDER)
    chain.report.check(f"{len(chain.steps)} steps rendered in order")


def test_first_run_succeeds(chain: Chain) -> None:
    failed = [run for run in chain.first if run.rc != 0 or run.changed is None]
    assert not failed, "\n".join(run.describe() for run in failed)
    # A fresh server: every step has something to do except waiting for cloud-init.
    assert all(run.changed for run in chain.first if run.name != "wait"), step_table(chain.first)
    # The container-impossible parts were skipped, and only those.
    skipped = [line for run in chain.first for line in run.lines("skipped: ")]
    assert len(skipped) == 3, skipped
    assert any("HP_SKIP=docker" in line for line in skipped)
    assert any("HP_SKIP=swap" in line for line in skipped)
    assert any("HP_SKIP=mount" in line for line in skipped)
    chain.report.check("first run: every step rc 0 with a summary line; only docker/swap/mount skipped")


def test_second_run_changes_nothing(chain: Chain) -> None:
    problems = [run for run in chain.second if run.rc != 0 or run.changed != 0]
    details = "\n".join(f"{run.name}: rc {run.rc}, changed {run.changed}: {run.lines('changed: ')}\n{run.stderr}" for run in problems)
    assert not problems, details
    chain.report.check("second run: every step rc 0 and changed=0")


def test_warnings_are_only_the_read_only_kernel_keys(chain: Chain) -> None:
    # The base step warns for sysctls nspawn does not let a container set (vm.*, fs.*, kernel.*) or
    # that do not exist in a network namespace (net.core.*). Anything else on stderr is a finding.
    allowed = re.compile(r"^warning: sysctl (-w )?[a-z0-9_.-]+(=.*failed \(kept .*\)| does not exist on this kernel; left to the file)$")
    unexpected = [
        f"{run.name}: {line}"
        for run in (*chain.first, *chain.second)
        for line in run.stderr.splitlines()
        if line.strip() and not allowed.match(line)
    ]
    assert not unexpected, "\n".join(unexpected)
    chain.report.check("no stderr output besides the read-only sysctl warnings")


# ------------------------------------------------------------------------------------- sshd
def sshd_effective(chain: Chain) -> dict[str, str]:
    out = chain.sudo(f"sshd -T -C user={ADMIN},host=localhost,addr={chain.host.host_ip}")
    settings: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        settings.setdefault(key, value)
    return settings


def test_sshd_effective_settings(chain: Chain) -> None:
    ssh = chain.config.host.ssh
    settings = sshd_effective(chain)
    expected = {
        "port": str(SSH_PORT),
        "permitrootlogin": "no",
        "passwordauthentication": "no",
        "kbdinteractiveauthentication": "no",
        "pubkeyauthentication": "yes",
        "authenticationmethods": "publickey",
        "permitemptypasswords": "no",
        "maxauthtries": str(ssh.max_auth_tries),
        "maxsessions": str(ssh.max_sessions),
        "logingracetime": str(ssh.login_grace_time_s),
        "allowusers": ADMIN,
        "ciphers": ",".join(ssh.ciphers),
        "kexalgorithms": ",".join(ssh.kex_algorithms),
        "macs": ",".join(ssh.macs),
        "clientaliveinterval": str(ssh.client_alive_interval_s),
        "clientalivecountmax": str(ssh.client_alive_count_max),
        "allowtcpforwarding": ssh.allow_tcp_forwarding,
        "allowagentforwarding": "no",
        "x11forwarding": "no",
        "permittunnel": "no",
        "permituserenvironment": "no",
    }
    actual = {key: settings.get(key) for key in expected}
    assert actual == expected
    host = chain.infra
    chain.report.commands += 3
    assert host.service("ssh").is_running
    assert host.socket(f"tcp://0.0.0.0:{SSH_PORT}").is_listening
    assert not host.socket("tcp://0.0.0.0:22").is_listening
    chain.report.check(f"sshd -T: {len(expected)} effective settings as rendered (port, root/password off, AllowUsers, crypto)")


# ------------------------------------------------------------------------------------- UFW
def expected_ufw_rules(admin: str) -> list[str]:
    """What `ufw show added` must list for this stack, written out by hand (not by the renderer)."""
    return [
        f"ufw allow from {admin} to any port {SSH_PORT} proto tcp comment 'ssh admin'",
        f"ufw limit {SSH_PORT}/tcp comment 'ssh'",
        "ufw allow 80/tcp comment 'http'",
        "ufw allow 443/tcp comment 'https'",
        f"ufw allow from {PRIVATE_RANGE} comment 'private network'",
        f"ufw allow from {admin} to any port {ADMIN_PORT} proto tcp comment 'admin port'",
    ]


def expected_docker_user(version: int, admin: str) -> list[str]:
    rules = [
        "-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        "-A DOCKER-USER -i lo -j RETURN",
        "-A DOCKER-USER -i docker0 -j RETURN",
        "-A DOCKER-USER -i br-+ -j RETURN",
    ]
    if version == 4:
        rules.append(f"-A DOCKER-USER -s {PRIVATE_RANGE} -j RETURN")
    rules += [
        "-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 80 --ctdir ORIGINAL -j RETURN",
        "-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 443 --ctdir ORIGINAL -j RETURN",
    ]
    if version == 4:
        rules.append(f"-A DOCKER-USER -s {admin}/32 -p tcp -m conntrack --ctorigdstport {ADMIN_PORT} --ctdir ORIGINAL -j RETURN")
    return [*rules, "-A DOCKER-USER -j DROP"]


def test_ufw_active_with_exactly_the_rendered_rules(chain: Chain) -> None:
    admin = chain.host.host_ip
    verbose = chain.sudo("ufw status verbose")
    assert "Status: active" in verbose, verbose
    assert "Default: deny (incoming), allow (outgoing), deny (routed)" in verbose, verbose
    added = [line for line in chain.sudo("ufw show added").splitlines() if line.startswith("ufw ")]
    assert sorted(added) == sorted(expected_ufw_rules(admin))

    # The running rule table: the admin rule comes before the rate limit (admins are not limited),
    # and nothing else is open. Rules without a source also exist for IPv6.
    numbered = chain.sudo("ufw status numbered")
    table = [re.sub(r"\s{2,}", " | ", line.split("]", 1)[1].strip()) for line in numbered.splitlines() if line.startswith("[")]
    assert table == [
        f"{SSH_PORT}/tcp | ALLOW IN | {admin} | # ssh admin",
        f"{SSH_PORT}/tcp | LIMIT IN | Anywhere | # ssh",
        "80/tcp | ALLOW IN | Anywhere | # http",
        "443/tcp | ALLOW IN | Anywhere | # https",
        f"Anywhere | ALLOW IN | {PRIVATE_RANGE} | # private network",
        f"{ADMIN_PORT}/tcp | ALLOW IN | {admin} | # admin port",
        f"{SSH_PORT}/tcp (v6) | LIMIT IN | Anywhere (v6) | # ssh",
        "80/tcp (v6) | ALLOW IN | Anywhere (v6) | # http",
        "443/tcp (v6) | ALLOW IN | Anywhere (v6) | # https",
    ], numbered

    # The kernel's view: DROP policies and the DOCKER-USER chain from after.rules / after6.rules.
    for version, tool in ((4, "iptables-save"), (6, "ip6tables-save")):
        saved = chain.sudo(f"{tool} -t filter")
        for chain_name in ("INPUT", "FORWARD"):
            assert re.search(rf"^:{chain_name} DROP ", saved, re.MULTILINE), f"{tool}: {chain_name} policy is not DROP\n{saved}"
        docker_user = [line for line in saved.splitlines() if line.startswith("-A DOCKER-USER")]
        assert docker_user == expected_docker_user(version, admin), f"{tool}\n" + "\n".join(docker_user)
    chain.report.check("ufw active, deny/allow/deny, exactly 6 rules (9 with v6), admin rule before the limit")
    chain.report.check("DOCKER-USER chain exactly as rendered in iptables-save and ip6tables-save")


# --------------------------------------------------------------------------------- fail2ban
def test_fail2ban_jails(chain: Chain) -> None:
    f2b = chain.config.host.fail2ban
    host = chain.infra
    chain.report.commands += 2
    assert host.service("fail2ban").is_running
    assert host.service("fail2ban").is_enabled
    status = chain.sudo("fail2ban-client status")
    jails = re.search(r"Jail list:\s*(.*)", status)
    assert jails is not None and sorted(j.strip() for j in jails.group(1).split(",")) == ["recidive", "sshd"], status
    sshd = chain.sudo("fail2ban-client status sshd")
    # The systemd backend: journal matches instead of a log file (Debian 12 has no auth.log).
    assert "Journal matches:" in sshd and "_COMM=sshd" in sshd, sshd

    def get(jail: str, *what: str) -> str:
        return chain.sudo(f"fail2ban-client get {jail} {' '.join(what)}").strip()

    assert get("sshd", "action", "iptables-multiport", "port") == str(SSH_PORT)
    assert get("sshd", "maxretry") == str(f2b.maxretry)
    assert get("sshd", "bantime") == str(f2b.bantime_s)
    assert get("sshd", "findtime") == str(f2b.findtime_s)
    assert get("recidive", "maxretry") == str(f2b.recidive_maxretry)
    assert get("recidive", "bantime") == str(f2b.recidive_bantime_s)
    assert get("recidive", "findtime") == str(f2b.recidive_findtime_s)
    assert "iptables-allports" in get("recidive", "actions")
    chain.report.check(f"fail2ban running: jails sshd (port {SSH_PORT}, systemd backend) and recidive, values as configured")


# ------------------------------------------------------------------------ unattended-upgrades
def apt_config(chain: Chain) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in chain.sudo("apt-config dump").splitlines():
        match = re.match(r'^(\S+) "(.*)";$', line)
        if match:
            values.setdefault(match.group(1), []).append(match.group(2))
    return values


def test_unattended_upgrades(chain: Chain) -> None:
    apt = apt_config(chain)
    assert apt.get("APT::Periodic::Update-Package-Lists") == ["1"]
    assert apt.get("APT::Periodic::Unattended-Upgrade") == ["1"]
    assert apt.get("Unattended-Upgrade::Automatic-Reboot") == ["false"]
    # The distribution's origin lists are replaced by security origins only.
    assert "Unattended-Upgrade::Allowed-Origins::" not in apt, apt.get("Unattended-Upgrade::Allowed-Origins::")
    origins = apt.get("Unattended-Upgrade::Origins-Pattern::", [])
    assert origins and all("security" in origin.lower() for origin in origins), origins
    blacklist = apt.get("Unattended-Upgrade::Package-Blacklist::", [])
    for package in ("docker-ce", "docker-ce-cli", "containerd.io", "docker-compose-plugin"):
        assert any(re.fullmatch(pattern, package) for pattern in blacklist), (package, blacklist)
    # Anchored patterns: unrelated packages are still upgraded.
    assert not any(re.fullmatch(pattern, "docker-ce-foo") or re.fullmatch(pattern, "openssl") for pattern in blacklist)
    host = chain.infra
    chain.report.commands += 2
    assert host.service("apt-daily.timer").is_enabled
    assert host.service("apt-daily-upgrade.timer").is_enabled
    chain.report.check(f"unattended-upgrades: periodic 1/1, security origins only, {len(blacklist)} Docker packages blacklisted")


# -------------------------------------------------------------------------------- sysctl etc.
def test_sysctl_file_and_runtime_values(chain: Chain) -> None:
    wanted = chain.config.host.sysctl_settings()
    path = "/etc/sysctl.d/90-hetzner-platform.conf"
    in_file = {}
    for line in chain.sudo(f"cat {path}").splitlines():
        if line.strip() and not line.lstrip().startswith(("#", ";")):
            key, _, value = line.partition("=")
            in_file[key.strip()] = value.strip()
    # The file holds every setting, the vm.* ones included (a container may not set those).
    assert in_file == wanted
    assert in_file["vm.swappiness"] == "10" and in_file["vm.overcommit_memory"] == "1"
    # net.* lives in the container's network namespace: every key the namespace lets root write is set.
    names = [key for key in wanted if key.startswith("net.")]
    probe_script = "".join(
        f'p=/proc/sys/{key.replace(".", "/")}; if [ ! -e "$p" ]; then echo "absent {key}"; '
        f'elif [ -w "$p" ]; then echo "rw {key} $(cat "$p")"; else echo "ro {key} $(cat "$p")"; fi\n'
        for key in names
    )
    chain.report.commands += 1
    res = chain.host.admin.run_script(probe_script)
    assert res.rc == 0, res
    state: dict[str, list[str]] = {"rw": [], "ro": [], "absent": []}
    runtime: dict[str, str] = {}
    for line in res.stdout.splitlines():
        kind, key, *values = line.split()
        state[kind].append(key)
        runtime[key] = " ".join(values)
    settable = {key: runtime[key] for key in state["rw"]}
    assert settable == {key: " ".join(wanted[key].split()) for key in settable}
    assert settable.get("net.ipv4.ip_forward") == "1"
    assert len(settable) >= 15, state
    chain.report.check(f"sysctl file: {len(in_file)} settings; runtime: all {len(settable)} writable net.* keys as rendered, ip_forward=1")
    chain.report.lines.append(
        "sysctl net.* not settable in a child network namespace (file only): "
        f"read-only {state['ro'] or 'none'}, absent {state['absent'] or 'none'}"
    )


def test_docker_daemon_json_and_pin(chain: Chain) -> None:
    docker = chain.config.host.docker
    daemon = json.loads(chain.sudo("cat /etc/docker/daemon.json"))
    assert daemon["log-driver"] == "json-file"
    assert daemon["log-opts"] == {"max-size": docker.log_max_size, "max-file": str(docker.log_max_file)}
    assert daemon["live-restore"] is True
    assert daemon["userland-proxy"] is False
    assert daemon["metrics-addr"] == "127.0.0.1:9323"
    assert daemon["default-ulimits"]["nofile"]["Soft"] == daemon["default-ulimits"]["nofile"]["Hard"] > 1024
    # Exactly what the step rendered, byte for byte.
    assert chain.sudo("cat /etc/docker/daemon.json") == chain.step("docker").files["/etc/docker/daemon.json"]
    pin = chain.sudo("cat /etc/apt/preferences.d/docker-ce")
    assert f"Pin: version 5:{docker.major}.*" in pin and "Pin-Priority: 1001" in pin
    chain.report.check("daemon.json (log rotation, live-restore, no userland proxy, local metrics) and the Docker CE major pin")


def test_fstab_volume_by_id_nofail(chain: Chain) -> None:
    fstab = chain.sudo("cat /etc/fstab")
    device = f"/dev/disk/by-id/scsi-0HC_Volume_{VOLUME_ID}"
    lines = [line.split() for line in fstab.splitlines() if line.split()[:1] == [device]]
    assert len(lines) == 1, fstab
    _, mount_point, fstype, options, dump, passno = lines[0]
    assert (mount_point, fstype, dump, passno) == ("/mnt/data", "ext4", "0", "2")
    assert "nofail" in options.split(","), options
    assert "x-systemd.device-timeout=30s" in options.split(","), options
    # fstab still parses (findmnt exits 1 for the missing device, so count parse errors instead).
    verify = chain.run("findmnt --verify --tab-file /etc/fstab")
    assert not re.search(r"[1-9]\d* parse error", verify.stdout + verify.stderr), verify
    host = chain.infra
    chain.report.commands += 2
    for sub in chain.config.host.volume_data_dirs:
        assert host.file(f"/mnt/data/{sub}").is_directory
    assert not host.mount_point("/mnt/data").exists  # HP_SKIP=mount: nothing mounted on the host kernel
    chain.report.check(f"fstab: {device} on /mnt/data ext4 with nofail, parses; data dirs created")


def test_floating_ip_debian_config_and_address(chain: Chain) -> None:
    cfg = chain.sudo("cat /etc/network/interfaces.d/60-floating-ip.cfg")
    assert "auto host0:1" in cfg and "iface host0:1 inet static" in cfg, cfg
    assert re.search(rf"^\s+address {re.escape(FLOATING_IP)}$", cfg, re.MULTILINE), cfg
    assert re.search(r"^\s+netmask 32$", cfg, re.MULTILINE), cfg
    # The Debian variant only: no netplan file on a host without netplan.
    assert chain.run("test -e /etc/netplan/60-floating-ip.yaml").rc == 1
    # ifupdown reads it at boot, and the address is live on the interface now.
    assert "source /etc/network/interfaces.d/*" in chain.sudo("cat /etc/network/interfaces")
    assert f" {FLOATING_IP}/32 " in chain.run("ip -o -4 addr show dev host0").stdout
    chain.report.check(f"floating IP {FLOATING_IP}: /etc/network/interfaces.d/60-floating-ip.cfg and live on host0")


# ------------------------------------------------------------------------------------ port scan
@pytest.fixture(scope="module")
def listeners(chain: Chain) -> Iterator[tuple[int, ...]]:
    """Throwaway listeners inside the container (transient units of ITS systemd) on 80, 443, 5432."""
    units = []
    for port in LISTENER_PORTS:
        unit = f"hp-e2e-listen-{port}"
        chain.sudo(f"systemd-run --quiet --collect --unit {unit} python3 -m http.server --bind 0.0.0.0 {port}")
        units.append(unit)
    deadline = time.monotonic() + 20
    ports = ":(" + "|".join(map(str, LISTENER_PORTS)) + ")"
    while True:
        listening = set(map(int, re.findall(rf"0\.0\.0\.0{ports}\s", chain.run("ss -Hltn").stdout)))
        if listening >= set(LISTENER_PORTS):
            break
        assert time.monotonic() < deadline, f"listeners not up: {listening}"
        time.sleep(0.2)
    yield LISTENER_PORTS
    for unit in units:
        # From inside (nsenter), not over SSH: a failed ban test may have left this address banned.
        chain.host.nsenter(["systemctl", "stop", unit])


def test_port_scan_before_listeners(chain: Chain) -> None:
    # Nothing listens on 80/443 yet (no Docker here): only SSH is open.
    found = tcp_scan(chain.host, (22, 80, 443, SSH_PORT, 5432))
    assert {port for port, state in found.items() if state == "open"} == {SSH_PORT}, found
    chain.report.check("before the listeners: only 2222 open")


def test_port_scan(chain: Chain, listeners: tuple[int, ...]) -> None:
    # Inside the container all three listeners answer: the firewall alone decides what the scan sees.
    for port in listeners:
        assert chain.run(f"python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 2).close()'").rc == 0
    started = time.monotonic()
    found = tcp_scan(chain.host, SCAN_PORTS)
    seconds = round(time.monotonic() - started, 2)
    by_state: dict[str, list[int]] = {}
    for port, state in found.items():
        by_state.setdefault(state, []).append(port)
    opened = sorted(by_state.get("open", []))
    others = "; ".join(f"{state} {len(ports)}" for state, ports in sorted(by_state.items()) if state not in ("open", "refused"))
    chain.report.lines.append(
        f"port scan of {chain.host.ip} ({len(found)} ports, {seconds} s, {SCAN_TIMEOUT} s timeout, {SCAN_WORKERS} threads): "
        f"open {opened}; refused {sorted(by_state.get('refused', []))}; {others}"
    )
    assert opened == [80, 443, SSH_PORT], by_state
    assert found[5432] == "timeout", "UFW must drop 5432 silently"  # the listener is there, UFW drops it
    assert found[22] == "timeout"
    # Allowed for the admin network but nothing listens: the kernel refuses instead of UFW dropping.
    assert found[ADMIN_PORT] == "refused"
    assert set(by_state) <= {"open", "timeout", "refused"}, by_state
    assert by_state.get("refused", []) == [ADMIN_PORT], by_state
    chain.report.check(f"port scan: open exactly {opened}; 5432 (listening) dropped; {ADMIN_PORT} admin-only refused")


# ---------------------------------------------------------------------------- login refusals
def test_root_login_refused(chain: Chain, admin_key: KeyPair) -> None:
    # Root holds the admin key (Hetzner puts the server's keys there): the refusal is sshd's doing.
    assert admin_key.public_line.split()[1] in chain.sudo("cat /root/.ssh/authorized_keys")
    with pytest.raises(paramiko.AuthenticationException):
        connect(chain.host.ip, SSH_PORT, "root", admin_key.pkey).close()
    chain.report.check("root with the admin key: AuthenticationException")


def test_password_login_refused(chain: Chain) -> None:
    # Give deploy a real password first, so a refusal cannot be a wrong password.
    chain.sudo("sh -c 'echo deploy:Hp-e2e-Passw0rd | chpasswd && usermod -U deploy'")
    assert_safe_destination(chain.host.ip)
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        with pytest.raises(paramiko.AuthenticationException) as refused:
            client.connect(
                chain.host.ip,
                port=SSH_PORT,
                username=ADMIN,
                password="Hp-e2e-Passw0rd",
                allow_agent=False,
                look_for_keys=False,
                timeout=10,
            )
    finally:
        client.close()
        chain.sudo("passwd -l deploy")
    if isinstance(refused.value, paramiko.BadAuthenticationType):
        assert refused.value.allowed_types == ["publickey"]
    chain.report.check(f"password login as {ADMIN}: refused ({type(refused.value).__name__})")


def test_fail2ban_bans_on_the_ssh_port(chain: Chain, admin_key: KeyPair) -> None:
    """Last test of the module: repeated refused logins get the test's own address banned."""
    f2b = chain.config.host.fail2ban
    host = chain.host
    # Generous: on a loaded machine fail2ban reads the journal late, and a login attempt that times
    # out before authentication leaves no "refused" line to count, so attempts go on until the ban.
    deadline = time.monotonic() + 120
    attempts = 0
    banned = status = ""
    try:
        while time.monotonic() < deadline:
            status = host.nsenter(["fail2ban-client", "status", "sshd"]).stdout
            if host.host_ip in status:
                banned = status
                break
            if attempts < 4 * f2b.maxretry:
                attempts += 1
                with contextlib.suppress(paramiko.SSHException, OSError):
                    connect(host.ip, SSH_PORT, "root", admin_key.pkey, timeout=10).close()
            time.sleep(1)
        journal = host.nsenter(["journalctl", "-u", "ssh", "-u", "fail2ban", "-n", "40", "--no-pager"]).stdout
        assert banned, f"{host.host_ip} not banned after {attempts} refused logins:\n{status}\n{journal}"
        assert probe(host.ip, SSH_PORT, timeout=2) != "open"
    finally:
        # Always lift the ban: the module's teardown still talks to the host.
        host.nsenter(["fail2ban-client", "set", "sshd", "unbanip", host.host_ip])
    assert probe(host.ip, SSH_PORT, timeout=2) == "open"
    chain.report.check(f"fail2ban banned {host.host_ip} on {SSH_PORT} after {attempts} refused logins (then unbanned)")
