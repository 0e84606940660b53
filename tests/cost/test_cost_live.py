"""Live refresh over real HTTP: the official hcloud client against the loopback fake of /v1/pricing."""

from __future__ import annotations

import io
import socket
import time
from decimal import Decimal
from typing import Any

import pytest
from cost_stacks import build, minimal_raw, phase1_raw
from fake_pricing_api import VALID_TOKEN, FakePricingApi, realistic_pricing_document

from cli.cost_command import run_cost_command
from cost.api import PlanCost, plan_sections
from cost.live import LivePricingError, parse_pricing
from tests.stacks import write_stack_file

pytestmark = pytest.mark.cost


def plan(raw: dict[str, Any], fake: FakePricingApi | None, *, token: str | None = VALID_TOKEN, timeout: float = 2.0) -> PlanCost:
    config, spec = build(raw)
    endpoint = fake.endpoint if fake is not None else None
    return plan_sections(config, spec, live=True, token=token, endpoint=endpoint, live_timeout=timeout)


def by_kind(result: PlanCost) -> dict[str, dict[str, Any]]:
    return {entry["kind"]: entry for entry in result.cost_json()["lines"]}


def test_live_prices_replace_the_current_epoch_but_not_a_grandfathered_server(fake_api: FakePricingApi) -> None:
    result = plan(phase1_raw("2026-05-01"), fake_api)
    lines = by_kind(result)
    # Ordered before 2026-06-15: the invoice keeps p1, which the API (current prices only) cannot show.
    assert (lines["server"]["monthly_eur"], lines["server"]["source"]) == (6.49, "catalogue 2026-11-23 (verified)")
    assert (lines["backup"]["monthly_eur"], lines["backup"]["source"]) == (1.30, "catalogue 2026-11-23 (verified)")
    for kind in ("primary_ip", "volume", "load_balancer", "floating_ip", "snapshot"):
        assert lines[kind]["source"] == "live /v1/pricing", kind
    assert lines["floating_ip"]["monthly_eur"] == 3.57 and lines["floating_ip"]["estimate"] is False
    assert result.total_net_eur == Decimal("26.21")  # 22.64 + 3.57
    document = result.cost_json()
    assert document["live"] == {"requested": True, "used": True, "endpoint": fake_api.endpoint, "error": None}
    assert (document["vat_rate_percent"], document["vat_source"]) == (19, "live /v1/pricing vat_rate")
    assert document["total_gross_eur"] == 31.19  # VAT on the net total (the rounded gross lines add up to 31.20)
    assert not any("estimated prices" in warning for warning in result.warnings)
    assert [request["path"] for request in fake_api.requests] == ["/v1/pricing", "/v1/datacenters"]
    request = fake_api.requests[0]
    assert request["authorization"] == f"Bearer {VALID_TOKEN}"
    assert "hetzner-platform" in request["user_agent"] and "hcloud-python" in request["user_agent"]


def test_live_prices_for_a_new_order(fake_api: FakePricingApi) -> None:
    lines = by_kind(plan(phase1_raw("2026-07-01"), fake_api))
    assert (lines["server"]["monthly_eur"], lines["server"]["source"]) == (8.49, "live /v1/pricing")
    assert (lines["backup"]["monthly_eur"], lines["backup"]["source"]) == (1.70, "live /v1/pricing")


def test_live_price_differing_from_the_catalogue_is_used_and_noted(fake_api: FakePricingApi) -> None:
    for entry in fake_api.document["pricing"]["server_types"]:
        if entry["name"] == "cx33":
            for price in entry["prices"]:
                price["price_monthly"] = {"net": "9.9900000000", "gross": "11.8881000000000000"}
    result = plan(phase1_raw(None), fake_api)
    assert by_kind(result)["server"]["monthly_eur"] == 9.99
    assert any("cx33 in nbg1: live price 9.99 differs from the catalogue's p2 figure 8.49" in n for n in result.price_notes)


