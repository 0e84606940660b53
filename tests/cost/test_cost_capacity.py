"""Capacity: services' limits per server against the type minus the reserve, with a sizing suggestion."""

from __future__ import annotations

from typing import Any

import pytest
from cost_stacks import build, minimal_raw

from config.catalogue import load_catalogue
from cost.api import PlanCost, plan_sections
from cost.report import render_plan

pytestmark = pytest.mark.cost


def service(role: str, cpus: float, memory: str, **extra: Any) -> dict[str, Any]:
    return {"image": "ghcr.io/example/app:1.0", "role": role, "limits": {"cpus": cpus, "memory": memory}, **extra}


def plan_for(raw: dict[str, Any]) -> PlanCost:
    config, spec = build(raw)
    return plan_sections(config, spec)


def servers(plan: PlanCost) -> dict[str, dict[str, Any]]:
    return {entry["server"]: entry for entry in plan.capacity_json()["servers"]}


def multi_server_raw() -> dict[str, Any]:
    return minimal_raw(
        servers={
            "web1": {"serverType": "cx23", "roles": ["web"]},
            "web2": {"serverType": "cx23", "roles": ["web"]},
            "db": {"serverType": "cx33", "roles": ["db", "worker"]},
        },
        network={},
        # Two proxies behind one name need DNS-01 (Cloudflare) for their certificates.
        dns={"zone": "demo.example", "records": [{"name": "@"}]},
        app={
            "domain": "demo.example", "acmeEmail": "ops@demo.example",
            "services": {
                "api": service("web", 1.0, "1G", expose={"port": 8000}),
                "uploads": service("web", 0.25, "256M", volumes={"files": "/srv/files"}, server="web1"),
                "postgres": service("db", 1.0, "2G", configFiles={"kind": "postgres"}),
                "worker": service("worker", 1.0, "1G"),
            },
        },
    )


def test_services_run_where_the_compose_files_put_them() -> None:
    result = servers(plan_for(multi_server_raw()))
    names = {server: [s["name"] for s in entry["services"]] for server, entry in result.items()}
    # api is stateless: a replica on each web server, each with the proxy; uploads is pinned; db gets the rest.
    assert names == {"web1": ["api", "uploads", "traefik"], "web2": ["api", "traefik"], "db": ["postgres", "worker"]}
    assert (result["web1"]["vcpu_allocated"], result["web1"]["ram_gb_allocated"]) == (1.5, 1.375)
    assert (result["db"]["vcpu_allocated"], result["db"]["ram_gb_allocated"]) == (2, 3)
    assert all(entry["ok"] for entry in result.values())


def test_over_ram_suggests_the_cheapest_fitting_type_with_the_delta() -> None:
    raw = minimal_raw(app={"services": {"db": service("web", 1.0, "4G")}})
    result = plan_for(raw)
    entry = servers(result)["web"]
    assert entry["ok"] is False
    assert entry["problems"] == ["RAM: services need 4 GB + 1 GB reserve = 5 GB, cx23 has 4 GB"]
    # cx33 would fit for less, but the catalogue marks the Cost-Optimized line not orderable.
    assert entry["suggestion"] == {
        "server_type": "cpx32", "vcpu": 4, "ram_gb": 8, "monthly_eur": 35.49,
        "delta_eur": 30.0, "delta_with_backups_eur": 36.0, "source": "catalogue 2026-11-23 (verified)",
        "orderable_source": "orderable per catalogue 2026-11-23",
    }
    assert result.exit_code() == 1 and result.status == "ok"
    assert any(w.startswith("over capacity on server web (cx23): RAM") and "cpx32 EUR 35.49/month (+30.00/month)" in w
               for w in result.warnings)
    assert "Cheapest type that fits: cpx32 (4 vCPU, 8 GB RAM), EUR 35.49/month as a new order: +30.00/month (+36.00 with backups)" in (
        render_plan(result))


