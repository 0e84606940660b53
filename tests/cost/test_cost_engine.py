"""Unit tests of the pricing engine: epochs, rounding, hourly cap, overrides, VAT, budget status."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from cost_stacks import build, minimal_raw, phase1_raw, seed000_raw

from config.catalogue import load_catalogue
from config.errors import ConfigError
from config.loader import validate_config
from cost.api import PlanCost, plan_sections
from cost.money import cents, dec, json_money, json_number
from cost.report import render_plan

pytestmark = pytest.mark.cost


def plan_for(raw: dict[str, Any], **kwargs: Any) -> PlanCost:
    config, spec = build(raw)
    return plan_sections(config, spec, **kwargs)


def line(plan: PlanCost, kind: str, index: int = 0) -> Any:
    return [entry for entry in plan.cost_json()["lines"] if entry["kind"] == kind][index]


# --- rounding and arithmetic ---------------------------------------------------------------------

@pytest.mark.parametrize(("exact", "rounded"), [
    ("1.298", "1.30"),   # 20 % of 6.49
    ("1.698", "1.70"),   # 20 % of 8.49
    ("1.144", "1.14"),   # 80 GB x 0.0143
    ("0.125", "0.13"),   # half-up, not banker's rounding (which gives 0.12)
    ("0.135", "0.14"),
    ("2.675", "2.68"),   # float arithmetic would give 2.67
    ("5.72", "5.72"),
])
def test_cents_round_half_up(exact: str, rounded: str) -> None:
    assert cents(Decimal(exact)) == Decimal(rounded)


def test_backup_of_649_is_130_in_the_plan() -> None:
    plan = plan_for(phase1_raw("2026-05-01"))
    backup = line(plan, "backup")
    assert backup["unit_eur"] == 6.49 and backup["quantity"] == 0.2 and backup["monthly_eur"] == 1.30


def test_total_is_the_exact_sum_of_rounded_lines() -> None:
    raw = minimal_raw(servers={"web": {"serverType": "cx23"}})
    raw["pricing"] = {"asOf": "2026-11-23", "expectedSnapshotGb": 33.3,  # 33.3 x 0.0143 = 0.47619
                      "extraLines": [{"item": "mail", "monthlyEur": 0.333}]}
    plan = plan_for(raw)
    rounded = [Decimal(str(entry["monthly_eur"])) for entry in plan.cost_json()["lines"]]
    assert plan.total_net_eur == sum(rounded)
    assert plan.total_net_eur == Decimal("5.49") + Decimal("1.10") + Decimal("0.50") + Decimal("0.48") + Decimal("0.33")
    assert plan.cost_json()["total_net_eur"] == 7.90


def test_decimal_parsing_keeps_config_floats_exact() -> None:
    assert dec(0.0572) == Decimal("0.0572")
    assert dec("0.0104000000") == Decimal("0.0104000000")
    with pytest.raises(ValueError):
        dec("n/a")
    assert json_money(Decimal("22.640")) == 22.64 and json_number(Decimal("0.0080")) == 0.008 and json_number(Decimal("20.0")) == 20


# --- epochs --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("as_of", "ordered_on", "epoch", "price"), [
    ("2026-03-31", None, "p0", "4.99"),
    ("2026-04-01", "2025-01-10", "p1", "6.49"),   # 1 April applies to existing servers too
    ("2026-06-14", None, "p1", "6.49"),
    ("2026-06-15", None, "p2", "8.49"),            # ordered on the pricing date
    ("2026-11-23", "2026-06-14", "p1", "6.49"),    # grandfathered
    ("2026-11-23", "2026-06-15", "p2", "8.49"),
])
def test_server_keeps_the_price_of_its_order_date(as_of: str, ordered_on: str | None, epoch: str, price: str) -> None:
    server: dict[str, Any] = {"serverType": "cx33"}
    if ordered_on:
        server["orderedOn"] = ordered_on
    raw = minimal_raw(servers={"web": server}, pricing={"asOf": as_of})
    entry = line(plan_for(raw), "server")
    assert (entry["epoch"], entry["unit_eur"]) == (epoch, float(price))


def test_ordered_on_none_means_the_pricing_date() -> None:
    unset = plan_for(phase1_raw(None))
    same_day = plan_for(phase1_raw("2026-11-23"))
    def strip(plan: PlanCost) -> list[dict[str, Any]]:
        return [{k: v for k, v in entry.items() if k not in ("note", "order_origin")} for entry in plan.cost_json()["lines"]]

    assert strip(unset) == strip(same_day)
    assert line(unset, "server")["note"] == "ordered 2026-11-23 (new order on the pricing date): price epoch p2 (from 2026-06-15)"
    assert (line(unset, "server")["ordered_on"], line(unset, "server")["order_origin"]) == ("2026-11-23", "new order")
    assert unset.total_net_eur == Decimal("28.04")


def test_grandfathered_server_note_names_both_prices() -> None:
    plan = plan_for(phase1_raw("2026-05-01"))
    assert any("keeps its p1 price 6.49" in note and "p2 price 8.49" in note for note in plan.price_notes)


def test_volume_and_lb_use_the_billing_epoch_of_the_pricing_date() -> None:
    raw = phase1_raw("2025-12-01")
    raw["pricing"]["asOf"] = "2026-03-01"
    plan = plan_for(raw)
    assert line(plan, "volume")["unit_eur"] == 0.044 and line(plan, "volume")["monthly_eur"] == 4.40
    assert line(plan, "load_balancer")["monthly_eur"] == 5.39
    assert line(plan, "snapshot")["unit_eur"] == 0.011


def test_server_epoch_rule_in_the_catalogue() -> None:
    catalogue = load_catalogue()
    assert catalogue.server_epoch(dt.date(2026, 7, 1), dt.date(2026, 6, 1)) == "p1"
    assert catalogue.server_epoch(dt.date(2026, 7, 1), None) == "p2"
    assert catalogue.server_epoch(dt.date(2026, 1, 1), dt.date(2026, 7, 1)) == "p0"
    assert catalogue.epoch_on(dt.date(2026, 7, 1)) == "p2"


# --- hourly billing --------------------------------------------------------------------------------

def test_hours_per_month_below_the_cap_bills_started_hours() -> None:
    raw = minimal_raw(servers={"web": {"serverType": "cx33", "hoursPerMonth": 100, "backups": False}})
    entry = line(plan_for(raw), "server")
    assert (entry["quantity"], entry["unit"], entry["unit_eur"]) == (100, "hour", 0.0136)  # derived p2 hourly
    assert entry["monthly_eur"] == 1.36
    assert entry["confidence"] == "derived" and "under the monthly cap" in entry["note"]


def test_hours_per_month_uses_a_seen_hourly_figure_when_there_is_one() -> None:
    raw = minimal_raw(servers={"web": {"serverType": "cx33", "hoursPerMonth": 100, "orderedOn": "2026-05-01", "backups": False}})
    entry = line(plan_for(raw), "server")
    assert (entry["unit_eur"], entry["monthly_eur"], entry["confidence"]) == (0.0104, 1.04, "verified")


def test_hours_per_month_is_capped_at_the_monthly_price() -> None:
    raw = minimal_raw(servers={"web": {"serverType": "cx33", "hoursPerMonth": 700}})
    plan = plan_for(raw)
    entry = line(plan, "server")
    assert (entry["quantity"], entry["unit"], entry["monthly_eur"]) == (1, "month", 8.49)  # 700 x 0.0136 = 9.52 > 8.49
    assert line(plan, "backup")["monthly_eur"] == 1.70


def test_backups_follow_the_hourly_server_amount() -> None:
    raw = minimal_raw(servers={"web": {"serverType": "cx33", "hoursPerMonth": 100}})
    assert line(plan_for(raw), "backup")["monthly_eur"] == 0.27  # 20 % of 1.36 = 0.272


# --- optional lines -------------------------------------------------------------------------------

def test_traffic_overage_beyond_the_location_allowance() -> None:
    raw = minimal_raw(pricing={"asOf": "2026-11-23", "expectedTrafficTb": 25.5})
    entry = line(plan_for(raw), "traffic")
    assert (entry["quantity"], entry["unit_eur"], entry["monthly_eur"]) == (5.5, 1, 5.50)


def test_each_server_brings_its_own_allowance() -> None:
    """Two EU servers include 20 TB each: 25 TB expected is within the pooled 40 TB (the old report
    compared it with one server's 20 TB and billed 5 TB)."""
    raw = minimal_raw(servers={"web": {"serverType": "cx23"}, "worker": {"serverType": "cx23"}}, network={},
                      pricing={"asOf": "2026-11-23", "expectedTrafficTb": 25})
    entry = line(plan_for(raw), "traffic")
    assert (entry["quantity"], entry["monthly_eur"]) == (0, 0.0)
    assert entry["item"] == "Traffic overage (25 TB expected, 40 TB included)"
    assert entry["note"].endswith("web cx23 20 TB + worker cx23 20 TB")


def test_the_load_balancer_allowance_joins_the_pool() -> None:
    raw = minimal_raw(servers={"web": {"serverType": "cx23"}, "worker": {"serverType": "cx23"}}, network={},
                      loadBalancer={"type": "lb11"}, pricing={"asOf": "2026-11-23", "expectedTrafficTb": 70})
    entry = line(plan_for(raw), "traffic")
    assert (entry["quantity"], entry["unit_eur"], entry["monthly_eur"]) == (10, 1, 10.00)  # 70 - 3 x 20
    assert entry["confidence"] == "verified"


def test_traffic_within_the_allowance_costs_nothing() -> None:
    raw = minimal_raw(pricing={"asOf": "2026-11-23", "expectedTrafficTb": 12})
    assert line(plan_for(raw), "traffic")["monthly_eur"] == 0.0


def test_us_location_has_a_smaller_allowance_and_eu_prices_are_flagged() -> None:
    raw = minimal_raw(location="ash", servers={"web": {"serverType": "ccx13"}},
                      pricing={"asOf": "2026-11-23", "expectedTrafficTb": 3})
    plan = plan_for(raw)
    assert line(plan, "traffic")["quantity"] == 2  # 3 TB - 1 TB included in ash
    server = line(plan, "server")
    assert server["estimate"] is True and server["source"] == "catalogue 2026-11-23 (estimate)"
    assert any("no catalogue p2 price for ash (us-east); the EU p2 price is used as an estimate" in note
               for note in plan.price_notes)


def test_legacy_type_without_a_catalogue_price_is_unknown_not_zero() -> None:
    raw = minimal_raw(location="hil", servers={"web": {"serverType": "cpx21", "backups": False}})
    plan = plan_for(raw)
    server = line(plan, "server")
    assert server["monthly_eur"] is None and server["confidence"] == "unknown"
    assert plan.cost_json()["complete"] is False
    assert any("no price known for Server web (cpx21)" in warning for warning in plan.warnings)


def test_a_pre_2026_regional_price_is_not_used_for_a_2026_epoch() -> None:
    """cpx11's only US figure (4.49) is from 2025: the 2026 increases applied at every location, so for a
    plan priced in November 2026 it would understate; the price is unknown (and the plan incomplete)."""
    raw = minimal_raw(location="ash", servers={"web": {"serverType": "cpx11", "backups": False}})
    plan = plan_for(raw)
    server = line(plan, "server")
    assert (server["unit_eur"], server["confidence"]) == (None, "unknown")
    assert plan.status == "incomplete"


def test_the_regional_price_of_its_own_epoch_is_used() -> None:
    raw = minimal_raw(location="ash", servers={"web": {"serverType": "cpx11", "backups": False}},
                      pricing={"asOf": "2026-03-01"})
    server = line(plan_for(raw), "server")
    assert (server["unit_eur"], server["confidence"]) == (4.49, "verified")


def test_extra_lines_are_added_with_their_source() -> None:
    raw = minimal_raw(pricing={"asOf": "2026-11-23", "extraLines": [
        {"item": "Object storage", "monthlyEur": 5.99, "note": "1 TB bucket"},
        {"item": "Domain", "monthlyEur": 1.25},
    ]})
    plan = plan_for(raw)
    extras = [entry for entry in plan.cost_json()["lines"] if entry["kind"] == "external"]
    assert [(e["item"], e["monthly_eur"], e["source"], e["note"]) for e in extras] == [
        ("Object storage", 5.99, "config pricing.extraLines", "1 TB bucket"),
        ("Domain", 1.25, "config pricing.extraLines", None),
    ]
    assert plan.total_net_eur == Decimal("5.49") + Decimal("1.10") + Decimal("0.50") + Decimal("5.99") + Decimal("1.25")


def test_free_resources_are_not_priced() -> None:
    raw = phase1_raw("2026-05-01")
    kinds = {entry["kind"] for entry in plan_for(raw).cost_json()["lines"]}
    assert kinds == {"server", "backup", "primary_ip", "volume", "load_balancer", "floating_ip", "snapshot"}


# --- overrides --------------------------------------------------------------------------------------

def test_overrides_replace_any_price() -> None:
    raw = phase1_raw("2026-07-01")
    raw["pricing"]["overrides"] = {
        "server:cx33": 6.49, "volume_gb": 0.05, "lb:lb11": 5.39, "floating_ip:ipv4": 1.19,
        "primary_ip:ipv4": 0.6, "snapshot_gb": 0.01,
    }
    plan = plan_for(raw)
    got = {entry["kind"]: (entry["monthly_eur"], entry["source"]) for entry in plan.cost_json()["lines"] if entry["kind"] != "primary_ip"}
    assert got == {
        "server": (6.49, "override"), "backup": (1.30, "override"), "volume": (5.00, "override"),
        "load_balancer": (5.39, "override"), "floating_ip": (1.19, "override"), "snapshot": (0.80, "override"),
    }
    assert line(plan, "primary_ip")["monthly_eur"] == 0.60
    assert not any("estimated prices" in warning for warning in plan.warnings)


def test_unknown_override_key_is_a_warning() -> None:
    raw = minimal_raw(pricing={"asOf": "2026-11-23", "overrides": {"sever:cx23": 1}})
    plan = plan_for(raw)
    assert any("'sever:cx23' is not a price key" in warning for warning in plan.warnings)
    assert line(plan, "server")["source"].startswith("catalogue")


# --- VAT --------------------------------------------------------------------------------------------

def test_gross_is_unknown_without_a_vat_rate() -> None:
    document = plan_for(minimal_raw()).cost_json()
    assert document["vat_rate_percent"] is None and document["total_gross_eur"] is None
    assert all(entry["gross_eur"] is None for entry in document["lines"])


def test_gross_from_the_configured_vat_rate() -> None:
    plan = plan_for(minimal_raw(pricing={"asOf": "2026-11-23", "vatRatePercent": 20}))
    document = plan.cost_json()
    assert document["vat_rate_percent"] == 20 and document["vat_source"] == "config pricing.vatRatePercent"
    # 5.49 -> 6.588 -> 6.59; 1.10 -> 1.32; 0.50 -> 0.60; 0.00
    assert [entry["gross_eur"] for entry in document["lines"]] == [6.59, 1.32, 0.60, 0.0]
    # VAT on the net total, as the invoice computes it: 7.09 x 0.20 = 1.418 -> 1.42; gross 8.51
    assert (document["total_net_eur"], document["vat_eur"], document["total_gross_eur"]) == (7.09, 1.42, 8.51)


def test_vat_is_computed_on_the_net_total_not_summed_per_line() -> None:
    """Seed 000 at 19 %: rounding each line's gross adds a cent (92.52); the invoice rounds the VAT on
    the net total once: 77.74 + round(77.74 x 0.19 = 14.7706) = 92.51."""
    plan = plan_for(seed000_raw())
    gross_lines = sum((line.gross_eur(plan.vat_rate_percent) or Decimal(0) for line in plan.lines), Decimal(0))
    assert gross_lines == Decimal("92.52")  # what the old report printed as the gross total
    assert plan.total_net_eur == Decimal("77.74")
    assert plan.vat_eur == Decimal("14.77")  # 77.74 x 0.19 = 14.7706
    assert plan.total_gross_eur == Decimal("92.51")
    assert "VAT 19 % (config pricing.vatRatePercent)              14.77" in render_plan(plan)


# --- budget ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("monthly", "warn", "critical", "status"), [
    (50, 40, 45, "ok"),          # 25.64
    (50, 25.64, 45, "warn"),     # at the warn threshold
    (30, 20, 25.64, "critical"),
    (25.64, 20, 25, "critical"),  # equal to the budget is not over
    (25.63, 20, 25, "over"),
])
def test_budget_status(monthly: float, warn: float, critical: float, status: str) -> None:
    raw = phase1_raw("2026-05-01")
    raw["budget"] = {"monthlyEur": monthly, "warnEur": warn, "criticalEur": critical, "enforce": True}
    raw["app"] = {"services": {}}
    plan = plan_for(raw)
    assert plan.total_net_eur == Decimal("25.64")
    assert plan.status == status
    assert plan.exit_code() == (1 if status == "over" else 0)


