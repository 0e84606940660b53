"""Every stack the tests build in code, in one home, so each test states exactly what it changes.

- PROD, STAGING, PHASE2: the chrono stacks of the unit and growth tests (one server with every resource, a
  small staging one, and the phase-2 split into web, db and worker behind a load balancer).
- HOST_STACK: the one-server stack the render validators run over (every host feature on).
- app_stack(), small_app(), phase2_app_stack(): the app tests' stacks (PostgreSQL, Redis, an API, a worker).
- OPS_STACK: the one-server stack with four small services that the ops renderers run over.
- MINIMAL: a staging stack with one server and nothing else (the cost tests add prices to it).
- the presets in examples/ and the swarm preset, loaded as a user's stack file would be.
`variant()` derives a stack from any of these; `write_stack()` writes one as a Pulumi stack file.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from cli.evaluate import Evaluation, evaluate
from config.loader import validate_config
from config.schema import StackConfig
from config.stack_base import read_merged_stack_file
from config.stack_file import StackFile, read_stack_file
from tests.keys import ADMIN_KEY

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SWARM_PRESET = EXAMPLES / "Pulumi.swarm.yaml"

# The admin access every stack here shares: SSH on 2222 for `deploy` from one documentation range.
SSH: dict[str, Any] = {"adminUser": "deploy", "port": 2222, "publicKeys": [ADMIN_KEY], "adminCidrs": ["203.0.113.0/24"]}
PRIVATE_NETWORK: dict[str, Any] = {"ipRange": "10.0.0.0/16", "subnet": "10.0.1.0/24"}
# Phase 2: the one server split by role.
PHASE2_SERVERS: dict[str, Any] = {
    "web": {"serverType": "cx43", "roles": ["web"]},
    "db": {"serverType": "cx33", "roles": ["db"]},
    "worker": {"serverType": "cx33", "roles": ["worker"]},
}

PROD: dict[str, Any] = {
    "project": "chrono",
    "environment": "prod",
    "location": "nbg1",
    "ssh": copy.deepcopy(SSH),
    "servers": {"app": {"serverType": "cx33", "backups": True}},
    "volumes": {"data": {"sizeGb": 100}},
    "network": copy.deepcopy(PRIVATE_NETWORK),
    "loadBalancer": {"type": "lb11", "healthCheck": {"path": "/health"}},
    "floatingIp": {"type": "ipv4", "dnsPtr": "chrono.example.com"},
    "dns": {"zone": "chrono.example.com", "proxied": True, "records": [{"name": "@"}, {"name": "www"}]},
    "budget": {"monthlyEur": 50, "warnEur": 40, "criticalEur": 45, "enforce": True},
}

STAGING: dict[str, Any] = {
    "project": "chrono",
    "environment": "staging",
    "ssh": copy.deepcopy(SSH),
    "servers": {"app": {"serverType": "cx23", "backups": False}},
    "volumes": {"data": {"sizeGb": 10}},
    "budget": {"monthlyEur": 15, "warnEur": 10, "criticalEur": 12},
}

PHASE2: dict[str, Any] = {
    **copy.deepcopy(PROD),
    "servers": copy.deepcopy(PHASE2_SERVERS),
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
    """A copy of `base` with top-level keys replaced (a value of None removes the key)."""
    values = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = copy.deepcopy(value)
    return values


def prod_app_server(**server: Any) -> dict[str, Any]:
    """PROD with its one server's settings replaced by these (backups stay on)."""
    return variant(PROD, servers={"app": {"backups": True, **server}})


