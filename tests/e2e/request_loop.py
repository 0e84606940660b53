"""HTTPS requests to a booted host's proxy, one at a time or as a bounded loop: what users see while a
deploy, a swarm update or a power cut runs (tests/e2e/test_blue_green.py, test_swarm.py, test_real_docker.py).

Limits the brief and the safety rules set: at most MAX_RATE requests per second, for at most
MAX_SECONDS, and only to the booted host's own veth address after `ip route get` named the test's
interface (`host.assert_route()` and ssh.assert_safe_destination, checked before the loop starts).
Every request is a new TLS connection (no keep-alive to a proxy worker that is shutting down), with
SNI and Host set to the routed host name; the answer body of /version is the release's version.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from .container import BootedHost
from .ssh import assert_safe_destination

MAX_RATE = 50.0  # requests per second, never more
MAX_SECONDS = 90.0  # the loop stops by itself after this long
# The stand-in stacks serve a self-signed placeholder certificate: names are checked, certificates not.
_UNVERIFIED: Final = ssl.create_default_context()
_UNVERIFIED.check_hostname = False
_UNVERIFIED.verify_mode = ssl.CERT_NONE


def _get(ip: str, server_name: str, path: str, timeout: float) -> tuple[int, str]:
    """One GET https://<server_name><path> at ip:443 on a new TLS connection (SNI and Host set)."""
    raw = socket.create_connection((ip, 443), timeout=timeout)
    try:
        tls = _UNVERIFIED.wrap_socket(raw, server_hostname=server_name)
        conn = http.client.HTTPSConnection(server_name, 443, timeout=timeout, context=_UNVERIFIED)
        conn.sock = tls
        conn.request("GET", path, headers={"Host": server_name, "Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        raw.close()


def https_get(host: BootedHost, path: str, server_name: str, timeout: float = 5.0) -> tuple[int, str]:
    """One request to the booted host, after checking the route goes through the test's interface."""
    host.assert_route()
    assert_safe_destination(host.ip)
    return _get(host.ip, server_name, path, timeout)


@dataclass(frozen=True)
class Answer:
    at: float  # seconds since the loop started
    status: int  # 0: no HTTP answer (connection or TLS error)
    body: str  # the version, or the error's type


@dataclass
class Figures:
    answers: list[Answer] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return len(self.answers)

    @property
    def failed(self) -> list[Answer]:
        return [answer for answer in self.answers if answer.status != 200]

    def versions(self) -> list[str]:
        """The versions in the order they were served, repeats collapsed (["1.0", "1.1"] for a clean switch)."""
        seen: list[str] = []
        for answer in self.answers:
            if answer.status == 200 and (not seen or seen[-1] != answer.body):
                seen.append(answer.body)
        return seen

    def first_seen(self, version: str) -> float | None:
        return next((answer.at for answer in self.answers if answer.status == 200 and answer.body == version), None)

    def last_seen(self, version: str) -> float | None:
        return next((answer.at for answer in reversed(self.answers) if answer.status == 200 and answer.body == version), None)

    def overlap(self, old: str, new: str) -> float:
        """Seconds during which both versions answered (nginx's reload: old workers still accept until the
        master's shutdown message reaches them, https://nginx.org/en/docs/control.html#reconfiguration)."""
        first_new, last_old = self.first_seen(new), self.last_seen(old)
        if first_new is None or last_old is None:
            return 0.0
        return max(0.0, last_old - first_new)

    def served(self) -> Counter[str]:
        """How often each version answered 200."""
        return Counter(answer.body for answer in self.answers if answer.status == 200)

    def failures(self, limit: int = 10) -> str:
        """The first failed requests, for a report line."""
        lines = [f"{a.at:.2f} s: " + (f"HTTP {a.status}" if a.status else a.body) for a in self.failed[:limit]]
        return "; ".join(lines) or "none"

    def summary(self) -> str:
        counts = Counter(f"{a.status} {a.body}" for a in self.answers)
        return f"{self.sent} sent, {len(self.failed)} failed, answers {dict(counts)}"


class RequestLoop:
    """GET https://<host_name><path> at `host.ip`:443 in a thread, at `rate` requests/s, until stop();
    a request without an answer within `timeout` seconds counts as failed."""

    def __init__(self, host: BootedHost, host_name: str, path: str = "/version", rate: float = 20.0,
                 max_seconds: float = MAX_SECONDS, timeout: float = 5.0) -> None:
        if not 0 < rate <= MAX_RATE or not 0 < max_seconds <= MAX_SECONDS:
            raise ValueError(f"rate {rate}/s and duration {max_seconds} s must stay within {MAX_RATE}/s and {MAX_SECONDS} s")
        host.assert_route()
        assert_safe_destination(host.ip)
        self.ip, self.host_name, self.path = host.ip, host_name, path
        self.interval, self.max_seconds, self.timeout = 1.0 / rate, max_seconds, timeout
        self.figures = Figures()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.started = 0.0

    def __enter__(self) -> RequestLoop:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> Figures:
        self._stop.set()
        self._thread.join(self.max_seconds + 10)
        return self.figures

    def _run(self) -> None:
        next_at = self.started
        while not self._stop.is_set():
            now = time.monotonic()
            if now - self.started > self.max_seconds:
                return
            try:
                status, body = _get(self.ip, self.host_name, self.path, self.timeout)
                body = body.strip()
            except OSError as exc:  # refused, reset, TLS or timeout: a failed request
                status, body = 0, type(exc).__name__
            except http.client.HTTPException as exc:
                status, body = 0, type(exc).__name__
            self.figures.answers.append(Answer(round(now - self.started, 3), status, body))
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))
