"""A bounded request loop against one booted host's proxy (the swarm e2e's traffic during updates and
failover). Limits as the brief sets them for every e2e loop: at most 50 requests/s (here 20: one request
every 50 ms, one at a time), at most 90 s, and only to the host's own veth address after assert_route()
(tests/e2e/ssh.py assert_safe_destination). The lead unifies it with issue 17's request_loop.py.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from .container import BootedHost

INTERVAL_S = 0.05  # 20 requests/s at most
MAX_SECONDS = 90.0
REQUEST_TIMEOUT_S = 2.0


@dataclass
class Outcome:
    requests: int = 0
    failed: list[str] = field(default_factory=list)  # "<offset s>: <status or error>"
    answers: Counter[str] = field(default_factory=Counter)  # body (the version) -> count
    seconds: float = 0.0

    def summary(self) -> str:
        return f"{self.requests} requests in {self.seconds:.1f} s, {len(self.failed)} failed, answered {dict(self.answers)}"


class RequestLoop:
    """`with RequestLoop(host, get) as loop: ...` then `loop.outcome`; get(host, path) -> (status, body)."""

    def __init__(self, host: BootedHost, get: object, path: str = "/version") -> None:
        self.host = host
        self.get = get
        self.path = path
        self.outcome = Outcome()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RequestLoop:
        self.host.assert_route()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=MAX_SECONDS + 10)

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set() and time.monotonic() - started < MAX_SECONDS:
            at = time.monotonic()
            try:
                status, body = self.get(self.host, self.path, REQUEST_TIMEOUT_S)  # type: ignore[operator]
                if status == 200:
                    self.outcome.answers[body.strip()] += 1
                else:
                    self.outcome.failed.append(f"{at - started:.2f}: HTTP {status}")
            except Exception as exc:  # a refused or timed-out request is a failed one
                self.outcome.failed.append(f"{at - started:.2f}: {type(exc).__name__}: {exc}")
            self.outcome.requests += 1
            self._stop.wait(max(0.0, INTERVAL_S - (time.monotonic() - at)))
        self.outcome.seconds = time.monotonic() - started