def stack_document(values: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Pulumi stack file of these values: each key under the project's namespace, then `extra` as it is."""
    return {"config": {f"hetzner-platform:{key}": value for key, value in values.items()} | (extra or {})}


def write_stack_file(path: Path, values: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(stack_document(values, extra), sort_keys=False), encoding="utf-8")
    return path


def write_stack(tmp_path: Path, values: dict[str, Any], name: str = "test", extra: dict[str, Any] | None = None) -> StackFile:
    return read_stack_file(write_stack_file(tmp_path / f"Pulumi.{name}.yaml", values, extra))


def evaluate_values(tmp_path: Path, values: dict[str, Any], **kwargs: Any) -> Evaluation:
    return evaluate(write_stack(tmp_path, values), **kwargs)


# --- the render validators' host ----------------------------------------------------------------------
HOST_STACK: dict[str, Any] = {
    "project": "chrono",
    "environment": "prod",
    "location": "nbg1",
    "ssh": copy.deepcopy(SSH),
    "servers": {"app": {"serverType": "cx33", "image": "debian-12", "roles": ["web", "db", "worker"]}},
    "volumes": {"data": {"sizeGb": 100, "mountPoint": "/mnt/data", "format": "ext4"}},
    "network": copy.deepcopy(PRIVATE_NETWORK),
    "floatingIp": {"type": "ipv4"},
    "budget": {"monthlyEur": 50},
    "host": {"timezone": "UTC", "swapGb": 4, "adminPorts": [9000]},
}


# --- the app tests' stacks ----------------------------------------------------------------------------
def app_stack(app: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """One cx43 for project `leap` running `app`; keyword arguments as for variant()."""
    values: dict[str, Any] = {
        "project": "leap",
        "environment": "prod",
        "location": "nbg1",
        "ssh": copy.deepcopy(SSH),
        "servers": {"app": {"serverType": "cx43"}},
        "volumes": {"data": {"sizeGb": 50}},
        "dns": {"zone": "example.com", "records": [{"name": "api"}, {"name": "flower"}, {"name": "@"}]},
        "budget": {"monthlyEur": 100},
        "app": app,
    }
    return variant(values, **changes)


def small_app(api_image: str = "ghcr.io/acme/api:1.0", **changes: Any) -> dict[str, Any]:
    """PostgreSQL and Redis with config files, an API behind the proxy and a Celery worker."""
    app: dict[str, Any] = {
        "acmeEmail": "ops@example.com",
        "migrateCommand": "alembic upgrade head",
        "deploy": {"healthRetries": 3, "healthIntervalS": 1, "keepReleases": 3},
        "services": {
            "postgres": {
                "image": "postgres:15-alpine",
                "role": "db",
                "environment": {"POSTGRES_USER": "app", "POSTGRES_DB": "app"},
                "secretEnv": ["POSTGRES_PASSWORD"],
                "volumes": {"pgdata": "/var/lib/postgresql/data"},
                "configFiles": {"kind": "postgres"},
                "limits": {"cpus": 1, "memory": "2G"},
            },
            "redis": {
                "image": "redis:7-alpine",
                "role": "db",
                "volumes": {"redis": "/data"},
                "configFiles": {"kind": "redis", "maxmemoryPolicy": "allkeys-lru"},
                "limits": {"cpus": 0.5, "memory": "512M"},
            },
            "api": {
                "image": api_image,
                "environment": {
                    "DATABASE_URL": "postgresql://app:${POSTGRES_PASSWORD}@postgres:5432/app",
                    "REDIS_URL": "redis://redis:6379/0",
                },
                "secretEnv": ["JWT_SECRET"],
                "expose": {"port": 8000, "host": "api"},
                # The recreate path (fake_docker plays `docker compose` only); blue-green: test_blue_green.py.
                "strategy": "recreate",
                "healthcheck": {"test": "curl -fsS http://127.0.0.1:8000/health"},
                "dependsOn": {"postgres": "healthy", "redis": "healthy"},
                "limits": {"cpus": 1, "memory": "1G"},
            },
            "worker": {
                "image": api_image,
                "role": "worker",
                "command": "celery -A app.worker worker --concurrency=2",
                "environment": {"DATABASE_URL": "postgresql://app:${POSTGRES_PASSWORD}@postgres:5432/app"},
                "dependsOn": ["redis"],
                "limits": {"cpus": 1, "memory": "1G"},
            },
        },
    }
    return variant(app, **changes)


def phase2_app_stack(app: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """app_stack() split into web, db and worker behind a load balancer; Redis gets a password (its port is
    reached over the private network)."""
    app = copy.deepcopy(app or small_app())
    app["services"]["redis"]["configFiles"]["passwordSecret"] = "REDIS_PASSWORD"
    values = app_stack(
        app,
        servers=PHASE2_SERVERS,
        volumes={"data": {"sizeGb": 100, "server": "db"}},
        network=PRIVATE_NETWORK,
        loadBalancer={"type": "lb11"},
    )
    return variant(values, **changes)


# --- the ops renderers' stack -------------------------------------------------------------------------
_SMALL_LIMITS = {"cpus": 0.5, "memory": "512M"}
OPS_STACK: dict[str, Any] = {
    "project": "chrono",
    "environment": "prod",
    "ssh": copy.deepcopy(SSH),
    "servers": {"app": {"serverType": "cx33", "roles": ["web", "db", "worker"]}},
    "dns": {"zone": "chrono.example.com", "records": [{"name": "@"}, {"name": "api"}, {"name": "*"}]},
    "budget": {"monthlyEur": 50},
    "app": {"services": {
        "postgres": {"image": "postgres:15-alpine", "role": "db", "limits": _SMALL_LIMITS},
        "redis": {"image": "redis:7-alpine", "role": "db", "limits": _SMALL_LIMITS},
        "api": {"image": "ghcr.io/chrono/api:1.0", "role": "web", "limits": _SMALL_LIMITS},
        "worker": {"image": "ghcr.io/chrono/api:1.0", "role": "worker", "limits": _SMALL_LIMITS},
    }},
}

MINIMAL: dict[str, Any] = {
    "project": "demo",
    "environment": "staging",
    "location": "nbg1",
    "ssh": copy.deepcopy(SSH),
    "servers": {"web": {"serverType": "cx23"}},
    "budget": {"monthlyEur": 20},
}


# --- presets ------------------------------------------------------------------------------------------
def presets() -> list[Path]:
    return sorted(EXAMPLES.glob("*.yaml"))


def preset_values(path: Path) -> dict[str, Any]:
    """A preset's values, its `extends:` base merged in, as a copy to edit."""
    return copy.deepcopy(read_merged_stack_file(path).values)


@cache
def preset_config(path: Path) -> StackConfig:
    return validate_config(read_merged_stack_file(path).values, source=str(path))


def swarm_values() -> dict[str, Any]:
    return preset_values(SWARM_PRESET)


def swarm_config(values: dict[str, Any] | None = None) -> StackConfig:
    """The swarm preset, or these values (an edit of it), validated."""
    return validate_config(values if values is not None else swarm_values(), source="swarm test")