def test_default_thresholds_are_80_and_90_percent() -> None:
    document = plan_for(minimal_raw(budget={"monthlyEur": 20})).cost_json()
    assert (document["budget_eur"], document["warn_eur"], document["critical_eur"]) == (20.0, 16.0, 18.0)


def test_over_an_unenforced_budget_warns_but_exits_zero() -> None:
    plan = plan_for(minimal_raw(budget={"monthlyEur": 5, "enforce": False}))
    assert plan.status == "over" and plan.exit_code() == 0 and plan.guard_message() is None
    assert any(warning.startswith("budget over:") and "not blocking" in warning for warning in plan.warnings)


def test_guard_message_names_budget_total_and_three_biggest_lines() -> None:
    raw = phase1_raw("2026-07-01")
    raw["budget"] = {"monthlyEur": 20, "enforce": True}
    raw["app"] = {"services": {}}
    plan = plan_for(raw)
    message = plan.guard_message()
    assert message is not None
    assert "EUR 28.04/month" in message and "budget of EUR 20.00" in message and "by EUR 8.04" in message
    assert "Biggest lines: Server app (cx33) EUR 8.49, Load balancer lb11 EUR 7.49, Volume data (100 GB) EUR 5.72." in message
    assert "\n" not in message
    assert plan.exit_code() == 1


