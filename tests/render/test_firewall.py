"""The firewall step applied FOR REAL in a private network namespace over a copy-on-write /etc (so
/etc/ufw and /etc/default/ufw are copies, with IPT_SYSCTL=/dev/null): then `ufw status verbose`,
`iptables-save` and `ip6tables-save` must show exactly the expected rules, DOCKER-USER included.
The host's netfilter, /etc/ufw and sysctls are never touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from render.host_firewall import docker_user_rules, ufw_rules
from render.host_steps import host_steps
from render.steps import HostStep
from spec.resources import resolve
from tests.prerequisites import require_tool
from tests.render.conftest import Sandbox, SandboxResult, make_config, make_runtime, summary

pytestmark = pytest.mark.render

SEPARATOR = "@@section@@"
INSPECT = f"ufw status verbose; echo {SEPARATOR}; iptables-save; echo {SEPARATOR}; ip6tables-save"
# The forwarding switch of the sandbox's own network namespace, as on a Docker host (ufw then
# reports its routed policy instead of "disabled").
FORWARDING_ON = "echo 1 > /proc/sys/net/ipv4/ip_forward"


def prepare(sandbox: Sandbox) -> None:
    require_tool("ufw", "iptables-save", "ip6tables-save", "ip")
    defaults = Path("/etc/default/ufw").read_text(encoding="utf-8").splitlines(keepends=True)
    sandbox.seed(
        "/etc/default/ufw",
        "".join("IPT_SYSCTL=/dev/null\n" if line.startswith("IPT_SYSCTL=") else line for line in defaults),
    )


def sections(result: SandboxResult) -> tuple[str, list[str], list[str]]:
    inspected = result.stdout.split("@@hetzner-platform-run@@\n")[-1]
    status, v4, v6 = inspected.split(SEPARATOR + "\n")
    return status, v4.splitlines(), v6.splitlines()


def chain(lines: list[str], name: str) -> list[str]:
    return [line for line in lines if line.startswith(f"-A {name} ")]


def test_firewall_applied_for_real(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    prepare(sandbox)
    result = sandbox.run(steps["firewall"].script, runs=2, before=FORWARDING_ON, after=INSPECT)
    assert result.returncode == 0, result.output
    first, second = result.runs
    assert "changed: ufw enabled" in first
    assert summary(second) == {"step": "firewall", "changed": "0"}

    status, v4, v6 = sections(result)
    assert "Status: active" in status
    assert "Default: deny (incoming), allow (outgoing), deny (routed)" in status
    table = [" ".join(line.split()) for line in status.split("--\n")[-1].strip().splitlines()]
    assert table == [
        "2222/tcp ALLOW IN 203.0.113.0/24 # ssh admin",
        "2222/tcp LIMIT IN Anywhere # ssh",
        "80/tcp ALLOW IN Anywhere # http",
        "443/tcp ALLOW IN Anywhere # https",
        "Anywhere ALLOW IN 10.0.0.0/16 # private network",
        "9000/tcp ALLOW IN 203.0.113.0/24 # admin port",
        "2222/tcp (v6) LIMIT IN Anywhere (v6) # ssh",
        "80/tcp (v6) ALLOW IN Anywhere (v6) # http",
        "443/tcp (v6) ALLOW IN Anywhere (v6) # https",
    ]

    assert ":INPUT DROP [0:0]" in v4 and ":FORWARD DROP [0:0]" in v4 and ":OUTPUT ACCEPT [0:0]" in v4
    assert chain(v4, "ufw-user-input") == [
        "-A ufw-user-input -s 203.0.113.0/24 -p tcp -m tcp --dport 2222 -j ACCEPT",
        "-A ufw-user-input -p tcp -m tcp --dport 2222 -m conntrack --ctstate NEW -m recent --set --name DEFAULT "
        "--mask 255.255.255.255 --rsource",
        "-A ufw-user-input -p tcp -m tcp --dport 2222 -m conntrack --ctstate NEW -m recent --update --seconds 30 "
        "--hitcount 6 --name DEFAULT --mask 255.255.255.255 --rsource -j ufw-user-limit",
        "-A ufw-user-input -p tcp -m tcp --dport 2222 -j ufw-user-limit-accept",
        "-A ufw-user-input -p tcp -m tcp --dport 80 -j ACCEPT",
        "-A ufw-user-input -p tcp -m tcp --dport 443 -j ACCEPT",
        "-A ufw-user-input -s 10.0.0.0/16 -j ACCEPT",
        "-A ufw-user-input -s 203.0.113.0/24 -p tcp -m tcp --dport 9000 -j ACCEPT",
    ]
    assert chain(v4, "DOCKER-USER") == [
        "-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        "-A DOCKER-USER -i lo -j RETURN",
        "-A DOCKER-USER -i docker0 -j RETURN",
        "-A DOCKER-USER -i br-+ -j RETURN",
        "-A DOCKER-USER -s 10.0.0.0/16 -j RETURN",
        "-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 80 --ctdir ORIGINAL -j RETURN",
        "-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 443 --ctdir ORIGINAL -j RETURN",
        "-A DOCKER-USER -s 203.0.113.0/24 -p tcp -m conntrack --ctorigdstport 9000 --ctdir ORIGINAL -j RETURN",
        "-A DOCKER-USER -j DROP",
    ]
    assert chain(v6, "DOCKER-USER") == [
        "-A DOCKER-USER -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        "-A DOCKER-USER -i lo -j RETURN",
        "-A DOCKER-USER -i docker0 -j RETURN",
        "-A DOCKER-USER -i br-+ -j RETURN",
        "-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 80 --ctdir ORIGINAL -j RETURN",
        "-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 443 --ctdir ORIGINAL -j RETURN",
        "-A DOCKER-USER -j DROP",
    ]
    assert [line for line in chain(v6, "ufw6-user-input") if "--dport 80 " in line or "--dport 443 " in line] == [
        "-A ufw6-user-input -p tcp -m tcp --dport 80 -j ACCEPT",
        "-A ufw6-user-input -p tcp -m tcp --dport 443 -j ACCEPT",
    ]
    # The rendered lists are what the script compares with; keep them in step with the kernel's view.
    config = make_config()
    assert chain(v4, "DOCKER-USER")[4:-1] == docker_user_rules(config, 4)
    assert chain(v6, "DOCKER-USER")[4:-1] == docker_user_rules(config, 6)


def test_firewall_removes_stale_rules_and_keeps_docker_user_single(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    """A rule the config no longer has is deleted; a reload does not duplicate DOCKER-USER."""
    prepare(sandbox)
    before = "ufw allow 8080/tcp comment 'old'"
    result = sandbox.run(steps["firewall"].script, before=before, after=f"ufw reload >/dev/null; {INSPECT}")
    assert result.returncode == 0, result.output
    assert "changed: ufw delete allow 8080/tcp comment 'old'" in result.stdout
    _, v4, _ = sections(result)
    assert not [line for line in v4 if "--dport 8080" in line]
    assert len(chain(v4, "DOCKER-USER")) == 9


def test_firewall_other_admin_networks(sandbox: Sandbox) -> None:
    """IPv6 and single-address admin sources in the form ufw writes them (idempotent on re-run)."""
    prepare(sandbox)
    config = make_config(
        ssh={"port": 2200, "publicKeys": [make_config().ssh.public_keys[0]], "adminCidrs": ["198.51.100.7/32", "2001:db8::/48"]},
        network=None,
        host={"adminPorts": [3000]},
    )
    rules, top = ufw_rules(config)
    assert "limit 2200/tcp comment 'ssh'" in rules
    assert top == [
        "allow from 198.51.100.7 to any port 2200 proto tcp comment 'ssh admin'",
        "allow from 2001:db8::/48 to any port 2200 proto tcp comment 'ssh admin'",
    ]
    step = next(s for s in host_steps(config, resolve(config), "app", make_runtime(config)) if s.name == "firewall")
    result = sandbox.run(step.script, runs=2, after=INSPECT)
    assert result.returncode == 0, result.output
    assert summary(result.runs[1])["changed"] == "0"
    _, v4, v6 = sections(result)
    assert "-A DOCKER-USER -s 198.51.100.7/32 -p tcp -m conntrack --ctorigdstport 3000 --ctdir ORIGINAL -j RETURN" in v4
    assert "-A DOCKER-USER -s 2001:db8::/48 -p tcp -m conntrack --ctorigdstport 3000 --ctdir ORIGINAL -j RETURN" in v6
    assert "-A ufw6-user-input -s 2001:db8::/48 -p tcp -m tcp --dport 2200 -j ACCEPT" in v6


def test_firewall_rejects_broken_after_rules_and_restores(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    prepare(sandbox)
    broken = steps["firewall"].script.replace("-A DOCKER-USER -j DROP", "-A DOCKER-USER -j DORP", 1)
    assert broken != steps["firewall"].script
    result = sandbox.run(broken)
    assert result.returncode == 1, result.output
    assert "ufw enable failed" in result.stderr
    assert "restored: /etc/ufw/after.rules" in result.stdout
    assert sandbox.upper("/etc/ufw/after.rules").read_text(encoding="utf-8") == Path("/etc/ufw/after.rules").read_text(encoding="utf-8")


def test_firewall_rejects_a_bad_rule(steps: dict[str, HostStep], sandbox: Sandbox) -> None:
    prepare(sandbox)
    broken = steps["firewall"].script.replace('"allow 80/tcp comment', '"allow 99999/tcp comment', 1)
    assert broken != steps["firewall"].script
    result = sandbox.run(broken)
    assert result.returncode != 0, result.output
    assert "Bad port" in result.output
    assert "hetzner-platform step=firewall failed" in result.stderr


def test_firewall_step_for_other_variant_renders() -> None:
    config = make_config(network=None, host={"adminPorts": []})
    names = [s.name for s in host_steps(config, resolve(config), "app", make_runtime(config))]
    assert "firewall" in names
    assert docker_user_rules(config, 4) == [
        "-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 80 --ctdir ORIGINAL -j RETURN",
        "-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 443 --ctdir ORIGINAL -j RETURN",
    ]


def test_cloudflare_only_origin_applied_for_real(sandbox: Sandbox) -> None:
    """Every record proxied (dns.cloudflareOnly by default): UFW and DOCKER-USER admit 80/443 only from
    Cloudflare's ranges, as the kernel reports them after ufw loaded the rules (idempotent on re-run)."""
    from config.cloudflare_ips import load_cloudflare_ranges

    prepare(sandbox)
    config = make_config(dns={"zone": "chrono.example.com", "proxied": True, "records": [{"name": "@"}]})
    step = next(s for s in host_steps(config, resolve(config), "app", make_runtime(config)) if s.name == "firewall")
    result = sandbox.run(step.script, runs=2, before=FORWARDING_ON, after=INSPECT)
    assert result.returncode == 0, result.output
    assert summary(result.runs[1])["changed"] == "0"
    _, v4, v6 = sections(result)
    ranges = load_cloudflare_ranges()
    web_v4 = [line for line in chain(v4, "ufw-user-input") if "--dport 80 " in line or "--dport 443 " in line]
    assert web_v4 == [f"-A ufw-user-input -s {cidr} -p tcp -m tcp --dport {port} -j ACCEPT"
                      for port in (80, 443) for cidr in ranges.ipv4]
    web_v6 = [line for line in chain(v6, "ufw6-user-input") if "--dport 80 " in line or "--dport 443 " in line]
    assert web_v6 == [f"-A ufw6-user-input -s {cidr} -p tcp -m tcp --dport {port} -j ACCEPT"
                      for port in (80, 443) for cidr in ranges.ipv6]
    assert chain(v4, "DOCKER-USER")[4:-1] == docker_user_rules(config, 4)
    assert chain(v6, "DOCKER-USER")[4:-1] == docker_user_rules(config, 6)
    assert f"-A DOCKER-USER -s {ranges.ipv4[0]} -p tcp -m conntrack --ctorigdstport 443 --ctdir ORIGINAL -j RETURN" in v4
    assert not any(line.startswith("-A DOCKER-USER -p tcp -m conntrack --ctorigdstport 443") for line in v4 + v6)
