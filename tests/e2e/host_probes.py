"""Probes that run inside the booted host, each as a transient systemd unit (`systemd-run`).

- ``WebhookSink``: an HTTP endpoint on 127.0.0.1 that stores every POST body, standing in for the
  alert webhook (Slack/generic), so a test can read what `hp-alert-send` delivered.
- ``ArgvSampler``: reads every process's argv and environment (what `ps auxe` shows) in a loop and
  keeps the lines that contain a watched value. The watched values sit in a root-only file that `grep
  -F -f` reads, so the sampler never has them on a command line itself. A canary process proves each
  run that the sampler sees short-lived processes.

Both use the host's python3 (cloud-init's) or sh, and are stopped by unit name in the host.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field

from .container import BootedHost

PROBE_DIR = "/run/hp-e2e-probes"
SINK_PORT = 9099
SINK_URL = f"http://127.0.0.1:{SINK_PORT}/hp-e2e-alerts"

SINK_SCRIPT = """\
import http.server, json, sys

port, out = int(sys.argv[1]), sys.argv[2]


class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(out, "a") as fh:
            fh.write(json.dumps({"path": self.path, "body": body.decode(errors="replace")}) + "\\n")
        self.send_response(204)
        self.end_headers()


http.server.HTTPServer(("127.0.0.1", port), Sink).serve_forever()
"""

# One round reads every /proc/PID/{cmdline,environ} at once (a glob, one cat), so a round takes a few ms.
SAMPLER_SCRIPT = """\
dir=$1
rounds=0
while [ ! -e "$dir/stop" ]; do
  cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -F -f "$dir/patterns" >>"$dir/hits"
  rounds=$((rounds + 1))
done
echo "$rounds" >"$dir/rounds"
"""


def count_matches(host: BootedHost, command: str, values: list[str]) -> int:
    """How many lines of ``command``'s output (run in the host) hold one of ``values``. The values go to a
    root-only pattern file through stdin, never onto a command line."""
    patterns = f"{PROBE_DIR}/patterns-{secrets.token_hex(4)}"
    _sh(host, f"mkdir -p {PROBE_DIR} && (umask 077 && cat >{patterns})", "".join(value + "\n" for value in values))
    try:
        return int(_sh(host, f"{command} | grep -c -F -f {patterns} || true", timeout=120).strip() or 0)
    finally:
        _sh(host, f"rm -f {patterns}")


def _sh(host: BootedHost, script: str, data: str = "", timeout: float = 60.0) -> str:
    res = host.pipe(["sh", "-c", script], data.encode(), timeout=timeout)
    if res.returncode != 0:
        raise RuntimeError(f"{script}: rc {res.returncode}\n{res.stdout.decode(errors='replace')}{res.stderr.decode(errors='replace')}")
    return res.stdout.decode()


@dataclass
class WebhookSink:
    """Listens on 127.0.0.1:SINK_PORT in the host; point alertWebhookUrl at SINK_URL."""

    host: BootedHost
    unit: str = "hp-e2e-webhook-sink"
    log: str = f"{PROBE_DIR}/webhook.jsonl"

    def start(self) -> None:
        _sh(self.host, f"mkdir -p {PROBE_DIR} && cat >{PROBE_DIR}/webhook_sink.py && : >{self.log}", SINK_SCRIPT)
        _sh(self.host, f"systemd-run --unit={self.unit} python3 {PROBE_DIR}/webhook_sink.py {SINK_PORT} {self.log}")
        deadline = time.monotonic() + 20
        while _sh(self.host, f"ss -Hltn 'sport = :{SINK_PORT}'").strip() == "":
            if time.monotonic() > deadline:
                raise RuntimeError(f"the webhook sink does not listen on {SINK_PORT}")
            time.sleep(0.2)

    def received(self) -> list[dict[str, object]]:
        """The JSON bodies posted so far (non-JSON bodies as {"raw": text})."""
        alerts: list[dict[str, object]] = []
        for line in _sh(self.host, f"cat {self.log}").splitlines():
            body = json.loads(line)["body"]
            try:
                alerts.append(json.loads(body))
            except json.JSONDecodeError:
                alerts.append({"raw": body})
        return alerts

    def wait_for(self, key: str, timeout: float = 60.0) -> dict[str, object]:
        """The first alert whose key is ``key``; raise after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            found = [alert for alert in self.received() if alert.get("key") == key]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no alert {key!r} at the webhook after {timeout} s; got {self.received()}")
            time.sleep(0.5)


@dataclass
class ArgvSampler:
    """Watches argv and environment of every process for ``watched`` (label -> value) while it runs."""

    host: BootedHost
    watched: dict[str, str]
    unit: str = "hp-e2e-argv-sampler"
    directory: str = f"{PROBE_DIR}/argv"
    canaries: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        # A canary in argv and one in the environment of a 2 s process: the sampler must report both.
        self.canaries = {f"canary-{where}": f"hp-e2e-canary-{where}-{secrets.token_hex(6)}" for where in ("argv", "env")}
        patterns = "".join(value + "\n" for value in [*self.watched.values(), *self.canaries.values()])
        _sh(self.host, f"rm -rf {self.directory} && mkdir -p -m 0700 {self.directory} && cd {self.directory} && "
            "umask 077 && cat >patterns && : >hits", patterns)  # fmt: skip
        _sh(self.host, f"cat >{PROBE_DIR}/sampler.sh", SAMPLER_SCRIPT)
        _sh(self.host, f"systemd-run --unit={self.unit} sh {PROBE_DIR}/sampler.sh {self.directory}")
        self.host.nsenter(["env", f"HP_E2E_CANARY={self.canaries['canary-env']}", "sh", "-c", "sleep 2", self.canaries["canary-argv"]])

    def stop(self) -> tuple[dict[str, int], int]:
        """Stop the sampler; return the hit count per label (watched values and canaries) and the rounds."""
        _sh(self.host, f"touch {self.directory}/stop")
        deadline = time.monotonic() + 20
        while _sh(self.host, f"test -e {self.directory}/rounds && echo done || true").strip() != "done":
            if time.monotonic() > deadline:
                raise RuntimeError("the argv sampler did not stop")
            time.sleep(0.2)
        rounds = int(_sh(self.host, f"cat {self.directory}/rounds"))
        values = {**self.watched, **self.canaries}
        return {label: count_matches(self.host, f"cat {self.directory}/hits", [value]) for label, value in values.items()}, rounds
