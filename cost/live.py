"""Live prices and availability: GET /v1/pricing and GET /v1/datacenters through the official `hcloud`
client, parsed with Decimal. Read only on request (`plan --live-prices`, `cost --live`, or pricing.live for
`pulumi up`): without it nothing here runs and the plan makes no network call.

The /v1/pricing shape (hcloud-go schema/pricing.go) is described in docs/cost.md. /v1/datacenters
(hcloud-go hcloud/schema/datacenter.go): `datacenters[].location.name` and `server_types.available`, the
ids of the types "supported and for which the datacenter has enough resources left"; the ids are named
through `pricing.server_types[].id`. Every failure
(HTTP error, timeout, refused connection, malformed JSON, a missing key, an unparsable amount, a
currency other than EUR) becomes one `LivePricingError` whose message is a single line without the
token; the caller falls back to the catalogue.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from cost.money import dec

DEFAULT_ENDPOINT = "https://api.hetzner.cloud/v1"
DEFAULT_TIMEOUT_S = 10.0
TIB = Decimal(1024) ** 4  # the API counts included traffic in bytes; 20 TiB = 21 990 232 555 520


class LivePricingError(Exception):
    """The live answer could not be used; str() is a one-line reason."""


@dataclass(frozen=True)
class LivePrice:
    """One per-location entry of server_types / load_balancer_types / primary_ips / floating_ips."""

    monthly: Decimal
    hourly: Decimal | None = None
    included_tb: Decimal | None = None
    overage_per_tb: Decimal | None = None


@dataclass(frozen=True)
class LivePricing:
    currency: str
    vat_rate: Decimal
    volume_per_gb: Decimal
    image_per_gb: Decimal
    backup_percentage: Decimal
    # Keyed by (name, location); floating IPs from the deprecated global `floating_ip` key use "*".
    server_types: dict[tuple[str, str], LivePrice] = field(default_factory=dict)
    load_balancer_types: dict[tuple[str, str], LivePrice] = field(default_factory=dict)
    primary_ips: dict[tuple[str, str], LivePrice] = field(default_factory=dict)
    floating_ips: dict[tuple[str, str], LivePrice] = field(default_factory=dict)
    endpoint: str = DEFAULT_ENDPOINT
    # Server type names available for new orders per location (GET /v1/datacenters); None: not read.
    available: dict[str, frozenset[str]] | None = None
    # Why the availability could not be read (the prices are still used), else None.
    availability_error: str | None = None

    def floating_ip(self, ip_type: str, location: str) -> LivePrice | None:
        return self.floating_ips.get((ip_type, location)) or self.floating_ips.get((ip_type, "*"))


def credentials_from_env(environ: dict[str, str] | None = None) -> tuple[str | None, str | None]:
    """(token, endpoint) from HCLOUD_TOKEN / HCLOUD_ENDPOINT; empty values count as absent."""
    env = os.environ if environ is None else environ
    return env.get("HCLOUD_TOKEN") or None, env.get("HCLOUD_ENDPOINT") or None


def resolve_endpoint(endpoint: str | None) -> str:
    """Explicit endpoint, else env HCLOUD_ENDPOINT, else the public API."""
    chosen = endpoint or os.environ.get("HCLOUD_ENDPOINT") or DEFAULT_ENDPOINT
    return chosen.rstrip("/")


def fetch_live_pricing(token: str, endpoint: str | None = None, *, timeout: float = DEFAULT_TIMEOUT_S) -> LivePricing:
    """GET {endpoint}/pricing and {endpoint}/datacenters once each (no retries: a plan must not hang)."""
    # Imported here: the catalogue path (no live read) never needs requests/hcloud.
    from hcloud import Client

    url = resolve_endpoint(endpoint)
    client = Client(token=token, api_endpoint=url, timeout=timeout, application_name="hetzner-platform")
    base = getattr(client, "_client", None)
    if base is not None and hasattr(base, "_retry_max_retries"):
        base._retry_max_retries = 0  # the default is 5 retries with up to 60 s backoff each
    document = _request(client, "/pricing", url, timeout)
    pricing = replace(parse_pricing(document), endpoint=url)
    # Availability is a second, separate read: when it fails (Hetzner deprecated datacenters in 2026) the
    # prices still count and the catalogue decides what is orderable.
    try:
        datacenters = _request(client, "/datacenters", url, timeout)
        return replace(pricing, available=parse_availability(datacenters, _server_type_names(document)))
    except LivePricingError as exc:
        return replace(pricing, availability_error=str(exc))


def _request(client: Any, path: str, url: str, timeout: float) -> Any:
    import requests
    from hcloud import APIException

    try:
        return client.request("GET", path)
    except APIException as exc:
        raise LivePricingError(f"{path}: {_api_error(exc)}") from None
    except requests.exceptions.Timeout:
        raise LivePricingError(f"no answer from {url}{path} within {timeout:g} s") from None
    except requests.exceptions.ConnectionError:
        raise LivePricingError(f"cannot connect to {url}") from None
    except requests.exceptions.RequestException as exc:
        raise LivePricingError(f"request to {url}{path} failed ({type(exc).__name__})") from None


def _api_error(exc: Any) -> str:
    code, message = exc.code, str(exc.message or "").strip()
    if isinstance(code, int):
        if 200 <= code < 300:
            return f"HTTP {code} but the body is not valid JSON"
        return f"HTTP {code} {message}".rstrip()
    # The API's JSON error body: {"error": {"code": "unauthorized", "message": "..."}}
    return f"API error '{code}': {message}" if message else f"API error '{code}'"


# --- parsing ---------------------------------------------------------------------------------

def _get(node: Any, key: str, path: str) -> Any:
    if not isinstance(node, dict):
        raise LivePricingError(f"{path} is not an object")
    if key not in node or node[key] is None:
        raise LivePricingError(f"missing key {path}.{key}")
    return node[key]


def _list(node: Any, key: str, path: str) -> list[Any]:
    value = _get(node, key, path)
    if not isinstance(value, list):
        raise LivePricingError(f"{path}.{key} is not a list")
    return value


def _amount(node: Any, key: str, path: str) -> Decimal:
    """`key` holds {"net": "...", "gross": "..."}; the plan works in net."""
    net = _get(_get(node, key, path), "net", f"{path}.{key}")
    try:
        value = dec(net)
    except (TypeError, ValueError):
        raise LivePricingError(f"{path}.{key}.net: {net!r} is not a decimal amount") from None
    if value < 0:
        raise LivePricingError(f"{path}.{key}.net: negative amount {net!r}")
    return value


def _decimal(node: Any, key: str, path: str) -> Decimal:
    raw = _get(node, key, path)
    try:
        return dec(raw)
    except (TypeError, ValueError):
        raise LivePricingError(f"{path}.{key}: {raw!r} is not a number") from None


def _location(entry: Any, path: str) -> str:
    if isinstance(entry, dict) and isinstance(entry.get("location"), str):
        return str(entry["location"])
    if isinstance(entry, dict) and isinstance(entry.get("datacenter"), str):  # deprecated key, e.g. fsn1-dc14
        return str(entry["datacenter"]).split("-")[0]
    raise LivePricingError(f"missing key {path}.location")


def _typed_prices(pricing: dict[str, Any], key: str, name_key: str, *, hourly: bool, traffic: bool) -> dict[tuple[str, str], LivePrice]:
    result: dict[tuple[str, str], LivePrice] = {}
    for index, item in enumerate(_list(pricing, key, "pricing")):
        path = f"pricing.{key}[{index}]"
        name = str(_get(item, name_key, path)).lower()
        for p_index, entry in enumerate(_list(item, "prices", path)):
            p_path = f"{path}.prices[{p_index}]"
            included = None
            if traffic and isinstance(entry, dict) and entry.get("included_traffic") is not None:
                included = _decimal(entry, "included_traffic", p_path) / TIB
            result[(name, _location(entry, p_path))] = LivePrice(
                monthly=_amount(entry, "price_monthly", p_path),
                hourly=_amount(entry, "price_hourly", p_path) if hourly else None,
                included_tb=included,
                overage_per_tb=(
                    _amount(entry, "price_per_tb_traffic", p_path)
                    if traffic and isinstance(entry, dict) and "price_per_tb_traffic" in entry
                    else None
                ),
            )
    return result


def _server_type_names(document: Any) -> dict[int, str]:
    """Server type id -> name from a parsed /v1/pricing answer (entries without an id are skipped)."""
    names: dict[int, str] = {}
    for entry in document["pricing"]["server_types"]:
        if isinstance(entry, dict) and isinstance(entry.get("id"), int) and isinstance(entry.get("name"), str):
            names[entry["id"]] = entry["name"].lower()
    return names


def parse_availability(document: Any, names: dict[int, str]) -> dict[str, frozenset[str]]:
    """Server type names available for new orders per location, from a /v1/datacenters answer: the union
    over the location's datacenters of `server_types.available`; ids /v1/pricing does not name are skipped."""
    available: dict[str, set[str]] = {}
    for index, datacenter in enumerate(_list(document, "datacenters", "(datacenters answer)")):
        path = f"datacenters[{index}]"
        location = str(_get(_get(datacenter, "location", path), "name", f"{path}.location"))
        ids = _list(_get(datacenter, "server_types", path), "available", f"{path}.server_types")
        available.setdefault(location, set()).update(names[i] for i in ids if isinstance(i, int) and i in names)
    return {location: frozenset(types) for location, types in available.items()}