def test_type_missing_from_the_live_answer_falls_back_to_the_catalogue(fake_api: FakePricingApi) -> None:
    fake_api.document["pricing"]["server_types"] = [e for e in fake_api.document["pricing"]["server_types"] if e["name"] != "cx33"]
    result = plan(phase1_raw(None), fake_api)
    assert by_kind(result)["server"]["source"] == "catalogue 2026-11-23 (verified)"
    assert by_kind(result)["volume"]["source"] == "live /v1/pricing"
    assert any("cx33 in nbg1: not in the live /v1/pricing answer" in note for note in result.price_notes)


def test_configured_vat_wins_over_the_api_rate(fake_api: FakePricingApi) -> None:
    raw = phase1_raw("2026-05-01")
    raw["pricing"]["vatRatePercent"] = 0  # reverse charge
    document = plan(raw, fake_api).cost_json()
    assert (document["vat_rate_percent"], document["total_gross_eur"]) == (0, document["total_net_eur"])


def test_live_is_not_used_for_a_past_pricing_date(fake_api: FakePricingApi) -> None:
    raw = phase1_raw("2026-01-10")
    raw["pricing"]["asOf"] = "2026-05-01"
    result = plan(raw, fake_api)
    assert {entry["source"] for entry in result.cost_json()["lines"]} <= {
        "catalogue 2026-11-23 (verified)", "catalogue 2026-11-23 (derived)", "catalogue 2026-11-23 (estimate)"}
    assert any("Live prices not used" in note for note in result.price_notes)


# --- failures: one clear line, catalogue fallback, no crash -----------------------------------------

FAILURES = [
    ("http_500", "HTTP 500 Internal Server Error"),
    ("malformed", "HTTP 200 but the body is not valid JSON"),
    ("empty", "missing key (answer).pricing"),
    ("missing_keys", "missing key pricing.server_types"),
    ("bad_amount", "pricing.volume.price_per_gb_month.net: 'n/a' is not a decimal amount"),
    ("usd", "prices are in USD, the plan is in EUR"),
]


def assert_catalogue_fallback(result: PlanCost, fragment: str) -> None:
    offline = plan(phase1_raw("2026-05-01"), None, token=None)
    assert result.cost_json()["lines"] == offline.cost_json()["lines"]
    assert result.total_net_eur == offline.total_net_eur == Decimal("25.64")
    first = result.warnings[0]
    assert first.startswith("live /v1/pricing not used: ") and first.endswith("; prices come from catalogue 2026-11-23")
    assert fragment in first, first
    assert "\n" not in first and VALID_TOKEN not in first
    assert result.cost_json()["live"]["used"] is False and result.cost_json()["live"]["error"] in first
    assert result.exit_code() == offline.exit_code()


@pytest.mark.parametrize(("mode", "fragment"), FAILURES)
def test_bad_answers_fall_back_to_the_catalogue(fake_api: FakePricingApi, mode: str, fragment: str) -> None:
    fake_api.mode = mode
    result = plan(phase1_raw("2026-05-01"), fake_api)
    assert_catalogue_fallback(result, fragment)
    assert len(fake_api.requests) == 1  # no retry storm


def test_unauthorized_token(fake_api: FakePricingApi) -> None:
    result = plan(phase1_raw("2026-05-01"), fake_api, token="wrong-token")
    assert_catalogue_fallback(result, "API error 'unauthorized': unable to authenticate")
    assert fake_api.requests[0]["authorization"] == "Bearer wrong-token"


def test_timeout(fake_api: FakePricingApi) -> None:
    fake_api.mode = "slow"
    started = time.monotonic()
    result = plan(phase1_raw("2026-05-01"), fake_api, timeout=0.3)
    assert time.monotonic() - started < 2.0
    assert_catalogue_fallback(result, f"no answer from {fake_api.endpoint}/pricing within 0.3 s")