def test_warn_status_has_a_warning_line() -> None:
    raw = minimal_raw(budget={"monthlyEur": 8, "warnEur": 7, "criticalEur": 7.5})
    plan = plan_for(raw)
    assert plan.status == "warn"
    assert any(w.startswith("budget warn:") and "EUR 7.09/month" in w for w in plan.warnings)


# --- config validation of retired types ---------------------------------------------------------

def test_retired_cx32_is_rejected_with_cx33_suggested() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config(minimal_raw(servers={"web": {"serverType": "cx32"}}))
    issues = {issue.path: issue.reason for issue in caught.value.issues}
    assert "servers.web.serverType" in issues
    assert "retired" in issues["servers.web.serverType"] and "'cx33'" in issues["servers.web.serverType"]
    assert "2025-10-16" in issues["servers.web.serverType"]


def test_type_not_sold_in_region_suggests_the_regional_replacement() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config(minimal_raw(servers={"web": {"serverType": "cpx31"}}))
    assert any("use 'cpx32'" in issue.reason for issue in caught.value.issues)


# --- report ------------------------------------------------------------------------------------

def test_render_text_has_the_table_budget_and_allocation_summary() -> None:
    text = render_plan(plan_for(phase1_raw("2026-05-01")))
    assert "Total net" in text and "25.64" in text
    assert "Budget: EUR 50.00/month net" in text
    assert "Resource Allocation Summary: server app (cx33" in text
    assert "├─ postgres:" in text and "Total Used:" in text and "Available Buffer:" in text


