"""Shared fixtures for the cost tests: import paths, no real Hetzner, the loopback fake."""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
for entry in (str(HERE), str(ROOT)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from fake_pricing_api import FakePricingApi  # noqa: E402


@pytest.fixture(autouse=True)
def only_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """No token from the developer's shell, and no connection anywhere but 127.0.0.1."""
    monkeypatch.delenv("HCLOUD_TOKEN", raising=False)
    monkeypatch.delenv("HCLOUD_ENDPOINT", raising=False)
    original = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if not ipaddress.ip_address(host).is_loopback:
                raise ConnectionRefusedError(f"cost tests may only contact 127.0.0.1, not {host}")
        return original(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def fake_api() -> Iterator[FakePricingApi]:
    fake = FakePricingApi(slow_seconds=3.0).start()
    try:
        yield fake
    finally:
        fake.stop()
    assert not fake.running
