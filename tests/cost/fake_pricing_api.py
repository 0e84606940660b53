"""A loopback fake of Hetzner's GET /v1/pricing and GET /v1/datacenters for the live-refresh tests.

It binds 127.0.0.1 on a random free port, runs in a thread the test starts and stops, checks the
bearer token like the real API and can misbehave on demand (`mode`):

  ok             the realistic document below
  malformed      HTTP 200 with a truncated JSON body
  empty          HTTP 200 with an empty body
  missing_keys   a document without `server_types`
  bad_amount     a document whose volume price is "n/a"
  usd            a document priced in USD
  http_500       HTTP 500 with an HTML body (a proxy error page)
  slow           answers only after `slow_seconds` (the client's timeout is shorter)

A wrong token gets the API's JSON 401 ({"error": {"code": "unauthorized", ...}}). `mode` applies to
/v1/pricing; /v1/datacenters always answers `datacenters` (one datacenter per location whose
`server_types.available` lists every type priced there, the shape of hcloud-go schema/datacenter.go).

The document follows the shape of hcloud-go's schema/pricing.go (research note section 4.1): decimal
strings with 10 (net) and 16 (gross) decimals, per-location entries, included traffic in bytes, the
deprecated `floating_ip` and `traffic` keys still present. Figures follow the catalogue's newest (p2)
column at 19 % VAT, EXCEPT the floating IP prices: the real ones are not known, the 3.57 / 1.57 here are
illustrative values chosen to differ from the catalogue's estimate so a test can tell the sources apart.
"""

from __future__ import annotations

import copy
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

VALID_TOKEN = "fake-hcloud-token-for-tests"
VAT = Decimal("1.19")
TIB_BYTES = 1024**4

EU = ("fsn1", "nbg1", "hel1")
US = ("ash", "hil")

# name: (id, monthly net, hourly net, locations)
SERVER_TYPES: dict[str, tuple[int, str, str, tuple[str, ...]]] = {
    "cx23": (108, "5.49", "0.0088", EU),
    "cx33": (109, "8.49", "0.0136", EU),
    "cx43": (110, "15.99", "0.0256", EU),
    "cx53": (111, "29.49", "0.0473", EU),
    "cax11": (45, "5.99", "0.0096", EU),
    "cax21": (93, "10.49", "0.0168", EU),
    "cax31": (94, "20.99", "0.0336", EU),
    "cax41": (95, "40.99", "0.0657", EU),
    "cpx12": (116, "11.49", "0.0184", EU),
    "cpx22": (117, "19.49", "0.0312", EU),
    "cpx32": (118, "35.49", "0.0569", EU),
    "ccx13": (96, "42.99", "0.0689", EU + US),
    "ccx23": (97, "85.99", "0.1378", EU + US),
}
LB_TYPES: dict[str, tuple[int, str, str]] = {
    "lb11": (1, "7.49", "0.0120"),
    "lb21": (2, "21.49", "0.0344"),
    "lb31": (3, "43.0000", "0.0689"),
}


def _price(net: str) -> dict[str, str]:
    value = Decimal(net)
    return {"net": f"{value:.10f}", "gross": f"{(value * VAT):.16f}"}


def _located(location: str, monthly: str, hourly: str | None, *, traffic: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"location": location, "price_monthly": _price(monthly)}
    if hourly is not None:
        entry["price_hourly"] = _price(hourly)
    if traffic:
        eu = location in EU
        entry["included_traffic"] = (20 if eu else 1) * TIB_BYTES
        entry["price_per_tb_traffic"] = _price("1.00")
    return entry


