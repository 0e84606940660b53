"""The seeds' stacks the cost tests price (their golden reports), built on tests/stacks.py."""

from __future__ import annotations

import copy
from typing import Any

from config.loader import validate_config
from config.schema import StackConfig
from spec.resources import PlatformSpec, resolve
from tests.fixed_date import GENERATED_AS_OF
from tests.stacks import MINIMAL, SSH, variant

# Seeds 002/003: the Chrono Scraper compose limits, with the roles of their phase-2 split.
SEED_002_SERVICES: dict[str, Any] = {
    "postgres": {"image": "postgres:16-alpine", "role": "db", "limits": {"cpus": 1.0, "memory": "1.5G"}},
    "redis": {"image": "redis:7-alpine", "role": "web", "limits": {"cpus": 0.5, "memory": "512M"}},
    "meilisearch": {"image": "getmeili/meilisearch:v1.8", "role": "db", "limits": {"cpus": 0.5, "memory": "1G"}},
    "backend": {"image": "ghcr.io/example/chrono-backend:1.0", "role": "web", "limits": {"cpus": 1.0, "memory": "1G"},
                "expose": {"port": 8000, "path": "/api"}},
    "celery-worker": {"image": "ghcr.io/example/chrono-backend:1.0", "role": "worker", "limits": {"cpus": 1.0, "memory": "1G"}},
    "firecrawl-playwright": {"image": "ghcr.io/example/playwright:1.0", "role": "worker",
                             "limits": {"cpus": 1.0, "memory": "1.5G"}},
    "firecrawl-api": {"image": "ghcr.io/example/firecrawl-api:1.0", "role": "worker", "limits": {"cpus": 0.5, "memory": "512M"}},
    "frontend": {"image": "ghcr.io/example/chrono-frontend:1.0", "role": "web", "limits": {"cpus": 0.5, "memory": "256M"},
                 "expose": {"port": 3000}},
}
# The seeds' traefik (0.25 vCPU, 128 MB) is the platform's proxy: app.proxy, whose default limits match.

# Seed 000: the lecture-transcription MVP on one 8 vCPU / 16 GB server.
SEED_000_SERVICES: dict[str, Any] = {
    "postgres": {"image": "postgres:15-alpine", "role": "db", "limits": {"cpus": 1.0, "memory": "4G"}},
    "redis": {"image": "redis:7-alpine", "role": "db", "limits": {"cpus": 0.5, "memory": "512M"}},
    "fastapi": {"image": "ghcr.io/example/lectures-api:1.0", "role": "web", "limits": {"cpus": 1.0, "memory": "1G"},
                "expose": {"port": 8000, "host": "api"}},
    "celery-workers": {"image": "ghcr.io/example/lectures-api:1.0", "role": "worker", "limits": {"cpus": 4.0, "memory": "6G"}},
    "celery-beat": {"image": "ghcr.io/example/lectures-api:1.0", "role": "worker", "limits": {"cpus": 0.5, "memory": "256M"}},
    "flower": {"image": "mher/flower:2.0", "role": "web", "limits": {"cpus": 0.5, "memory": "256M"},
               "expose": {"port": 5555, "host": "flower"}, "adminOnly": True},
}


def phase1_raw(ordered_on: str | None) -> dict[str, Any]:
    """Seeds 002/003 phase 1, corrected: cx33 (CX32 is retired) + 100 GB volume + lb11 + floating IPv4
    + backups + an expected 80 GB snapshot + the primary IPv4 the seeds forgot. Budget EUR 50 with the
    seeds' alert levels (warning > 40, critical > 45)."""
    server: dict[str, Any] = {"serverType": "cx33"}
    if ordered_on is not None:
        server["orderedOn"] = ordered_on
    return {
        "project": "chrono", "environment": "prod", "location": "nbg1",
        "ssh": copy.deepcopy(SSH),
        "servers": {"app": server},
        "volumes": {"data": {"sizeGb": 100}},
        "network": {},
        "loadBalancer": {"type": "lb11"},
        "floatingIp": {"type": "ipv4"},
        "budget": {"monthlyEur": 50, "warnEur": 40, "criticalEur": 45, "enforce": True},
        "pricing": {"asOf": GENERATED_AS_OF.isoformat(), "expectedSnapshotGb": 80},
        "capacity": {"reserveRamGb": 0.6, "reserveVcpu": 0.5},  # the seeds' "600MB system reserve"
        "app": {"services": copy.deepcopy(SEED_002_SERVICES), "domain": "chronoscraper.example", "acmeEmail": "ops@chronoscraper.example"},
    }


def seed000_raw() -> dict[str, Any]:
    """Seed 000's "CPX31 8 vCPU / 16 GB" does not exist (CPX31 is 4 vCPU / 8 GB and US-only now); the
    current type that fits its 16 GB allocation is cx43 (8 vCPU / 16 GB). No Hetzner backups (the seed
    dumps to Backblaze); the external lines are the seed's, its USD figures taken 1:1 as EUR."""
    return {
        "project": "lectures", "environment": "prod", "location": "fsn1",
        "ssh": copy.deepcopy(SSH),
        "servers": {"main": {"serverType": "cx43", "backups": False}},
        "budget": {"monthlyEur": 100},
        "pricing": {
            "asOf": GENERATED_AS_OF.isoformat(),
            "vatRatePercent": 19,
            "extraLines": [
                {"item": "AI API (avg 500 lectures)", "monthlyEur": 60.00, "note": "seed: USD 60/month, taken 1:1 as EUR"},
                {"item": "Backblaze B2 (50 GB)", "monthlyEur": 0.25, "note": "seed: USD 0.25/month"},
                {"item": "Domain + SSL", "monthlyEur": 1.00, "note": "seed: USD 1/month"},
            ],
        },
        # The seed's "System/Overhead: 2 GB RAM, 0.5 vCPU" included nginx on the host; here the proxy is a
        # container with its own limits (traefik, 0.25 vCPU / 128 MB), the reserve is the rest.
        "capacity": {"reserveRamGb": 1.875, "reserveVcpu": 0.25},
        "app": {"services": copy.deepcopy(SEED_000_SERVICES), "domain": "lectures.example", "acmeEmail": "ops@lectures.example"},
    }


def minimal_raw(**changes: Any) -> dict[str, Any]:
    """MINIMAL priced for the fixed date; keyword arguments as for tests.stacks.variant()."""
    return variant(MINIMAL, **({"pricing": {"asOf": GENERATED_AS_OF.isoformat()}} | changes))


def build(raw: dict[str, Any]) -> tuple[StackConfig, PlatformSpec]:
    config = validate_config(raw)
    return config, resolve(config)
