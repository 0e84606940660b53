"""Day-2 fixes that need no previous deployment: primary IP arguments, the first SSH wait, floating IPv6,
LB health-check ports (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.errors import ConfigError
from config.loader import validate_config
from tests.stacks import PROD, evaluate_values, variant

PRIMARY_IP = "hcloud:index/primaryIp:PrimaryIp"
COMMAND = "command:remote:Command"


def test_primary_ips_carry_no_assignee_type_without_an_assignee_id(tmp_path: Path) -> None:
    evaluation = evaluate_values(tmp_path, PROD)
    ips = evaluation.mocks.by_type(PRIMARY_IP)
    assert len(ips) == 2
    for ip in ips:
        assert "assigneeType" not in ip.inputs or "assigneeId" in ip.inputs, ip.inputs


def test_first_ssh_wait_outlasts_a_slow_first_boot(tmp_path: Path) -> None:
    # 40 refused dials last ~2.7 minutes; a first boot with package upgrades can take ten.
    evaluation = evaluate_values(tmp_path, PROD)
    connections = [command.inputs["connection"] for command in evaluation.mocks.by_type(COMMAND)]
    assert connections
    for connection in connections:
        limit = int(connection["dialErrorLimit"])
        assert limit == -1 or 11 + (limit - 10) * 5 >= 15 * 60, limit
        assert 0 < int(connection["perDialTimeout"]) <= 60


def test_floating_ipv6_publishes_binds_and_names_the_same_host_address(tmp_path: Path) -> None:
    values = variant(PROD, loadBalancer=None, floatingIp={"type": "ipv6", "dnsPtr": "chrono.example.com"})
    evaluation = evaluate_values(tmp_path, values)
    [fip] = evaluation.mocks.by_type("hcloud:index/floatingIp:FloatingIp")
    network = str(fip.outputs["ipAddress"])
    assert network.endswith("::")  # what the API reports: the /64's network address
    host = f"{network}1"
    assert evaluation.outputs["floatingIp"] == host
    [rdns] = evaluation.mocks.by_type("hcloud:index/rdns:Rdns")
    assert rdns.inputs["ipAddress"] == host
    aaaa = [r for r in evaluation.mocks.by_type("cloudflare:index/dnsRecord:DnsRecord") if r.inputs["type"] == "AAAA"]
    assert aaaa and {r.inputs["content"] for r in aaaa} == {host}
    [network_step] = [c for c in evaluation.mocks.by_type(COMMAND) if c.name.endswith("-network")]
    assert host in str(network_step.inputs["stdin"])


def test_one_explicit_health_check_port_for_several_services_is_refused() -> None:
    values = variant(PROD, loadBalancer={"type": "lb11", "healthCheck": {"port": 8080, "protocol": "http"}})
    with pytest.raises(ConfigError) as caught:
        validate_config(values)
    [issue] = [i for i in caught.value.issues if i.path == "loadBalancer.healthCheck.port"]
    assert "unique per load balancer" in issue.reason and "2 services" in issue.reason
    # One service with its own check port stays valid, and the default derives one port per service.
    single = [{"protocol": "tcp", "listenPort": 443, "destinationPort": 443, "proxyProtocol": True}]
    validate_config(variant(PROD, loadBalancer={"type": "lb11", "services": single, "healthCheck": {"port": 8443}}))
    validate_config(PROD)
