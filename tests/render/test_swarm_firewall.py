"""The firewall of a swarm node (app.engine swarm), applied for real with ufw in a private network
namespace (tests/render/conftest.py Sandbox): swarm's ports only in on the private NIC from the private
subnet, no blanket private-network rule, and DOCKER-USER letting swarm tasks out through docker_gwbridge
while still dropping every published port but 80/443."""

from __future__ import annotations

import pytest

from render.host_firewall import docker_user_rules, ufw_rules
from render.host_steps import host_steps
from spec.resources import resolve
from tests.render.conftest import Sandbox, make_config, make_runtime, summary
from tests.render.test_firewall import FORWARDING_ON, INSPECT, chain, prepare, sections

pytestmark = pytest.mark.render

SWARM_APP = {"engine": "swarm", "swarm": {"privateInterface": "ens10"}}


def test_swarm_rules_replace_the_blanket_private_rule() -> None:
    compose_rules, _ = ufw_rules(make_config())
    swarm_rules, _ = ufw_rules(make_config(app=SWARM_APP))
    assert "allow from 10.0.0.0/16 comment 'private network'" in compose_rules
    assert "allow from 10.0.0.0/16 comment 'private network'" not in swarm_rules
    assert [rule for rule in swarm_rules if "swarm" in rule] == [
        "allow in on ens10 from 10.0.1.0/24 to any port 2377 proto tcp comment 'swarm'",
        "allow in on ens10 from 10.0.1.0/24 to any port 7946 comment 'swarm'",
        "allow in on ens10 from 10.0.1.0/24 to any port 4789 proto udp comment 'swarm'",
    ]
    assert "-A DOCKER-USER -i docker_gwbridge -j RETURN" in docker_user_rules(make_config(app=SWARM_APP), 4)
    assert "-A DOCKER-USER -i docker_gwbridge -j RETURN" not in docker_user_rules(make_config(), 4)


def test_swarm_firewall_applied_for_real(sandbox: Sandbox) -> None:
    prepare(sandbox)
    config = make_config(app=SWARM_APP)
    step = next(s for s in host_steps(config, resolve(config), "app", make_runtime(config)) if s.name == "firewall")
    result = sandbox.run(step.script, runs=2, before=FORWARDING_ON, after=INSPECT)
    assert result.returncode == 0, result.output
    # The second run finds every rule in place: the rendered strings are what `ufw show added` prints.
    assert summary(result.runs[1]) == {"step": "firewall", "changed": "0"}
    _, v4, _ = sections(result)
    user_input = chain(v4, "ufw-user-input")
    assert "-A ufw-user-input -s 10.0.0.0/16 -j ACCEPT" not in user_input
    swarm = [line for line in user_input if "-i ens10" in line]
    assert swarm == [
        "-A ufw-user-input -s 10.0.1.0/24 -i ens10 -p tcp -m tcp --dport 2377 -j ACCEPT",
        "-A ufw-user-input -s 10.0.1.0/24 -i ens10 -p tcp -m tcp --dport 7946 -j ACCEPT",
        "-A ufw-user-input -s 10.0.1.0/24 -i ens10 -p udp -m udp --dport 7946 -j ACCEPT",
        "-A ufw-user-input -s 10.0.1.0/24 -i ens10 -p udp -m udp --dport 4789 -j ACCEPT",
    ]
    docker_user = chain(v4, "DOCKER-USER")
    assert "-A DOCKER-USER -i docker_gwbridge -j RETURN" in docker_user
    assert docker_user[-1] == "-A DOCKER-USER -j DROP"
    published = [line for line in docker_user if "--ctorigdstport" in line]
    assert {line.split("--ctorigdstport ")[1].split()[0] for line in published} == {"80", "443", "9000"}
