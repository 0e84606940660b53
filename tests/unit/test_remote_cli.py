"""`hetzner-platform ssh|logs|exec|status`: the exact ssh argv built from the stack outputs, the errors, and
one real run against an sshd the test starts on 127.0.0.1 inside its own network and mount namespace (the
machine's own sshd, network and /run are never touched)."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli.remote import RemoteError, Request, StackOutputs, build_commands
from config.loader import validate_config
from spec.app_output import app_output
from tests.prerequisites import require, require_tool
from tests.stacks import PHASE2, PROD, variant

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ("sudo docker compose --project-name chrono --project-directory /opt/chrono/current "
           "--file /opt/chrono/current/docker-compose.yml --env-file /opt/chrono/current/.env")
APP = {"services": {
    "web": {"image": "ghcr.io/acme/shop", "limits": {"cpus": 1, "memory": "512M"}},
    "worker": {"image": "ghcr.io/acme/shop", "role": "worker", "limits": {"cpus": 1, "memory": "512M"}},
}, "release": "1.4.3"}


def outputs_for(values: dict[str, Any], addresses: dict[str, str]) -> StackOutputs:
    """Outputs as `pulumi up` exports them (the `app` part from the real code)."""
    config = validate_config(values)
    return StackOutputs({
        "servers": {name: {"ipv4": addresses[name]} for name in config.servers},
        "ssh": {"port": config.ssh.port, "adminUser": config.ssh.admin_user},
        "app": app_output(config),
    })


PHASE2_APP = variant(PHASE2, app=APP, loadBalancer=None, dns=None, floatingIp=None)
ADDRESSES = {"web": "198.51.100.10", "db": "198.51.100.11", "worker": "198.51.100.12"}


def test_the_release_tags_untagged_images_and_is_in_the_outputs() -> None:
    outputs = outputs_for(PHASE2_APP, ADDRESSES)
    assert outputs.values["app"]["release"] == "1.4.3"
    assert outputs.values["app"]["images"] == {"web": "ghcr.io/acme/shop:1.4.3", "worker": "ghcr.io/acme/shop:1.4.3"}
    assert outputs.values["app"]["services"] == {"web": ["web"], "worker": ["worker"]}


@pytest.mark.parametrize(("request_", "expected"), [
    (Request("ssh"), ["ssh -p 2222 deploy@198.51.100.10"]),
    (Request("ssh", server="db", identity="/k/id"), ["ssh -p 2222 -i /k/id deploy@198.51.100.11"]),
    (Request("logs", service="worker", follow=True, since="1h"),
     [f"ssh -p 2222 deploy@198.51.100.12 '{COMPOSE} logs --timestamps --tail 200 --since 1h --follow worker'"]),
    (Request("exec", service="web", args=("python", "manage.py", "shell")),
     [f"ssh -p 2222 -t deploy@198.51.100.10 '{COMPOSE} exec web python manage.py shell'"]),
    (Request("exec", service="web", tty=False), [f"ssh -p 2222 deploy@198.51.100.10 '{COMPOSE} exec --no-TTY web sh'"]),
    (Request("status"), [f"ssh -p 2222 deploy@198.51.100.10 '{COMPOSE} ps --all'",
                         f"ssh -p 2222 deploy@198.51.100.12 '{COMPOSE} ps --all'"]),
    (Request("status", service="worker", ssh_options=("ProxyJump=bastion",)),
     [f"ssh -p 2222 -o ProxyJump=bastion deploy@198.51.100.12 '{COMPOSE} ps --all worker'"]),
])
def test_the_exact_ssh_argv(request_: Request, expected: list[str]) -> None:
    commands = build_commands(outputs_for(PHASE2_APP, ADDRESSES), request_)
    assert [shlex.join(argv) for argv in commands] == expected


def test_the_remote_words_survive_the_remote_shell() -> None:
    """The last argv element is what the remote shell parses: it gives back the exact words."""
    request = Request("exec", service="web", args=("sh", "-c", "echo \"$HOME\" 'x y' ; true"))
    argv = build_commands(outputs_for(PHASE2_APP, ADDRESSES), request)[0]
    assert shlex.split(argv[-1])[-3:] == ["sh", "-c", "echo \"$HOME\" 'x y' ; true"]


@pytest.mark.parametrize(("request_", "message"), [
    (Request("logs", service="nope"), "no service named 'nope' (services: web, worker)"),
    (Request("logs", service="web", server="db"), "'web' does not run on 'db' (it runs on web)"),
    (Request("ssh", server="nope"), "no server named 'nope'"),
])
def test_mistakes_are_named(request_: Request, message: str) -> None:
    with pytest.raises(RemoteError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build_commands(outputs_for(PHASE2_APP, ADDRESSES), request_)


def test_outputs_of_an_older_deployment_say_what_is_missing(tmp_path: Path) -> None:
    old = tmp_path / "outputs.json"
    old.write_text(json.dumps({"servers": {"app": {"ipv4": "198.51.100.1"}}, "ssh": {"port": 22, "adminUser": "deploy"}}))
    done = subprocess.run([sys.executable, "-m", "cli.main", "logs", "--outputs", str(old), "web"],
                          cwd=ROOT, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert done.returncode == 2 and "the stack outputs have no app." in done.stderr and "Traceback" not in done.stderr


LIVE = r"""
set -euo pipefail
ip link set lo up
route=$(ip route get 127.0.0.1)
case $route in *" dev lo "*) ;; *) echo "unexpected route: $route" >&2; exit 9 ;; esac
mount -t tmpfs tmpfs /run
mkdir -m 755 /run/sshd
/usr/sbin/sshd -f "$T/sshd_config" -E "$T/sshd.log"
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/2222) 2>/dev/null && break; sleep 0.1; done
set +e
"$PY" -m cli.main logs --outputs "$T/outputs.json" -i "$T/client" -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR --tail 5 web
echo "rc=$?"
kill "$(cat "$T/sshd.pid")"
"""


def test_logs_runs_over_a_real_ssh_connection_on_loopback(tmp_path: Path) -> None:
    require_tool("unshare", "ssh", "ssh-keygen", "ip")
    require(Path("/usr/sbin/sshd").exists(), "/usr/sbin/sshd is not installed (openssh-server)")
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / name)], check=True)
    (tmp_path / "authorized_keys").write_text((tmp_path / "client.pub").read_text())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # Stand-ins on the "server": sudo runs its arguments, docker prints the argv it got.
    (bin_dir / "sudo").write_text('#!/bin/sh\nexec "$@"\n')
    (bin_dir / "docker").write_text('#!/bin/sh\nprintf "FAKE-DOCKER"; printf " [%s]" "$@"; echo\n')
    for tool in ("sudo", "docker"):
        (bin_dir / tool).chmod(0o755)
    (tmp_path / "sshd_config").write_text(
        f"Port 2222\nListenAddress 127.0.0.1\nHostKey {tmp_path}/host\nPidFile {tmp_path}/sshd.pid\n"
        f"AuthorizedKeysFile {tmp_path}/authorized_keys\nStrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n"
        f"PasswordAuthentication no\nSetEnv PATH={bin_dir}:/usr/bin:/bin\n"
    )
    values = variant(PROD, app=APP, loadBalancer=None, dns=None, floatingIp=None, network=None,
                     ssh={**PROD["ssh"], "adminUser": "deploy"})
    outputs = outputs_for(values, {"app": "127.0.0.1"}).values
    outputs["ssh"]["adminUser"] = "root"  # the only user this namespace's sshd can log in
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    done = subprocess.run(
        ["unshare", "--net", "--mount", "--propagation", "private", "bash", "-c", LIVE],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/sbin:/usr/bin:/bin", "PYTHONPATH": str(ROOT), "T": str(tmp_path), "PY": sys.executable},
    )
    assert done.returncode == 0, done.stderr + (tmp_path / "sshd.log").read_text()
    assert "rc=0" in done.stdout, done.stdout + done.stderr
    expected = ["compose", "--project-name", "chrono", "--project-directory", "/opt/chrono/current", "--file",
                "/opt/chrono/current/docker-compose.yml", "--env-file", "/opt/chrono/current/.env", "logs", "--timestamps",
                "--tail", "5", "web"]
    assert "FAKE-DOCKER" + "".join(f" [{word}]" for word in expected) in done.stdout


@pytest.mark.parametrize(("release", "service_tag", "image", "expected"), [
    (7, None, "ghcr.io/acme/shop", "ghcr.io/acme/shop:7"),  # `pulumi config set --path` stores 7 as a number
    ("1.4.3", "1.4.2", "ghcr.io/acme/shop", "ghcr.io/acme/shop:1.4.2"),  # a service's own tag wins
    ("1.4.3", None, "registry.example.com:5050/acme/shop", "registry.example.com:5050/acme/shop:1.4.3"),  # a port is no tag
    ("1.4.3", None, "ghcr.io/acme/shop:1.0", "ghcr.io/acme/shop:1.0"),  # a pinned image keeps its tag
])
def test_release_and_tags(release: object, service_tag: str | None, image: str, expected: str) -> None:
    app = {"release": release, "services": {"web": {"image": image, "limits": {"cpus": 1, "memory": "512M"}}}}
    if service_tag:
        app["services"]["web"]["tag"] = service_tag  # type: ignore[index]
    config = validate_config(variant(PROD, app=app, loadBalancer=None, dns=None, floatingIp=None))
    assert config.app.services["web"].image == expected


@pytest.mark.parametrize(("app", "path", "reason"), [
    ({"release": 1.1}, "app.release", "quote it"),
    ({"release": "1.4.3 beta"}, "app.release", "not an image tag"),
    ({"services": {"web": {"image": "x:1", "tag": "2", "limits": {"cpus": 1, "memory": "512M"}}}}, "app.services.web",
     "already has a tag"),
])
def test_bad_release_settings_name_the_field(app: dict[str, Any], path: str, reason: str) -> None:
    from config.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        validate_config(variant(PROD, app=app, loadBalancer=None, dns=None, floatingIp=None))
    issues = {issue.path: issue.reason for issue in caught.value.issues}
    assert path in issues and reason in issues[path], issues
