"""hp-alert-check against fixture probes and a loopback webhook: exactly the expected alerts fire."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.prerequisites import require_tool

from .conftest import Webhook, free_port, run

DF_FULL = """Filesystem     1024-blocks      Used Available Capacity Mounted on
/dev/sda1         78425224  74503964   3921260      95% /
/dev/sdb         102687672  51343836  51343836      50% /mnt/data
/dev/sdc              1000       900       100      90% /mnt/edge
"""
DF_OK = """Filesystem     1024-blocks      Used Available Capacity Mounted on
/dev/sda1         78425224  31370090  47055134      40% /
/dev/sdb         102687672  51343836  51343836      50% /mnt/data
"""
MEM_FULL = "MemTotal:        8000000 kB\nMemFree:          100000 kB\nMemAvailable:     400000 kB\n"
MEM_OK = "MemTotal:        8000000 kB\nMemFree:         3000000 kB\nMemAvailable:    4000000 kB\n"
# Compose v2.21+ prints one JSON object per line.
PS_BROKEN = "\n".join(json.dumps(row) for row in [
    {"Service": "postgres", "State": "running", "Health": "healthy", "ExitCode": 0},
    {"Service": "redis", "State": "running", "Health": "", "ExitCode": 0},
    {"Service": "api", "State": "running", "Health": "unhealthy", "ExitCode": 0},
    {"Service": "worker", "State": "exited", "Health": "", "ExitCode": 137},
    {"Service": "migrate", "State": "exited", "Health": "", "ExitCode": 0},
]) + "\n"
# Older compose v2 prints one JSON array.
PS_OK = json.dumps([
    {"Service": name, "State": "running", "Health": "healthy", "ExitCode": 0}
    for name in ("postgres", "redis", "api", "worker", "beat")
])
EXPECTED = "postgres redis api worker beat"


def _cert(directory: Path, name: str, days: int, cn: str = "app.example.test") -> Path:
    key = directory / f"{name}.key"
    cert = directory / f"{name}.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", str(days), "-subj", f"/CN={cn}",
                    "-addext", f"subjectAltName=DNS:{cn}"], check=True, capture_output=True)
    return cert


class Fixture:
    def __init__(self, base_env: dict[str, str], webhook: Webhook, tmp_path: Path) -> None:
        require_tool("openssl", "curl", "awk")
        self.dir = tmp_path / "probe"
        self.dir.mkdir()
        secret = tmp_path / "alert.env"
        secret.write_text(f"HP_ALERT_WEBHOOK_URL='{webhook.url}'\n")
        secret.chmod(0o600)
        installed = tmp_path / "installed"
        installed.touch()
        past = time.time() - 3600  # installed an hour ago: past the first-deploy grace period
        os.utime(installed, (past, past))
        self.env = dict(base_env)
        self.env.update({
            "HP_ENV_FILE": str(secret),
            "HP_DF_CMD": f"cat {self.dir / 'df'}",
            "HP_MEMINFO": str(self.dir / "meminfo"),
            "HP_COMPOSE_PS_JSON": str(self.dir / "ps.json"),
            "HP_EXPECTED_SERVICES": EXPECTED,
            "HP_CHECK_BACKUP": "1",
            "HP_CHECK_DRILL": "1",
            "HP_INSTALLED_FILE": str(installed),
            "HP_ALERT_STATE_DIR": str(tmp_path / "alerts"),
            "HP_TLS_DOMAINS": "",
        })
        self.soon = _cert(self.dir, "soon", 5)
        self.later = _cert(self.dir, "later", 60)

    def write(self, *, df: str, mem: str, ps: str, backup_age_min: int, drill: str, certs: list[Path]) -> None:
        now = int(time.time())
        (self.dir / "df").write_text(df)
        (self.dir / "meminfo").write_text(mem)
        (self.dir / "ps.json").write_text(ps)
        state = {
            "version": 1,
            "backup": {"status": "ok"},
            "last_good_backup": {"epoch": now - backup_age_min * 60},
            "drill": {"status": drill, "error": "pg_restore of app failed: invalid archive"} if drill == "failed"
            else {"status": "ok"},
            "last_verified_backup": {"drill_epoch": now - 3600},
        }
        Path(self.env["HP_STATE_FILE"]).write_text(json.dumps(state))
        self.env["HP_CERT_FILES"] = " ".join(str(c) for c in certs)

    def broken(self) -> None:
        self.write(df=DF_FULL, mem=MEM_FULL, ps=PS_BROKEN, backup_age_min=120, drill="failed", certs=[self.soon, self.later])

    def healthy(self) -> None:
        self.write(df=DF_OK, mem=MEM_OK, ps=PS_OK, backup_age_min=10, drill="ok", certs=[self.later])

    def check(self, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run("hp-alert-check", env=self.env, check=check)


@pytest.fixture
def probe(base_env: dict[str, str], webhook: Webhook, tmp_path: Path) -> Fixture:
    return Fixture(base_env, webhook, tmp_path)


def test_fires_exactly_the_expected_alerts_once_then_resolves(probe: Fixture, webhook: Webhook) -> None:
    probe.broken()
    result = probe.check()
    assert webhook.alert_keys() == sorted([
        "backup", f"cert:{probe.soon}", "disk:/", "drill", "memory", "service:api", "service:beat", "service:worker",
    ])
    assert result.stdout.strip() == "hp-alert-check firing=8 sent=8 resolved=0 failed=0"
    by_key = {body["key"]: body for body in webhook.received}
    assert by_key["disk:/"]["summary"] == "disk / is 95% full (threshold 90%)"
    assert by_key["memory"]["summary"].startswith("memory 95% used (threshold 90%")
    assert by_key["service:api"]["summary"] == "service api is unhealthy"
    assert by_key["service:worker"]["summary"] == "service worker exited with code 137"
    assert by_key["service:beat"]["summary"] == "service beat is not running (no container)"
    assert by_key["backup"]["summary"] == "newest good backup is 120 min old (RPO 60 min); last run: ok"
    assert by_key["drill"]["summary"] == "restore drill failed: pg_restore of app failed: invalid archive"
    assert re.search(r"expires in [45] days", by_key[f"cert:{probe.soon}"]["summary"])
    assert all(body["project"] == "chrono" and body["server"] == "app" and body["status"] == "firing"
               for body in webhook.received)
    print("\nalerts fired:", json.dumps({key: by_key[key]["summary"] for key in sorted(by_key)}, indent=1))

    # Same problems five minutes later: nothing new is sent (repeat after HP_REPEAT_MINUTES).
    webhook.clear()
    assert probe.check().stdout.strip() == "hp-alert-check firing=8 sent=0 resolved=0 failed=0"
    assert webhook.received == []

    # Everything healthy again: one "resolved" per alert, then silence.
    probe.healthy()
    result = probe.check()
    assert webhook.alert_keys("firing") == []
    assert len(webhook.alert_keys("resolved")) == 8
    assert result.stdout.strip() == "hp-alert-check firing=0 sent=0 resolved=8 failed=0"
    webhook.clear()
    probe.check()
    assert webhook.received == []


def test_healthy_host_sends_nothing(probe: Fixture, webhook: Webhook) -> None:
    probe.healthy()
    result = probe.check()
    assert result.stdout.strip() == "hp-alert-check firing=0 sent=0 resolved=0 failed=0"
    assert webhook.received == []
    metrics = (Path(probe.env["HP_TEXTFILE_DIR"]) / "hp_alerts.prom").read_text()
    assert "hp_alerts_firing 0" in metrics


def test_repeat_interval_and_undeliverable_alerts(probe: Fixture, webhook: Webhook) -> None:
    probe.write(df=DF_FULL, mem=MEM_OK, ps=PS_OK, backup_age_min=10, drill="ok", certs=[])
    webhook.status = 500
    failed = probe.check(check=False)
    assert failed.returncode != 0 and "failed=1" in failed.stdout
    assert "could not deliver alert disk:/" in failed.stderr
    webhook.status = 200
    probe.check()
    assert webhook.alert_keys() == ["disk:/"]  # retried on the next run because it was never delivered
    webhook.clear()
    probe.env["HP_REPEAT_MINUTES"] = "0"
    probe.check()
    assert webhook.alert_keys() == ["disk:/"]


def test_missing_backup_state_respects_the_install_grace(probe: Fixture, webhook: Webhook) -> None:
    probe.healthy()
    Path(probe.env["HP_STATE_FILE"]).unlink()
    Path(probe.env["HP_INSTALLED_FILE"]).touch()
    probe.env["HP_COMPOSE_PS_JSON"] = "/nonexistent"  # app not deployed yet either
    probe.check()
    assert webhook.received == []  # installed just now: no backup due yet, app still deploying
    probe.env["HP_COMPOSE_PS_JSON"] = str(probe.dir / "ps.json")
    old = time.time() - 3 * 86400
    os.utime(probe.env["HP_INSTALLED_FILE"], (old, old))
    probe.check()
    assert webhook.alert_keys() == ["backup", "drill"]
    summaries = sorted(body["summary"] for body in webhook.received)
    assert summaries == ["no good backup recorded in " + probe.env["HP_STATE_FILE"], "no successful restore drill recorded"]


def test_tls_certificates_read_through_the_proxy(probe: Fixture, webhook: Webhook) -> None:
    """openssl s_server on 127.0.0.1 stands in for Traefik; SNI picks nothing, so a mismatch shows."""
    probe.healthy()
    port = free_port()
    server = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(probe.soon),
                               "-key", str(probe.soon.with_suffix(".key")), "-quiet", "-naccept", "10"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        probe.env.update({"HP_TLS_CONNECT": f"127.0.0.1:{port}", "HP_TLS_DOMAINS": "app.example.test"})
        probe.check()
        assert webhook.alert_keys() == ["cert:app.example.test"]
        assert re.search(r"expires in [45] days", webhook.received[0]["summary"])
        # Certificate fine, but for another name (e.g. Traefik's default certificate).
        webhook.clear()
        probe.env.update({"HP_CERT_DAYS": "3", "HP_TLS_DOMAINS": "other.example.test", "HP_NOTIFY_RESOLVED": "0"})
        probe.check()
        assert webhook.alert_keys() == ["cert:other.example.test"]
        assert webhook.received[0]["summary"] == "TLS certificate served for other.example.test does not name it (default certificate?)"
        # Nothing listening: the certificate cannot be read, which is an alert too.
        webhook.clear()
        probe.env.update({"HP_TLS_CONNECT": f"127.0.0.1:{free_port()}", "HP_TLS_DOMAINS": "down.example.test"})
        probe.check()
        assert webhook.alert_keys() == ["cert:down.example.test"]
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_compose_unavailable_is_an_alert(probe: Fixture, webhook: Webhook) -> None:
    probe.healthy()
    probe.env["HP_COMPOSE_PS_JSON"] = ""
    probe.env["HP_COMPOSE"] = "false"  # docker compose ps fails: Docker down
    probe.check()
    assert "compose:probe" in webhook.alert_keys()


@pytest.mark.parametrize("kind", ["slack", "telegram", "generic"])
def test_webhook_formats_and_unit_failures(base_env: dict[str, str], webhook: Webhook, kind: str, tmp_path: Path) -> None:
    require_tool("curl")
    secret = tmp_path / "alert.env"
    secret.write_text(f"HP_ALERT_WEBHOOK_URL='{webhook.url}'\n")
    env = dict(base_env, HP_ENV_FILE=str(secret), HP_WEBHOOK_KIND=kind, HP_TELEGRAM_CHAT_ID="-100123")
    result = run("hp-alert-send", "--unit-failed", "hp-backup-daily.service", env=env)
    assert webhook.url not in result.stdout + result.stderr
    (body,) = webhook.received
    text = "[CRITICAL] chrono/test app: hp-backup-daily.service failed"
    if kind == "slack":
        assert set(body) == {"text"} and body["text"].startswith(text)
    elif kind == "telegram":
        assert body["chat_id"] == "-100123" and body["text"].startswith(text)
    else:
        assert body["key"] == "unit:hp-backup-daily.service" and body["severity"] == "critical"
        assert body["text"].startswith(text)


def test_no_webhook_configured_logs_only(base_env: dict[str, str]) -> None:
    result = run("hp-alert-send", "disk:/", "critical", "firing", "disk full", env=base_env)
    assert "no alert webhook configured" in result.stderr


FAKE_COMPOSE_BY_PROJECT = """#!/bin/sh
# A `docker compose ps --format json` double: the last --project-name decides which file it prints.
project=""
while [ $# -gt 0 ]; do
    if [ "$1" = --project-name ]; then project=$2; shift; fi
    shift
done
cat "{dir}/ps-$project.json" 2>/dev/null || echo '[]'
"""


@pytest.mark.parametrize("api_health", ["healthy", "unhealthy"])
def test_blue_green_service_is_checked_in_the_live_colour_project(probe: Fixture, webhook: Webhook, api_health: str) -> None:
    """The api runs in chrono-green (the live colour), not in chrono; the stopped blue one is not checked."""
    probe.healthy()
    fake = probe.dir / "compose"
    fake.write_text(FAKE_COMPOSE_BY_PROJECT.replace("{dir}", str(probe.dir)))
    fake.chmod(0o755)
    rows = {name: {"Service": name, "State": "running", "Health": "healthy", "ExitCode": 0}
            for name in ("postgres", "redis", "worker", "beat")}
    (probe.dir / "ps-chrono.json").write_text(json.dumps(list(rows.values())))
    (probe.dir / "ps-chrono-green.json").write_text(json.dumps([{"Service": "api", "State": "running", "Health": api_health}]))
    (probe.dir / "ps-chrono-blue.json").write_text(json.dumps([{"Service": "api", "State": "exited", "ExitCode": 143}]))
    (probe.dir / "live-colour").write_text("green\n")
    probe.env.update({"HP_COMPOSE_PS_JSON": "", "HP_COMPOSE": f"{fake} --project-name chrono",
                      "HP_COMPOSE_PROJECT": "chrono", "HP_LIVE_COLOUR_FILE": str(probe.dir / "live-colour")})
    probe.check()
    assert webhook.alert_keys() == ([] if api_health == "healthy" else ["service:api"])
    # Without the live-colour file the api has no container in the main project: that is an alert.
    (probe.dir / "live-colour").unlink()
    probe.check()
    assert "service:api" in webhook.alert_keys()
