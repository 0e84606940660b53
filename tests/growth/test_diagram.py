"""The Mermaid picture of a stack: structure (nodes, edges, nesting) and syntax, for PROD and PHASE2."""

from __future__ import annotations

from typing import Any

import pytest

from cli.diagram import label, mermaid, node_id
from config.loader import validate_config
from config.schema import StackConfig
from tests.growth.mermaid_check import check_flowchart, nodes_and_edges
from tests.stacks import PHASE2, PROD, STAGING, variant

PLAN = {"cost": {"total_net_eur": 28.04, "budget_eur": 50.0, "status": "ok"}}


def limits(cpus: float, memory: str) -> dict[str, Any]:
    return {"cpus": cpus, "memory": memory}


SERVICES = {
    "api": {"image": "ghcr.io/acme/api:1.0", "role": "web", "limits": limits(1, "1G")},
    "postgres": {"image": "postgres:16-alpine", "role": "db", "limits": limits(1, "2G")},
    "redis": {"image": "redis:7-alpine", "role": "db", "limits": limits(0.5, "512M")},
    "celery": {"image": "ghcr.io/acme/api:1.0", "role": "worker", "limits": limits(2, "2G")},
}


def config_of(values: dict[str, Any]) -> StackConfig:
    return validate_config(values)


@pytest.fixture(scope="module")
def prod() -> str:
    return mermaid(PLAN, config_of(PROD))


@pytest.fixture(scope="module")
def phase2() -> str:
    return mermaid({}, config_of(variant(PHASE2, app={"services": SERVICES})))


def test_prod_and_phase2_are_valid_flowcharts(prod: str, phase2: str) -> None:
    assert check_flowchart(prod) == []
    assert check_flowchart(phase2) == []
    assert check_flowchart(mermaid({}, config_of(STAGING))) == []


def test_prod_structure(prod: str) -> None:
    labels, edges, parent = nodes_and_edges(prod)
    assert prod.startswith("---\ntitle: chrono-prod in nbg1 · EUR 28.04/month net, budget 50.00 (ok)\n---\nflowchart LR\n")
    app = node_id("srv", "app")
    assert labels[app] == "app · cx33 · web, db, worker · 10.0.1.10" and parent[app] == "net"
    assert labels["net"] == "Private network 10.0.1.0/24"
    assert labels["lb"] == "Load balancer lb11<br/>tcp 443→443, tcp 80→80<br/>health tcp each port"
    assert labels["fip"] == "Floating IPv4<br/>on app"
    assert labels["dns"] == "Cloudflare DNS · chrono.example.com · proxied"
    for fqdn in ("chrono.example.com", "www.chrono.example.com"):
        assert parent[node_id("dns", fqdn)] == "dns" and (node_id("dns", fqdn), "-->", "lb") in edges
    assert {("users", "-->", "dns"), ("lb", "-->", app), ("fip", "-.->", app), ("vol_data", "---", app),
            ("admins", "-.->", app)} <= edges
    assert labels["vol_data"] == "Volume data<br/>100 GB · /mnt/data"


def test_phase2_structure(phase2: str) -> None:
    labels, edges, parent = nodes_and_edges(phase2)
    web, db, worker = (node_id("srv", name) for name in ("web", "db", "worker"))
    assert {parent[web], parent[db], parent[worker]} == {"net"}
    assert labels[db] == "db · cx33 · db · 10.0.1.10"
    # The load balancer reaches the web server only; the volume sits on the db server.
    assert {(src, dst) for src, _, dst in edges if src == "lb"} == {("lb", web)}
    assert ("vol_data", "---", db) in edges
    # Web and worker reach the database over the private network; nothing else points at db.
    assert {src for src, _, dst in edges if dst == db} == {web, worker, "vol_data", "admins"}
    # Services sit in the subgraph of the server whose role they have.
    services = {name: parent[name] for name in labels if name.startswith("svc_")}
    assert services[node_id("svc", "db_postgres")] == db and services[node_id("svc", "db_redis")] == db
    assert services[node_id("svc", "worker_celery")] == worker
    assert node_id("svc", "web_api") in services and services[node_id("svc", "web_api")] == web
    assert not any(key.startswith("svc_web_postgres") or key.startswith("svc_db_api") for key in services)
    assert labels[node_id("svc", "db_postgres")] == "postgres<br/>postgres:16-alpine"


def test_without_dns_or_lb_users_reach_the_server_directly() -> None:
    staging = mermaid({}, config_of(STAGING))
    labels, edges, _ = nodes_and_edges(staging)
    assert "dns" not in labels and "lb" not in labels and "net" not in labels
    assert ("users", "-->", node_id("srv", "app")) in edges
    assert labels[node_id("host", "app")].startswith("Docker host")


def test_labels_and_ids_are_escaped() -> None:
    assert node_id("dns", "www.example.com") == "dns_www_example_com"
    assert node_id("srv", "end") == "srv_end"
    assert label('say "hi"', "x") == '"say #quot;hi#quot;<br/>x"'


def test_checker_catches_broken_diagrams() -> None:
    assert check_flowchart("flowchart LR\n  a[\"A\"]\n  subgraph s[\"S\"]\n") == ["subgraphs not closed: s"]
    assert check_flowchart("flowchart LR\n  a[\"A\"]\n  a --> b\n") == ["line 3: edge refers to undeclared id 'b'"]
    assert check_flowchart("flowchart LR\n  a[\"A \"B\"\"]\n")[0].startswith("line 2: not a statement")
    assert check_flowchart("graph LR\n") == ["line 1: expected 'flowchart <direction>'"]
    assert check_flowchart("---\ntitle: a: b\n---\nflowchart LR\n")[0].startswith("front matter is not valid YAML")
    assert check_flowchart("flowchart LR\n  end[\"x\"]\n")  # a keyword as an id is not a node
