"""Phase 2 of seeds 002/003 as a real stack: examples/Pulumi.chrono-phase2.yaml (web, db and worker servers,
private network, spread placement group, load balancer to web) against phase 1 (Pulumi.chrono-single.yaml).

It plans cleanly and prices correctly; under mocks, Postgres is reachable only on the private network and
the load balancer targets only web servers. The figures in docs/growth.md come from the same plans
(tests/growth/test_docs.py).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli.diagram import mermaid, node_id
from cli.evaluate import Evaluation, evaluate
from cli.plan import load
from components.firewall import ANYWHERE
from config.cloudflare_ips import load_cloudflare_ranges
from config.schema import StackConfig
from config.stack_file import read_stack_file
from render.app import app_files
from render.compose_render import COMPOSE_FILE
from render.host_steps import host_steps
from render.steps import HostRuntime
from spec.resources import resolve
from tests.growth.conftest import PlanResult
from tests.growth.mermaid_check import check_flowchart, nodes_and_edges
from tests.growth.support import ROOT
from tests.stacks import write_stack_file

PHASE2_FILE = ROOT / "examples" / "Pulumi.chrono-phase2.yaml"
PHASE1_FILE = ROOT / "examples" / "Pulumi.chrono-single.yaml"
POSTGRES_PORT = 5432


@pytest.fixture(scope="module")
def config() -> StackConfig:
    return load(PHASE2_FILE)[1]


@pytest.fixture(scope="module")
def phase2(real_plan: Callable[[Path], PlanResult]) -> dict[str, Any]:
    code, document, stderr = real_plan(PHASE2_FILE)
    assert code == 0, stderr
    return document


@pytest.fixture(scope="module")
def phase1(real_plan: Callable[[Path], PlanResult]) -> dict[str, Any]:
    code, document, stderr = real_plan(PHASE1_FILE)
    assert code == 0, stderr
    return document


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    return evaluate(read_stack_file(PHASE2_FILE))


def compose_of(config: StackConfig, server: str) -> dict[str, Any]:
    [path] = [path for path in app_files(config, server) if path.endswith("/" + COMPOSE_FILE)]
    document: dict[str, Any] = yaml.safe_load(app_files(config, server)[path])
    return document


def published(service: dict[str, Any]) -> list[str]:
    return [str(port) for port in service.get("ports", [])]


# --- plans cleanly, prices correctly ---------------------------------------------------------------
def test_phase2_plans_cleanly(phase2: dict[str, Any]) -> None:
    assert phase2["exit_code"] == 0
    assert phase2["cost"]["status"] == "ok" and phase2["capacity"]["ok"] is True
    assert phase2["capacity"]["unplaced_services"] == []
    types = {r["type"] for r in phase2["resources"]}
    assert {"hcloud:index/placementGroup:PlacementGroup", "hcloud:index/network:Network",
            "hcloud:index/serverNetwork:ServerNetwork", "hcloud:index/loadBalancerTarget:LoadBalancerTarget"} <= types
    assert set(phase2["host_steps"]) == {"web", "db", "worker"}


def test_phase2_prices_add_up_with_one_line_per_server(phase2: dict[str, Any], config: StackConfig) -> None:
    cost = phase2["cost"]
    lines = cost["lines"]
    assert Decimal(str(cost["total_net_eur"])) == sum(Decimal(str(line["monthly_eur"])) for line in lines)
    servers = [line for line in lines if line["kind"] == "server"]
    assert sorted(line["resource"] for line in servers) == ["chrono-prod-db", "chrono-prod-web", "chrono-prod-worker"]
    for line in servers:
        name = line["resource"].removeprefix("chrono-prod-")
        assert line["item"] == f"Server {name} ({config.servers[name].server_type})"
    assert sum(1 for line in lines if line["kind"] == "backup") == 3  # backups are on by default
    assert [line["item"] for line in lines if line["kind"] == "load_balancer"] == ["Load balancer lb11"]
    assert cost["total_net_eur"] <= cost["budget_eur"]


# --- Postgres only on the private network -----------------------------------------------------------
def test_postgres_is_published_on_the_db_servers_private_address_only(config: StackConfig) -> None:
    spec = resolve(config)
    db_ip = spec.server("db").private_ip
    assert db_ip is not None and db_ip.startswith("10.0.1.")
    postgres = compose_of(config, "db")["services"]["postgres"]
    assert published(postgres) == [f"{db_ip}:{POSTGRES_PORT}:{POSTGRES_PORT}"]
    for server in ("web", "worker"):
        compose = compose_of(config, server)
        assert "postgres" not in compose["services"]
        for name, service in compose["services"].items():
            assert not any(f":{POSTGRES_PORT}" in port for port in published(service)), (server, name)
            # Other servers reach it by name, resolved to the db server's private address.
            if "extra_hosts" in service:
                assert f"postgres:{db_ip}" in service["extra_hosts"]
    # Nothing on any server publishes a port on every interface except the proxy's 80/443.
    for server in config.servers:
        for name, service in compose_of(config, server)["services"].items():
            for port in published(service):
                host = port.split(":")[0] if port.count(":") == 2 else None
                assert (host and host.startswith("10.0.1.")) or port in ("80:80", "443:443"), (server, name, port)


def test_cloud_firewall_has_no_database_rule(evaluation: Evaluation, config: StackConfig) -> None:
    [firewall] = evaluation.mocks.by_type("hcloud:index/firewall:Firewall")
    rules = firewall.inputs["rules"]
    assert not [rule for rule in rules if str(POSTGRES_PORT) in str(rule.get("port", ""))]
    public = {rule.get("port") for rule in rules if rule["sourceIps"] == ANYWHERE}
    assert public == {None}  # None: ICMP
    # Every record is proxied by Cloudflare: 80/443 admit Cloudflare's ranges only (issue 19).
    cloudflare = list(load_cloudflare_ranges().all)
    assert {rule.get("port") for rule in rules if rule["sourceIps"] == cloudflare} == {"80", "443"}
    assert {rule.get("port") for rule in rules if rule["sourceIps"] not in (ANYWHERE, cloudflare)} == {str(config.ssh.port)}
    servers = evaluation.mocks.by_type("hcloud:index/server:Server")
    assert len(servers) == 3 and all([int(x) for x in s.inputs["firewallIds"]] == [int(firewall.id)] for s in servers)


def test_host_firewall_opens_nothing_for_postgres(config: StackConfig) -> None:
    db_ip = resolve(config).server("db").private_ip
    [step] = [s for s in host_steps(config, resolve(config), "db", HostRuntime(private_ip=db_ip)) if s.name == "firewall"]
    assert str(POSTGRES_PORT) not in step.script and not any(str(POSTGRES_PORT) in text for text in step.files.values())


# --- the load balancer only reaches web servers -----------------------------------------------------
def test_load_balancer_targets_only_web_servers(evaluation: Evaluation, config: StackConfig) -> None:
    server_ids = {r.name: int(r.id) for r in evaluation.mocks.by_type("hcloud:index/server:Server")}
    targets = evaluation.mocks.by_type("hcloud:index/loadBalancerTarget:LoadBalancerTarget")
    web = [name for name in config.servers_with_role("web")]
    assert web == ["web"]
    assert sorted(int(t.inputs["serverId"]) for t in targets) == [server_ids["chrono-prod-web"]]
    assert all(t.inputs["usePrivateIp"] is True for t in targets)
    group = evaluation.mocks.by_type("hcloud:index/placementGroup:PlacementGroup")[0]
    assert group.inputs["type"] == "spread"
    assert {int(s.inputs["placementGroupId"]) for s in evaluation.mocks.by_type("hcloud:index/server:Server")} == {int(group.id)}


def test_phase2_picture(config: StackConfig, phase2: dict[str, Any]) -> None:
    diagram = mermaid(phase2, config)
    assert check_flowchart(diagram) == []
    _, edges, parent = nodes_and_edges(diagram)
    assert {dst for src, _, dst in edges if src == "lb"} == {node_id("srv", "web")}
    assert parent[node_id("svc", "db_postgres")] == node_id("srv", "db")
    assert parent[node_id("svc", "worker_celery_worker")] == node_id("srv", "worker")
    assert parent[node_id("svc", "web_traefik")] == node_id("srv", "web")


# --- moving an existing phase-1 stack without moving its data ---------------------------------------
def test_keeping_the_phase1_server_as_db_replaces_nothing(tmp_path: Path, phase1: dict[str, Any],
                                                           real_plan: Callable[[Path], PlanResult]) -> None:
    values = read_stack_file(PHASE2_FILE).values
    servers = values["servers"]
    # The phase-1 server keeps its name (and its type: cx43 -> cx33 would shrink its disk, which the resize
    # guard refuses) and takes the db role; the volume stays attached to it.
    values["servers"] = {"app": {**servers["db"], "serverType": "cx43"}, "web": servers["web"], "worker": servers["worker"]}
    values["volumes"]["data"]["server"] = "app"
    code, document, stderr = real_plan(write_stack_file(tmp_path / "Pulumi.keep.yaml", values))
    assert code == 0, stderr
    removed = {(r["type"], r["name"]) for r in phase1["resources"]} - {(r["type"], r["name"]) for r in document["resources"]}
    kinds = {typ for typ, _ in removed}
    assert not kinds & {"hcloud:index/server:Server", "hcloud:index/volume:Volume", "hcloud:index/primaryIp:PrimaryIp"}