def test_connection_refused() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config, spec = build(phase1_raw("2026-05-01"))
    result = plan_sections(config, spec, live=True, token=VALID_TOKEN, endpoint=f"http://127.0.0.1:{port}/v1", live_timeout=1)
    assert_catalogue_fallback(result, f"cannot connect to http://127.0.0.1:{port}/v1")


# --- when the live read happens at all ---------------------------------------------------------------

def test_without_the_request_a_token_is_never_used(fake_api: FakePricingApi) -> None:
    """Live prices only on request: a token alone (and pricing.live in the stack file) reads nothing."""
    raw = phase1_raw("2026-05-01")
    raw["pricing"]["live"] = True
    config, spec = build(raw)
    result = plan_sections(config, spec, token=VALID_TOKEN, endpoint=fake_api.endpoint)
    assert fake_api.requests == [] and result.cost_json()["live"]["requested"] is False
    assert any("live prices not requested" in note for note in result.price_notes)


def test_requested_without_a_token_warns_and_calls_nothing(fake_api: FakePricingApi) -> None:
    result = plan(phase1_raw("2026-05-01"), fake_api, token=None)
    assert fake_api.requests == [] and result.cost_json()["live"]["used"] is False
    assert result.warnings[0] == "live /v1/pricing not used: no HCLOUD_TOKEN; prices come from catalogue 2026-11-23"


def test_live_availability_decides_the_suggestions(fake_api: FakePricingApi) -> None:
    """The live /v1/datacenters answer lists cx43 as available in nbg1: the catalogue's 'not available'
    mark gives way, and the suggestion says where its availability came from."""
    suggestion = plan(phase1_raw("2026-05-01"), fake_api).capacity_json()["servers"][0]["suggestion"]
    assert (suggestion["server_type"], suggestion["orderable_source"]) == ("cx43", "orderable per live /v1/datacenters")
    cx43 = 110
    for datacenter in fake_api.datacenters["datacenters"]:
        datacenter["server_types"]["available"] = [i for i in datacenter["server_types"]["available"] if i != cx43]
    suggestion = plan(phase1_raw("2026-05-01"), fake_api).capacity_json()["servers"][0]["suggestion"]
    assert suggestion["server_type"] != "cx43"