def test_snapshot_before_resize_is_mentioned_when_not_counted() -> None:
    raw = minimal_raw(servers={"web": {"serverType": "cx33", "snapshotBeforeResize": True}})
    plan = plan_for(raw)
    assert any("snapshotBeforeResize keeps a snapshot of up to 80 GB (at most EUR 1.14/month)" in n for n in plan.price_notes)
    raw["pricing"]["expectedSnapshotGb"] = 40
    assert not any("snapshotBeforeResize" in n for n in plan_for(raw).price_notes)


# --- confidence labels match their sources -------------------------------------------------------

def test_lb21_new_epoch_price_is_an_estimate() -> None:
    """LB21's 21.49 rests on one client-library test fixture: not 'verified'."""
    raw = minimal_raw(loadBalancer={"type": "lb21"}, network={})
    entry = line(plan_for(raw), "load_balancer")
    assert (entry["monthly_eur"], entry["confidence"], entry["estimate"]) == (21.49, "estimate", True)


def test_us_traffic_allowance_is_an_estimate() -> None:
    """Hetzner gives 1-5 TB per type in the US; the flat 1 TB was seen for cpx11 only."""
    raw = minimal_raw(location="ash", servers={"web": {"serverType": "ccx13"}},
                      pricing={"asOf": "2026-11-23", "expectedTrafficTb": 3})
    entry = line(plan_for(raw), "traffic")
    assert (entry["confidence"], entry["estimate"]) == ("estimate", True)


