"""Stack configs for unit tests, built in code so each test states exactly what it changes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from cli.evaluate import Evaluation, evaluate
from config.stack_file import StackFile, read_stack_file
from tests.keys import ADMIN_KEY

PROD: dict[str, Any] = {
    "project": "chrono",
    "environment": "prod",
    "location": "nbg1",
    "ssh": {"adminUser": "deploy", "port": 2222, "publicKeys": [ADMIN_KEY], "adminCidrs": ["203.0.113.0/24"]},
    "servers": {"app": {"serverType": "cx33", "backups": True}},
    "volumes": {"data": {"sizeGb": 100}},
    "network": {"ipRange": "10.0.0.0/16", "subnet": "10.0.1.0/24"},
    "loadBalancer": {"type": "lb11", "healthCheck": {"path": "/health"}},
    "floatingIp": {"type": "ipv4", "dnsPtr": "chrono.example.com"},
    "dns": {"zone": "chrono.example.com", "proxied": True, "records": [{"name": "@"}, {"name": "www"}]},
    "budget": {"monthlyEur": 50, "warnEur": 40, "criticalEur": 45, "enforce": True},
}

STAGING: dict[str, Any] = {
    "project": "chrono",
    "environment": "staging",
    "ssh": {"port": 2222, "publicKeys": [ADMIN_KEY], "adminCidrs": ["203.0.113.0/24"]},
    "servers": {"app": {"serverType": "cx23", "backups": False}},
    "volumes": {"data": {"sizeGb": 10}},
    "budget": {"monthlyEur": 15, "warnEur": 10, "criticalEur": 12},
}

PHASE2: dict[str, Any] = {
    **copy.deepcopy(PROD),
    "servers": {
        "web": {"serverType": "cx43", "roles": ["web"]},
        "db": {"serverType": "cx33", "roles": ["db"]},
        "worker": {"serverType": "cx33", "roles": ["worker"]},
    },
    "volumes": {"data": {"sizeGb": 100, "server": "db"}},
    "budget": {"monthlyEur": 120, "warnEur": 90, "criticalEur": 105},
}


def five_mistakes() -> dict[str, Any]:
    """PROD with five independent errors, one per config section."""
    return variant(
        PROD,
        location="nbg9",
        servers={"app": {"serverType": "cx32"}},
        volumes={"data": {"sizeGb": 5}},
        ssh={**PROD["ssh"], "port": 80},
        dns={**PROD["dns"], "zone": "not a domain"},
    )


FIVE_MISTAKE_PATHS = ("location", "servers.app.serverType", "volumes.data.sizeGb", "ssh.port", "dns.zone")


def variant(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    values = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return values


def write_stack(tmp_path: Path, values: dict[str, Any], name: str = "test", extra: dict[str, Any] | None = None) -> StackFile:
    document = {"config": {f"hetzner-platform:{key}": value for key, value in values.items()} | (extra or {})}
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return read_stack_file(path)


def evaluate_values(tmp_path: Path, values: dict[str, Any], **kwargs: Any) -> Evaluation:
    return evaluate(write_stack(tmp_path, values), **kwargs)