def test_endpoint_from_the_environment(fake_api: FakePricingApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HCLOUD_ENDPOINT", fake_api.endpoint + "/")
    config, spec = build(minimal_raw())
    result = plan_sections(config, spec, live=True, token=VALID_TOKEN)
    assert result.cost_json()["live"]["endpoint"] == fake_api.endpoint and len(fake_api.requests) == 2


def test_cost_command_reads_token_and_endpoint_from_the_environment(fake_api: FakePricingApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HCLOUD_TOKEN", VALID_TOKEN)
    monkeypatch.setenv("HCLOUD_ENDPOINT", fake_api.endpoint)
    config, spec = build(phase1_raw("2026-07-01"))
    offline = io.StringIO()
    run_cost_command(config, spec, offline)  # `cost` without --live: the token in the environment is not used
    assert fake_api.requests == [] and "live /v1/pricing" not in offline.getvalue()
    out = io.StringIO()
    code = run_cost_command(config, spec, out, live=True)
    text = out.getvalue()
    assert code == 1  # the seed services over-commit the cx33's CPUs
    assert "live /v1/pricing" in text and "VAT 19 % (live /v1/pricing vat_rate)" in text
    assert "Upgrade options" in text and len(fake_api.requests) == 2


# --- the parser on its own ---------------------------------------------------------------------------

def test_parser_reads_decimals_traffic_and_deprecated_keys() -> None:
    document = realistic_pricing_document()
    pricing = parse_pricing(document)
    cx33 = pricing.server_types[("cx33", "fsn1")]
    assert cx33.monthly == Decimal("8.4900000000") and cx33.hourly == Decimal("0.0136000000")
    assert cx33.included_tb == 20 and cx33.overage_per_tb == Decimal("1.0000000000")
    assert pricing.server_types[("ccx13", "ash")].included_tb == 1
    assert pricing.vat_rate == Decimal("19.00") and pricing.backup_percentage == Decimal("20.00")

    del document["pricing"]["floating_ips"]  # only the deprecated global key
    for entry in document["pricing"]["primary_ips"][0]["prices"]:
        entry["datacenter"] = entry.pop("location") + "-dc14"
    old = parse_pricing(document)
    assert old.floating_ip("ipv4", "hel1") is not None and old.floating_ip("ipv4", "hel1").monthly == Decimal("3.57")  # type: ignore[union-attr]
    assert old.floating_ip("ipv6", "hel1") is None
    assert ("ipv4", "fsn1") in old.primary_ips


@pytest.mark.parametrize(("document", "message"), [
    ([], "the answer is not a JSON object"),
    ({"pricing": {"currency": "EUR"}}, "missing key pricing.floating_ips"),
    ({"pricing": "x"}, "pricing is not an object"),
])
def test_parser_errors_name_the_problem(document: Any, message: str) -> None:
    with pytest.raises(LivePricingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_pricing(document)


def test_negative_amount_is_rejected() -> None:
    document = realistic_pricing_document()
    document["pricing"]["image"]["price_per_gb_month"]["net"] = "-1"
    with pytest.raises(LivePricingError, match="negative amount"):
        parse_pricing(document)


def test_plan_live_prices_through_the_program(fake_api: FakePricingApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """`plan --live-prices`: the program (under the offline evaluation's mocks) reads the loopback fake."""
    import json

    from cli.plan import run_plan

    monkeypatch.setenv("HCLOUD_TOKEN", VALID_TOKEN)
    monkeypatch.setenv("HCLOUD_ENDPOINT", fake_api.endpoint)
    path = write_stack_file(tmp_path / "Pulumi.live.yaml", phase1_raw("2026-07-01"))
    offline, live = io.StringIO(), io.StringIO()
    run_plan(None, str(path), True, None, tmp_path, out=offline, err=io.StringIO())
    assert fake_api.requests == [] and json.loads(offline.getvalue())["cost"]["live"]["requested"] is False
    run_plan(None, str(path), True, None, tmp_path, out=live, err=io.StringIO(), live_prices=True)
    cost = json.loads(live.getvalue())["cost"]
    assert cost["live"] == {"requested": True, "used": True, "endpoint": fake_api.endpoint, "error": None}
    assert [request["path"] for request in fake_api.requests] == ["/v1/pricing", "/v1/datacenters"]
    assert next(line for line in cost["lines"] if line["kind"] == "floating_ip")["monthly_eur"] == 3.57


def test_cost_live_flag_through_the_command_line(fake_api: FakePricingApi, monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from cli.main import main

    monkeypatch.setenv("HCLOUD_TOKEN", VALID_TOKEN)
    monkeypatch.setenv("HCLOUD_ENDPOINT", fake_api.endpoint)
    path = write_stack_file(tmp_path / "Pulumi.live.yaml", minimal_raw())
    assert main(["cost", "--config-file", str(path)]) == 0
    assert fake_api.requests == [] and "live prices not requested" in capsys.readouterr().out
    assert main(["cost", "--config-file", str(path), "--live"]) == 0
    assert "live /v1/pricing" in capsys.readouterr().out and len(fake_api.requests) == 2


def test_prices_still_count_when_availability_cannot_be_read(fake_api: FakePricingApi) -> None:
    fake_api.datacenters_gone = True
    result = plan(phase1_raw("2026-07-01"), fake_api)
    assert result.cost_json()["live"]["used"] is True and by_kind(result)["server"]["source"] == "live /v1/pricing"
    assert "live availability not read: /datacenters: API error 'not_found': not found; orderable types come from catalogue 2026-11-23" \
        in result.warnings
    suggestion = result.capacity_json()["servers"][0]["suggestion"]
    assert suggestion["orderable_source"] == "orderable per catalogue 2026-11-23"
