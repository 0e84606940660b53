"""Shared helpers for the app tests: stack configs built in code, real-tool locations, presets."""

from __future__ import annotations

import copy
import json
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from config.app_stack_rules import app_stack_issues
from config.loader import validate_config
from config.schema import StackConfig
from config.stack_base import read_merged_stack_file
from tests.keys import ADMIN_KEY
from tests.prerequisites import VENV_BIN

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
COMPOSE_BIN = VENV_BIN / "docker-compose"


def base_values(app: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "project": "leap",
        "environment": "prod",
        "location": "nbg1",
        "ssh": {"adminUser": "deploy", "port": 2222, "publicKeys": [ADMIN_KEY], "adminCidrs": ["203.0.113.0/24"]},
        "servers": {"app": {"serverType": "cx43"}},
        "volumes": {"data": {"sizeGb": 50}},
        "dns": {"zone": "example.com", "records": [{"name": "api"}, {"name": "flower"}, {"name": "@"}]},
        "budget": {"monthlyEur": 100},
        "app": copy.deepcopy(app),
    }
    for key, value in overrides.items():
        if value is None:
            values.pop(key, None)
        else:
            values[key] = value
    return values


def small_app(api_image: str = "ghcr.io/acme/api:1.0", **overrides: Any) -> dict[str, Any]:
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
    app.update(overrides)
    return app


def phase2_values(app: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    app = app or small_app()
    app = copy.deepcopy(app)
    app["services"]["redis"]["configFiles"]["passwordSecret"] = "REDIS_PASSWORD"
    values = base_values(
        app,
        servers={
            "web": {"serverType": "cx43", "roles": ["web"]},
            "db": {"serverType": "cx33", "roles": ["db"]},
            "worker": {"serverType": "cx33", "roles": ["worker"]},
        },
        volumes={"data": {"sizeGb": 100, "server": "db"}},
        network={"ipRange": "10.0.0.0/16", "subnet": "10.0.1.0/24"},
        loadBalancer={"type": "lb11"},
    )
    values.update(overrides)
    return values


def load(values: dict[str, Any], *, strict: bool = True) -> StackConfig:
    config = validate_config(copy.deepcopy(values))
    if strict:
        issues = app_stack_issues(config)
        assert not issues, [str(issue) for issue in issues]
    return config


def presets() -> list[Path]:
    return sorted(EXAMPLES.glob("*.yaml"))


@cache
def preset_config(path: Path) -> StackConfig:
    return validate_config(read_merged_stack_file(path).values, source=str(path))


@lru_cache(maxsize=1)
def compose_schema() -> dict[str, Any]:
    import check_jsonschema

    schema_path = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    return json.loads(schema_path.read_text(encoding="utf-8"))


def compose_check(text: str, secrets: list[str], directory: Path) -> dict[str, Any]:
    """Run the real `docker compose config` on a rendered file (dummy secret values); return its model."""
    import subprocess

    from render.app import render_env_file

    directory.mkdir(parents=True, exist_ok=True)
    compose_file = directory / "docker-compose.yml"
    compose_file.write_text(text, encoding="utf-8")
    env_file = directory / ".env"
    env_file.write_text(render_env_file({name: f"dummy-{name.lower()}" for name in secrets}), encoding="utf-8")
    base = [str(COMPOSE_BIN), "--project-directory", str(directory), "-f", str(compose_file), "--env-file", str(env_file)]
    quiet = subprocess.run([*base, "config", "-q"], capture_output=True, text=True)
    assert quiet.returncode == 0, quiet.stderr
    full = subprocess.run([*base, "config", "--format", "json"], capture_output=True, text=True)
    assert full.returncode == 0, full.stderr
    return dict(json.loads(full.stdout))


def schema_errors(model: dict[str, Any]) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(compose_schema())
    return [f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}" for error in validator.iter_errors(model)]