def realistic_pricing_document() -> dict[str, Any]:
    all_locations = EU + US
    return {
        "pricing": {
            "currency": "EUR",
            "vat_rate": "19.00",
            "image": {"price_per_gb_month": _price("0.0143")},
            "volume": {"price_per_gb_month": _price("0.0572")},
            "server_backup": {"percentage": "20.00"},
            "floating_ip": {"price_monthly": _price("3.57")},  # deprecated since 2024-08-29
            "floating_ips": [
                {"type": "ipv4", "prices": [{"location": loc, "price_monthly": _price("3.57")} for loc in all_locations]},
                {"type": "ipv6", "prices": [{"location": loc, "price_monthly": _price("1.57")} for loc in all_locations]},
            ],
            "primary_ips": [
                {"type": "ipv4", "prices": [_located(loc, "0.50", "0.0008", traffic=False) for loc in all_locations]},
                {"type": "ipv6", "prices": [_located(loc, "0.00", "0.0000", traffic=False) for loc in all_locations]},
            ],
            "traffic": {"price_per_tb": _price("0.00")},  # deprecated, reports 0 since 2024-08-05
            "server_types": [
                {"id": type_id, "name": name,
                 "prices": [_located(loc, monthly, hourly, traffic=True) for loc in locations]}
                for name, (type_id, monthly, hourly, locations) in SERVER_TYPES.items()
            ],
            "load_balancer_types": [
                {"id": type_id, "name": name,
                 "prices": [_located(loc, monthly, hourly, traffic=True) for loc in all_locations]}
                for name, (type_id, monthly, hourly) in LB_TYPES.items()
            ],
        }
    }


def realistic_datacenters_document() -> dict[str, Any]:
    datacenters = []
    for number, location in enumerate(EU + US, start=1):
        ids = [type_id for type_id, _monthly, _hourly, locations in SERVER_TYPES.values() if location in locations]
        datacenters.append({
            "id": number, "name": f"{location}-dc{number}", "description": f"{location} DC {number}",
            "location": {"id": number, "name": location},
            "server_types": {"supported": ids, "available": list(ids), "available_for_migration": list(ids)},
        })
    return {"datacenters": datacenters}


class FakePricingApi:
    """Start with .start() (or `with`), read .endpoint, stop with .stop()."""

    def __init__(self, document: dict[str, Any] | None = None, *, token: str = VALID_TOKEN, slow_seconds: float = 3.0) -> None:
        self.document = document if document is not None else realistic_pricing_document()
        self.datacenters = realistic_datacenters_document()
        self.datacenters_gone = False  # True: /v1/datacenters answers 404 (the endpoint was deprecated in 2026)
        self.token = token
        self.mode = "ok"
        self.slow_seconds = slow_seconds
        self.requests: list[dict[str, str]] = []
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> FakePricingApi:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
                return

            def do_GET(self) -> None:
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-pricing-api", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()  # wake a handler sleeping in "slow" mode
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakePricingApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- behaviour -------------------------------------------------------------------------------
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        self.requests.append({
            "path": request.path,
            "authorization": request.headers.get("Authorization", ""),
            "user_agent": request.headers.get("User-Agent", ""),
        })
        path = request.path.split("?")[0]
        if path not in ("/v1/pricing", "/v1/datacenters"):
            return self._json(request, 404, {"error": {"code": "not_found", "message": "not found"}})
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._json(request, 401, {"error": {"code": "unauthorized", "message": "unable to authenticate"}})
        if path == "/v1/datacenters":
            if self.datacenters_gone:
                return self._json(request, 404, {"error": {"code": "not_found", "message": "not found"}})
            return self._json(request, 200, self.datacenters)
        mode = self.mode
        if mode == "slow":
            self._release.wait(self.slow_seconds)
            return self._json(request, 200, self.document)
        if mode == "malformed":
            return self._raw(request, 200, json.dumps(self.document)[:200].encode(), "application/json")
        if mode == "empty":
            return self._raw(request, 200, b"", "application/json")
        if mode == "http_500":
            return self._raw(request, 500, b"<html><body>500 Internal Server Error</body></html>", "text/html")
        document = copy.deepcopy(self.document)
        if mode == "missing_keys":
            del document["pricing"]["server_types"]
        elif mode == "bad_amount":
            document["pricing"]["volume"]["price_per_gb_month"]["net"] = "n/a"
        elif mode == "usd":
            document["pricing"]["currency"] = "USD"
        return self._json(request, 200, document)

    @staticmethod
    def _json(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        FakePricingApi._raw(request, status, json.dumps(body).encode(), "application/json")

    @staticmethod
    def _raw(request: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
        try:
            request.send_response(status)
            request.send_header("Content-Type", content_type)
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)