def test_suggestions_come_only_from_orderable_types() -> None:
    """The plan flags the Cost-Optimized line (cx*, cax*) as possibly not orderable: no suggestion,
    rescale or split may propose one of its types."""
    not_orderable = {name for name, t in load_catalogue().server_types.items() if t.family == "cost-optimized"}
    raw = minimal_raw(
        servers={"web": {"serverType": "cx23"}},
        app={"services": {"api": service("web", 1.5, "3G"), "pg": service("db", 0.5, "1G"), "jobs": service("worker", 0.5, "512M")}},
    )
    result = plan_for(raw)
    suggestion = servers(result)["web"]["suggestion"]
    assert suggestion is not None and suggestion["server_type"] not in not_orderable
    proposed = {s["server_type"] for option in result.cost_json()["upgrade_options"] for s in option["servers"]}
    assert proposed and not proposed & not_orderable, proposed


def test_suggestion_keeps_the_cpu_architecture() -> None:
    raw = minimal_raw(servers={"web": {"serverType": "cax11", "backups": False}}, app={"services": {"app": service("web", 1, "6G")}})
    # Every Arm type is Cost-Optimized, which the catalogue marks not orderable: no x86 type instead.
    result = plan_for(raw)
    assert servers(result)["web"]["suggestion"] is None
    assert "No current type in this location fits" in render_plan(result)


def test_exact_fit_is_ok() -> None:
    # cx23: 2 vCPU / 4 GB; reserve 0.5 / 1 -> 1.5 vCPU and 3 GB for services
    raw = minimal_raw(app={"services": {"a": service("web", 1.0, "2G"), "b": service("web", 0.5, "1024M")}})
    entry = servers(plan_for(raw))["web"]
    assert (entry["vcpu_available"], entry["ram_gb_available"]) == (1.5, 3)
    assert entry["ok"] is True and entry["suggestion"] is None


def test_reserve_comes_from_the_config() -> None:
    raw = minimal_raw(capacity={"reserveRamGb": 0, "reserveVcpu": 0}, app={"services": {"a": service("web", 2.0, "4G")}})
    entry = servers(plan_for(raw))["web"]
    assert (entry["reserve_vcpu"], entry["reserve_ram_gb"], entry["ok"]) == (0, 0, True)


def test_no_services_fit_trivially() -> None:
    result = plan_for(minimal_raw())
    entry = servers(result)["web"]
    assert entry["services"] == [] and entry["ok"] is True and result.exit_code() == 0
    assert "(no services)" in render_plan(result)


def test_nothing_fits_says_so() -> None:
    raw = minimal_raw(app={"services": {"huge": service("web", 60, "8G")}})
    result = plan_for(raw)
    assert servers(result)["web"]["suggestion"] is None
    assert "No current type in this location fits" in render_plan(result)


def test_upgrade_options_for_a_single_server() -> None:
    raw = minimal_raw(
        servers={"web": {"serverType": "cx23"}},
        app={"services": {"api": service("web", 0.5, "1G"), "pg": service("db", 0.5, "1G"), "jobs": service("worker", 0.5, "512M")}},
    )
    options = plan_for(raw).cost_json()["upgrade_options"]
    assert [option["kind"] for option in options] == ["rescale", "split"]
    rescale, split = options
    # No bigger Cost-Optimized type is orderable: the cheapest bigger orderable x86 type instead.
    assert rescale["title"].startswith("Rescale web: cx23 -> cpx32")
    assert rescale["total_net_eur"] == 43.09 and rescale["delta_eur"] == 36.0  # 35.49 + 7.10 + 0.50
    assert "no bigger cost-optimized type is orderable in nbg1" in rescale["notes"]
    assert [(s["name"], s["server_type"]) for s in split["servers"]] == [("web", "cpx12"), ("db", "cpx12"), ("worker", "cpx12")]
    assert split["total_net_eur"] == 42.87  # 3 x (11.49 + 2.30 + 0.50)


def test_no_split_option_for_a_multi_server_stack() -> None:
    options = plan_for(multi_server_raw()).cost_json()["upgrade_options"]
    assert [option["kind"] for option in options] == ["rescale"]
    assert options[0]["title"].startswith("Rescale web1: cx23 -> cpx32")  # the busiest server (2 of 2 vCPU)
