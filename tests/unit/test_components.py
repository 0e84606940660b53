"""The real program under Pulumi mocks: assertions on the inputs that matter for each component."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.evaluate import Evaluation
from cli.mocks import RecordedResource
from config.cloudflare_ips import load_cloudflare_ranges
from tests.stacks import PHASE2, PROD, STAGING, evaluate_values, variant


def one(evaluation: Evaluation, typ: str) -> RecordedResource:
    found = evaluation.mocks.by_type(typ)
    assert len(found) == 1, f"expected one {typ}, got {[r.name for r in found]}"
    return found[0]


def ids_of(evaluation: Evaluation, typ: str) -> dict[str, int]:
    return {r.name: int(r.id) for r in evaluation.mocks.by_type(typ)}


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    return evaluate_values(tmp_path_factory.mktemp("prod"), PROD)


@pytest.fixture(scope="module")
def staging(tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    return evaluate_values(tmp_path_factory.mktemp("staging"), STAGING)


@pytest.fixture(scope="module")
def phase2(tmp_path_factory: pytest.TempPathFactory) -> Evaluation:
    return evaluate_values(tmp_path_factory.mktemp("phase2"), PHASE2)


CLOUDFLARE = load_cloudflare_ranges().all


def test_firewall_allows_exactly_ssh_from_admins_http_https_and_icmp(prod: Evaluation) -> None:
    rules = one(prod, "hcloud:index/firewall:Firewall").inputs["rules"]
    summary = sorted((r["direction"], r["protocol"], r.get("port"), tuple(r["sourceIps"])) for r in rules)
    assert summary == sorted(
        [
            ("in", "tcp", "2222", ("203.0.113.0/24",)),
            # Every record of this stack is proxied by Cloudflare: the origin admits only Cloudflare (issue 19).
            ("in", "tcp", "80", CLOUDFLARE),
            ("in", "tcp", "443", CLOUDFLARE),
            ("in", "icmp", None, ("0.0.0.0/0", "::/0")),
        ]
    )


def test_a_stack_with_a_direct_record_keeps_80_443_open(tmp_path: Path) -> None:
    dns = {**PROD["dns"], "records": [{"name": "@"}, {"name": "www", "proxied": False}]}
    evaluation = evaluate_values(tmp_path, variant(PROD, dns=dns))
    rules = one(evaluation, "hcloud:index/firewall:Firewall").inputs["rules"]
    assert {r["port"]: tuple(r["sourceIps"]) for r in rules if r.get("port") in ("80", "443")} == {
        "80": ("0.0.0.0/0", "::/0"), "443": ("0.0.0.0/0", "::/0")}
    off = evaluate_values(tmp_path / "off", variant(PROD, dns={**PROD["dns"], "cloudflareOnly": False}))
    rules = one(off, "hcloud:index/firewall:Firewall").inputs["rules"]
    assert next(r for r in rules if r.get("port") == "443")["sourceIps"] == ["0.0.0.0/0", "::/0"]


def test_firewall_is_attached_to_every_server_from_creation(phase2: Evaluation) -> None:
    firewall_id = int(one(phase2, "hcloud:index/firewall:Firewall").id)
    servers = phase2.mocks.by_type("hcloud:index/server:Server")
    assert len(servers) == 3
    for server in servers:
        assert [int(x) for x in server.inputs["firewallIds"]] == [firewall_id]


def test_admin_ports_only_from_admin_cidrs(tmp_path: Path) -> None:
    evaluation = evaluate_values(tmp_path, variant(PROD, host={"adminPorts": [5555]}))
    rules = one(evaluation, "hcloud:index/firewall:Firewall").inputs["rules"]
    flower = [r for r in rules if r.get("port") == "5555"]
    assert flower and flower[0]["sourceIps"] == ["203.0.113.0/24"]


def test_protection_flags_in_prod_only(prod: Evaluation, staging: Evaluation) -> None:
    prod_server = one(prod, "hcloud:index/server:Server").inputs
    assert prod_server["deleteProtection"] is True and prod_server["rebuildProtection"] is True
    assert one(prod, "hcloud:index/volume:Volume").inputs["deleteProtection"] is True
    staging_server = one(staging, "hcloud:index/server:Server").inputs
    assert staging_server["deleteProtection"] is False and staging_server["rebuildProtection"] is False


def test_server_inputs_labels_and_primary_ips(prod: Evaluation) -> None:
    server = one(prod, "hcloud:index/server:Server").inputs
    assert server["serverType"] == "cx33" and server["image"] == "ubuntu-24.04" and server["location"] == "nbg1"
    assert server["backups"] is True
    assert server["labels"] == {
        "managed-by": "hetzner-platform", "project": "chrono", "environment": "prod",
        "role-web": "true", "role-db": "true", "role-worker": "true",
    }
    primary = ids_of(prod, "hcloud:index/primaryIp:PrimaryIp")
    public_net = server["publicNets"][0]
    assert int(public_net["ipv4"]) == primary["chrono-prod-app-ipv4"]
    assert int(public_net["ipv6"]) == primary["chrono-prod-app-ipv6"]
    assert server["userData"].startswith("#cloud-config")
    assert [int(k) for k in server["sshKeys"]] == list(ids_of(prod, "hcloud:index/sshKey:SshKey").values())


def test_placement_group_only_with_several_servers(prod: Evaluation, phase2: Evaluation) -> None:
    assert prod.mocks.by_type("hcloud:index/placementGroup:PlacementGroup") == []
    group = one(phase2, "hcloud:index/placementGroup:PlacementGroup")
    assert group.inputs["type"] == "spread"
    for server in phase2.mocks.by_type("hcloud:index/server:Server"):
        assert int(server.inputs["placementGroupId"]) == int(group.id)


def test_volume_attached_by_int_ids_without_automount(prod: Evaluation) -> None:
    volume = one(prod, "hcloud:index/volume:Volume")
    attachment = one(prod, "hcloud:index/volumeAttachment:VolumeAttachment").inputs
    server_id = int(one(prod, "hcloud:index/server:Server").id)
    assert volume.inputs["size"] == 100 and volume.inputs["format"] == "ext4" and volume.inputs["automount"] is False
    assert int(attachment["volumeId"]) == int(volume.id) and int(attachment["serverId"]) == server_id


def test_network_subnet_and_fixed_private_ips(phase2: Evaluation) -> None:
    subnet = one(phase2, "hcloud:index/networkSubnet:NetworkSubnet")
    assert subnet.inputs["networkZone"] == "eu-central" and subnet.inputs["ipRange"] == "10.0.1.0/24"
    attachments = {r.name: r.inputs for r in phase2.mocks.by_type("hcloud:index/serverNetwork:ServerNetwork")}
    # The subnet id is "<network>-<range>" and must travel as a string.
    assert {a["subnetId"] for a in attachments.values()} == {subnet.id}
    assert {name: a["ip"] for name, a in attachments.items()} == {
        "chrono-prod-db-net": "10.0.1.10", "chrono-prod-web-net": "10.0.1.11", "chrono-prod-worker-net": "10.0.1.12",
    }


def test_load_balancer_targets_web_servers_over_private_network(phase2: Evaluation) -> None:
    lb = one(phase2, "hcloud:index/loadBalancer:LoadBalancer")
    assert lb.inputs["loadBalancerType"] == "lb11" and lb.inputs["location"] == "nbg1"
    network = one(phase2, "hcloud:index/loadBalancerNetwork:LoadBalancerNetwork").inputs
    assert int(network["loadBalancerId"]) == int(lb.id) and network["ip"] == "10.0.1.5"
    targets = phase2.mocks.by_type("hcloud:index/loadBalancerTarget:LoadBalancerTarget")
    server_ids = ids_of(phase2, "hcloud:index/server:Server")
    assert [int(t.inputs["serverId"]) for t in targets] == [server_ids["chrono-prod-web"]]
    assert all(t.inputs["usePrivateIp"] is True and t.inputs["type"] == "server" for t in targets)


def test_load_balancer_services_pass_tls_through_with_health_check(prod: Evaluation) -> None:
    lb = one(prod, "hcloud:index/loadBalancer:LoadBalancer")
    services = {int(s.inputs["listenPort"]): s.inputs for s in prod.mocks.by_type("hcloud:index/loadBalancerService:LoadBalancerService")}
    assert set(services) == {80, 443}
    https = services[443]
    assert https["protocol"] == "tcp" and https["proxyprotocol"] is True and https["loadBalancerId"] == lb.id
    # The default check is TCP on each service's own port, what the LB forwards (80 only redirects).
    assert {port: int(s["healthCheck"]["port"]) for port, s in services.items()} == {80: 80, 443: 443}
    assert all(s["healthCheck"]["protocol"] == "tcp" and "http" not in s["healthCheck"] for s in services.values())


def test_an_http_health_check_accepts_only_2xx(tmp_path: Path) -> None:
    check = {"protocol": "http", "port": 8081, "path": "/ready"}
    # One service: an explicit check port must be unique per load balancer (issue 14).
    services = [{"protocol": "tcp", "listenPort": 443, "destinationPort": 443, "proxyProtocol": True}]
    lb = {**PROD["loadBalancer"], "services": services, "healthCheck": check}
    evaluation = evaluate_values(tmp_path, variant(PROD, loadBalancer=lb))
    for service in evaluation.mocks.by_type("hcloud:index/loadBalancerService:LoadBalancerService"):
        http = service.inputs["healthCheck"]["http"]
        assert http == {"path": "/ready", "statusCodes": ["2??"]}, http  # a redirect is not health


def test_floating_ip_assignment_and_reverse_dns(prod: Evaluation) -> None:
    fip = one(prod, "hcloud:index/floatingIp:FloatingIp")
    assignment = one(prod, "hcloud:index/floatingIpAssignment:FloatingIpAssignment").inputs
    rdns = one(prod, "hcloud:index/rdns:Rdns").inputs
    assert fip.inputs["type"] == "ipv4" and fip.inputs["homeLocation"] == "nbg1"
    assert int(assignment["floatingIpId"]) == int(fip.id)
    assert int(assignment["serverId"]) == int(one(prod, "hcloud:index/server:Server").id)
    assert rdns["dnsPtr"] == "chrono.example.com" and rdns["ipAddress"] == fip.outputs["ipAddress"]


def test_dns_records_point_at_the_load_balancer(prod: Evaluation) -> None:
    lb = one(prod, "hcloud:index/loadBalancer:LoadBalancer").outputs
    records = {(r.inputs["name"], r.inputs["type"]): r.inputs for r in prod.mocks.by_type("cloudflare:index/dnsRecord:DnsRecord")}
    assert records[("chrono.example.com", "A")]["content"] == lb["ipv4"]
    assert records[("www.chrono.example.com", "AAAA")]["content"] == lb["ipv6"]
    assert all(r["proxied"] is True and r["ttl"] == 1 for (_, kind), r in records.items() if kind != "CAA")
    caa = records[("chrono.example.com", "CAA")]
    assert caa["data"] == {"flags": 0, "tag": "issue", "value": "letsencrypt.org"}
    assert {r["zoneId"] for r in records.values()} == {"zone-chrono-example-com"}


def test_dns_falls_back_to_floating_ip_then_server(tmp_path: Path) -> None:
    no_lb = evaluate_values(tmp_path / "a", variant(PROD, loadBalancer=None))
    fip = one(no_lb, "hcloud:index/floatingIp:FloatingIp").outputs["ipAddress"]
    records = no_lb.mocks.by_type("cloudflare:index/dnsRecord:DnsRecord")
    # A floating IPv4 has no AAAA counterpart: only A records (plus CAA).
    assert {r.inputs["type"] for r in records} == {"A", "CAA"}
    assert {r.inputs["content"] for r in records if r.inputs["type"] == "A"} == {fip}
    bare = evaluate_values(tmp_path / "b", variant(PROD, loadBalancer=None, floatingIp=None))
    server_ip = bare.outputs["servers"]["app"]["ipv4"]
    assert {r.inputs["content"] for r in bare.mocks.by_type("cloudflare:index/dnsRecord:DnsRecord") if r.inputs["type"] == "A"} == {
        server_ip
    }


def test_ssh_private_key_only_travels_as_a_secret(prod: Evaluation) -> None:
    commands = prod.mocks.by_type("command:remote:Command")
    assert commands, "host steps must exist"
    for command in commands:
        assert "connection" in command.secret_paths or "connection.privateKey" in command.secret_paths
        assert command.inputs["create"] == "sudo bash -s"
        connection = command.inputs["connection"]
        assert connection["user"] == "deploy" and int(connection["port"]) == 2222


def test_outputs(prod: Evaluation) -> None:
    outputs = prod.outputs
    assert outputs["sshCommands"]["app"] == f"ssh -p 2222 deploy@{outputs['servers']['app']['ipv4']}"
    assert outputs["dnsNames"] == ["chrono.example.com", "www.chrono.example.com"]
    assert outputs["floatingIp"].startswith("192.0.2.") and outputs["loadBalancerIpv4"].startswith("198.51.100.")


def test_staging_creates_no_lb_fip_or_dns(staging: Evaluation) -> None:
    types = {r.type for r in staging.resources}
    assert not {t for t in types if "loadBalancer" in t or "floatingIp" in t or t.startswith("cloudflare")}