def test_ccx_allowance_in_the_eu_is_only_a_floor() -> None:
    raw = minimal_raw(servers={"web": {"serverType": "ccx13"}}, pricing={"asOf": "2026-11-23", "expectedTrafficTb": 30})
    entry = line(plan_for(raw), "traffic")
    assert (entry["quantity"], entry["confidence"]) == (10, "estimate")
    cx = line(plan_for(minimal_raw(pricing={"asOf": "2026-11-23", "expectedTrafficTb": 30})), "traffic")
    assert cx["confidence"] == "verified"


# --- incomplete totals --------------------------------------------------------------------------------

def test_an_unpriced_line_makes_the_status_incomplete_and_an_enforced_plan_exit_1() -> None:
    """A cpx21 in ash has no catalogue price: the total is a lower bound, so an enforced budget must not
    say OK (it did: the line was left out and EUR 0.50 passed a EUR 20 budget)."""
    raw = minimal_raw(location="ash", servers={"web": {"serverType": "cpx21", "backups": False}},
                      budget={"monthlyEur": 20, "enforce": True})
    plan = plan_for(raw)
    assert plan.status == "incomplete" and plan.cost_json()["status"] == "incomplete"
    assert plan.exit_code() == 1
    message = plan.guard_message()
    assert message is not None and message.startswith("Budget guard: stack demo-staging cannot be checked against its budget")
    assert "no price known for Server web (cpx21)" in message
    assert "pricing.overrides (server:cpx21: <EUR net/month>)" in message and "--live-prices" in message
    text = render_plan(plan)
    assert "Total net of the priced lines (INCOMPLETE)" in text
    assert "! incomplete: no price known for Server web (cpx21)" in text and "server:cpx21" in text
    assert "INCOMPLETE, cannot be checked: 1 line(s) without a price" in text


def test_incomplete_under_an_unenforced_budget_warns_but_exits_0() -> None:
    raw = minimal_raw(location="ash", servers={"web": {"serverType": "cpx21", "backups": False}},
                      budget={"monthlyEur": 20, "enforce": False})
    plan = plan_for(raw)
    assert plan.status == "incomplete" and plan.exit_code() == 0 and plan.guard_message() is None
    assert any(w.startswith("budget incomplete: no price known for Server web (cpx21)") and "not blocking" in w
               for w in plan.warnings)


def test_an_override_completes_the_plan() -> None:
    raw = minimal_raw(location="ash", servers={"web": {"serverType": "cpx21", "backups": False}},
                      budget={"monthlyEur": 20, "enforce": True},
                      pricing={"asOf": "2026-11-23", "overrides": {"server:cpx21": 9.49}})
    plan = plan_for(raw)
    assert plan.status == "ok" and plan.exit_code() == 0 and plan.cost_json()["complete"] is True