def parse_pricing(document: Any) -> LivePricing:
    """Parse a /v1/pricing answer ({"pricing": {...}}); raise LivePricingError naming the bad key."""
    if not isinstance(document, dict):
        raise LivePricingError("the answer is not a JSON object")
    pricing = _get(document, "pricing", "(answer)")
    currency = str(_get(pricing, "currency", "pricing"))
    if currency != "EUR":
        raise LivePricingError(f"prices are in {currency}, the plan is in EUR")
    if "floating_ips" in pricing:
        floating = _typed_prices(pricing, "floating_ips", "type", hourly=False, traffic=False)
    elif "floating_ip" in pricing:  # deprecated 2024-08-29: one global IPv4 price
        floating = {("ipv4", "*"): LivePrice(monthly=_amount(pricing["floating_ip"], "price_monthly", "pricing.floating_ip"))}
    else:
        raise LivePricingError("missing key pricing.floating_ips")
    return LivePricing(
        currency=currency,
        vat_rate=_decimal(pricing, "vat_rate", "pricing"),
        volume_per_gb=_amount(_get(pricing, "volume", "pricing"), "price_per_gb_month", "pricing.volume"),
        image_per_gb=_amount(_get(pricing, "image", "pricing"), "price_per_gb_month", "pricing.image"),
        backup_percentage=_decimal(_get(pricing, "server_backup", "pricing"), "percentage", "pricing.server_backup"),
        server_types=_typed_prices(pricing, "server_types", "name", hourly=True, traffic=True),
        load_balancer_types=_typed_prices(pricing, "load_balancer_types", "name", hourly=True, traffic=True),
        primary_ips=_typed_prices(pricing, "primary_ips", "type", hourly=True, traffic=False),
        floating_ips=floating,
    )
