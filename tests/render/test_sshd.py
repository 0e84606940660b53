"""sshd validates the rendered drop-ins at their real path (sshd -t) and shows the effective values
(sshd -T); the ssh step itself runs in the sandbox, keeps a valid config and rolls back a broken one.

The validator runs inside `unshare --mount` with a private /run (for /run/sshd) and a throwaway host
key; the drop-in directory is bind-mounted over /etc/ssh/sshd_config.d only inside that namespace.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from render.host_ssh import HARDENING_DROPIN, PORT_DROPIN
from render.steps import HostStep
from tests.prerequisites import require_root, require_tool
from tests.render.conftest import Sandbox, run, summary, write_tree

pytestmark = pytest.mark.render

# Like Ubuntu 24.04's and Debian 12's sshd_config: the include comes first, then distro defaults
# that the drop-ins must win against.
MAIN_CONFIG = """\
Include /etc/ssh/sshd_config.d/*.conf
HostKey {hostkey}
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding yes
PrintMotd no
PasswordAuthentication yes
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
"""


def sshd(dropins: dict[str, str], tmp_path: Path, host_keys: Path, user: str = "deploy") -> tuple[int, str, str]:
    """(rc, sshd -t output, sshd -T output) for these drop-ins at /etc/ssh/sshd_config.d."""
    require_root()
    require_tool("sshd", "unshare")
    dropin_dir = tmp_path / "sshd_config.d"
    dropin_dir.mkdir()
    for path, content in dropins.items():
        (dropin_dir / Path(path).name).write_text(content, encoding="utf-8")
    main = tmp_path / "sshd_config"
    main.write_text(MAIN_CONFIG.format(hostkey=host_keys / "ssh_host_ed25519_key"), encoding="utf-8")
    sshd_bin = "/usr/sbin/sshd"
    script = (
        f"mount --bind {dropin_dir} /etc/ssh/sshd_config.d && "
        "mount -t tmpfs tmpfs /run && mkdir -m 755 /run/sshd && "
        f"{sshd_bin} -t -f {main} > /run/t.out 2>&1; rc=$?; cat /run/t.out; echo @@; "
        f'[ "$rc" = 0 ] && {sshd_bin} -T -f {main} -C user={user},host=client.example,addr=203.0.113.7; exit $rc'
    )
    result = run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script])
    check, _, effective = result.stdout.partition("@@\n")
    return result.returncode, check + result.stderr, effective


def effective_values(output: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in output.splitlines():
        key, _, value = line.partition(" ")
        values.setdefault(key, value)
    return values


def test_sshd_accepts_dropins_and_they_win(files: dict[str, str], tmp_path: Path, host_keys: Path) -> None:
    dropins = {path: files[path] for path in (PORT_DROPIN, HARDENING_DROPIN)}
    rc, check, output = sshd(dropins, tmp_path, host_keys)
    assert rc == 0, check
    assert check.strip() == ""
    values = effective_values(output)
    assert values["port"] == "2222"
    assert values["passwordauthentication"] == "no"  # the main file says yes: the drop-in wins
    assert values["permitrootlogin"] == "no"
    assert values["kbdinteractiveauthentication"] == "no"
    assert values["pubkeyauthentication"] == "yes"
    assert values["authenticationmethods"] == "publickey"
    assert values["maxauthtries"] == "3"
    assert values["logingracetime"] == "30"
    assert values["allowusers"] == "deploy"
    assert values["x11forwarding"] == "no"  # the main file says yes
    assert values["allowagentforwarding"] == "no"
    assert values["allowtcpforwarding"] == "local"
    assert values["permitemptypasswords"] == "no"
    assert values["clientaliveinterval"] == "300"
    assert values["loglevel"] == "VERBOSE"
    assert values["kexalgorithms"].split(",")[:3] == [
        "sntrup761x25519-sha512@openssh.com", "curve25519-sha256", "curve25519-sha256@libssh.org",
    ]  # fmt: skip
    assert "diffie-hellman-group14-sha1" not in values["kexalgorithms"]
    assert values["ciphers"].startswith("chacha20-poly1305@openssh.com,aes256-gcm@openssh.com")
    assert "cbc" not in values["ciphers"]
    assert values["macs"] == "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com"


def test_sshd_rejects_broken_dropin(files: dict[str, str], tmp_path: Path, host_keys: Path) -> None:
    broken = files[HARDENING_DROPIN].replace("PasswordAuthentication no", "PasswordAuthentification no")
    rc, check, _ = sshd({PORT_DROPIN: files[PORT_DROPIN], HARDENING_DROPIN: broken}, tmp_path, host_keys)
    assert rc == 255
    assert "Bad configuration option: PasswordAuthentification" in check


def test_sshd_rejects_bad_value(files: dict[str, str], tmp_path: Path, host_keys: Path) -> None:
    broken = files[HARDENING_DROPIN].replace("MaxAuthTries 3", "MaxAuthTries lots")
    rc, check, _ = sshd({HARDENING_DROPIN: broken}, tmp_path, host_keys)
    assert rc == 255
    assert "integer value invalid" in check


# --- the ssh step for real, in the sandbox --------------------------------------------------------
def test_ssh_step_installs_validates_and_is_idempotent(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    result = sandbox.run(steps["ssh"].script, runs=2)
    assert result.returncode == 0, result.output
    first, second = result.runs
    assert summary(first)["changed"] == "3"
    assert "validated: sshd -t and sshd -T" in first
    assert "skipped: sshd reload (systemd is not running)" in first
    assert summary(second) == {"step": "ssh", "changed": "0"}
    assert f"unchanged: {HARDENING_DROPIN}" in second
    for path, content in steps["ssh"].files.items():
        installed = sandbox.upper(path)
        assert installed.read_text(encoding="utf-8") == content
        assert oct(installed.stat().st_mode & 0o777) == "0o644"


def test_ssh_step_keeps_cloud_init_files_unchanged(steps: dict[str, HostStep], files: dict[str, str], sandbox: Sandbox) -> None:
    """After cloud-init wrote its two files, the ssh step changes only the hardening drop-in."""
    sandbox.seed(PORT_DROPIN, files[PORT_DROPIN])
    socket = "/etc/systemd/system/ssh.socket.d/10-hetzner-platform-port.conf"
    sandbox.seed(socket, files[socket])
    result = sandbox.run(steps["ssh"].script)
    assert result.returncode == 0, result.output
    assert f"unchanged: {PORT_DROPIN}" in result.stdout
    assert f"unchanged: {socket}" in result.stdout
    assert summary(result.stdout)["changed"] == "1"


def test_ssh_step_rolls_back_a_config_sshd_rejects(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    """A drop-in sshd rejects is never left in place: the previous files come back, the step fails."""
    good = steps["ssh"].files[HARDENING_DROPIN]
    sandbox.seed(HARDENING_DROPIN, good)
    broken_script = steps["ssh"].script.replace("\nMaxAuthTries 3\n", "\nMaxAuthTries lots\n")
    assert broken_script != steps["ssh"].script
    result = sandbox.run(broken_script)
    assert result.returncode == 1, result.output
    assert "sshd -t rejected the configuration" in result.stderr
    assert f"restored: {HARDENING_DROPIN}" in result.stdout
    assert "hetzner-platform step=ssh failed" in result.stderr
    assert sandbox.upper(HARDENING_DROPIN).read_text(encoding="utf-8") == good
    assert not sandbox.upper(PORT_DROPIN).exists()  # it did not exist before: removed again


def test_ssh_step_refuses_an_overridden_setting(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    """A drop-in sorting before ours would win silently; the step notices and rolls back."""
    sandbox.seed("/etc/ssh/sshd_config.d/00-aaa-local.conf", "PasswordAuthentication yes\n")
    result = sandbox.run(steps["ssh"].script)
    assert result.returncode == 1, result.output
    assert "effective sshd setting is not 'passwordauthentication no'" in result.stderr


def test_write_tree_helper(tmp_path: Path) -> None:
    root = write_tree(tmp_path, {"/etc/x/y.conf": "a\n"})
    assert (root / "etc/x/y.conf").read_text() == "a\n"
