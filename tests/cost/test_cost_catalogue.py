"""The dated price catalogue: internal consistency of the data file and the API config validation uses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal

import pytest

from config.catalogue import EPOCHS, LoadBalancerType, PricedItem, RegionalPrice, ServerType, load_catalogue, weakest

pytestmark = pytest.mark.cost

CATALOGUE = load_catalogue()
LEVELS = {"verified", "derived", "estimate"}


def derived_hourly(monthly: Decimal) -> Decimal:
    return (monthly / CATALOGUE.hours_to_cap).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def priced_items() -> Iterator[ServerType | LoadBalancerType | PricedItem | RegionalPrice]:
    yield from CATALOGUE.server_types.values()
    yield from CATALOGUE.load_balancer_types.values()
    yield from CATALOGUE.primary_ips.values()
    for server_type in CATALOGUE.server_types.values():
        yield from server_type.regional.values()


def test_every_hourly_figure_is_the_monthly_cap_over_624_hours() -> None:
    checked = 0
    for item in priced_items():
        for epoch, hourly in item.hourly.items():
            assert hourly == derived_hourly(item.monthly[epoch]), (item, epoch)
            checked += 1
    assert checked > 60


def test_current_types_have_hourly_figures_for_every_priced_epoch() -> None:
    for server_type in CATALOGUE.server_types.values():
        assert set(server_type.hourly) == set(server_type.monthly), server_type.name


def test_current_types_have_all_epochs_and_prices_never_went_down() -> None:
    for server_type in CATALOGUE.server_types.values():
        if server_type.family == "regular-performance-legacy":
            assert not server_type.monthly  # US prices unknown: live API or override
            continue
        if server_type.name == "cpx12":  # first seen in 2026: only its p2 price is known
            assert list(server_type.monthly) == ["p2"]
            continue
        assert list(server_type.monthly) == list(EPOCHS), server_type.name
        prices = [server_type.monthly[epoch] for epoch in EPOCHS]
        assert prices == sorted(prices), server_type.name


def test_confidence_levels_are_known() -> None:
    for item in priced_items():
        assert item.confidence in LEVELS
        assert set(item.epoch_confidence.values()) <= LEVELS
        assert set(item.hourly_seen) <= set(EPOCHS)
    assert CATALOGUE.load_balancer_types["lb21"].confidence_for("p0") == "estimate"
    assert CATALOGUE.server_types["cx33"].confidence_for("p1", hourly=True) == "verified"  # seen in an API answer
    assert CATALOGUE.server_types["cx33"].confidence_for("p2", hourly=True) == "derived"
    assert weakest("verified", "estimate", "derived") == "estimate"


def test_retired_types_point_at_current_eu_types() -> None:
    for retired in CATALOGUE.retired.values():
        replacement = CATALOGUE.server_types[retired.replacement]
        assert replacement.monthly and "eu" in replacement.regions
        assert retired.name not in CATALOGUE.server_types
    assert CATALOGUE.retired["cx32"].deprecated == "2025-10-16" and CATALOGUE.retired["cx32"].replacement == "cx33"
    for region, mapping in CATALOGUE.regional_replacements.items():
        for old, new in mapping.items():
            assert region not in CATALOGUE.server_types[old].regions and region in CATALOGUE.server_types[new].regions


def test_epochs_and_the_new_order_rule() -> None:
    assert [CATALOGUE.epoch_starts[e] for e in EPOCHS[1:]] == [dt.date(2026, 4, 1), dt.date(2026, 6, 15)]
    assert CATALOGUE.epoch_applies == {"p0": "all", "p1": "all", "p2": "new_server_orders"}
    assert CATALOGUE.latest_epoch == "p2"
    # Volumes, IPs and load balancers did not change on 2026-06-15.
    assert CATALOGUE.volume_per_gb.monthly["p2"] == CATALOGUE.volume_per_gb.monthly["p1"] == Decimal("0.0572")
    assert CATALOGUE.load_balancer_types["lb11"].monthly["p2"] == CATALOGUE.load_balancer_types["lb11"].monthly["p1"]


def test_sources_are_listed_with_dates() -> None:
    assert len(CATALOGUE.sources) >= 10
    for source in CATALOGUE.sources.values():
        assert source.what and source.date and source.covers
    assert dt.date.fromisoformat(CATALOGUE.taken_on)


def test_floating_ips_are_flagged_as_estimates() -> None:
    assert all(item.confidence == "estimate" for item in CATALOGUE.floating_ips.values())


def test_the_questions_config_validation_asks_still_work() -> None:
    assert CATALOGUE.server_type_problem("cx33", "nbg1") is None
    assert "use 'cx33'" in (CATALOGUE.server_type_problem("cx32", "") or "")
    assert "not sold in nbg1" in (CATALOGUE.server_type_problem("cpx41", "nbg1") or "")
    assert CATALOGUE.load_balancer_problem("lb11", "fsn1") is None
    assert "unknown load balancer type" in (CATALOGUE.load_balancer_problem("lb99", "fsn1") or "")
    assert (CATALOGUE.volume_min_gb, CATALOGUE.volume_max_gb) == (10, 10240)
    assert CATALOGUE.locations["nbg1"].network_zone == "eu-central"
    assert CATALOGUE.current_server_types("nbg1")[0].name == "cx23"
    assert "cpx11" not in [t.name for t in CATALOGUE.current_server_types("ash")]
