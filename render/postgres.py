"""postgresql.conf tuned from the Postgres service's memory limit.

Formulas (L = the container's memory limit), chosen so a 4 GB limit gives seed 000's file exactly (the MVP setup, docs/sources.md):
  shared_buffers        = 25 % of L                    (4 GB -> 1GB)
  effective_cache_size  = 75 % of L                    (4 GB -> 3GB)
  work_mem              = L / 256, 4MB..64MB           (4 GB -> 16MB)
  maintenance_work_mem  = L / 16, 64MB..2GB            (4 GB -> 256MB)
  wal_buffers           = shared_buffers / 32, max 16MB (Postgres' own auto rule, written out)
  checkpoint_completion_target 0.9, random_page_cost 1.1, effective_io_concurrency 200 (SSD),
  max_wal_size 2GB, min_wal_size 1GB, max_connections 100, log_min_duration_statement 1000 (ms).
The file replaces the image's postgresql.conf (`postgres -c config_file=...`), so it also sets what
initdb would have written (listen_addresses, time zone, text search config).
"""

from __future__ import annotations

import re

from config.app_files import PostgresTuning
from config.app_service import ServiceConfig

CONTAINER_PATH = "/etc/postgresql/postgresql.conf"


def pg_size(mb: float) -> str:
    """Whole MB in postgres notation, GB when it divides evenly: 1024 -> '1GB', 384 -> '384MB'."""
    value = int(mb)
    if value >= 1024 and value % 1024 == 0:
        return f"{value // 1024}GB"
    return f"{value}MB"


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def postgres_settings(service: ServiceConfig) -> dict[str, str]:
    """The tuned settings (name -> postgresql.conf value) for a service with configFiles.kind postgres."""
    tuning = service.config_files
    if not isinstance(tuning, PostgresTuning):
        raise ValueError("the service has no postgres configFiles")
    limit = service.limits.memory_mb
    shared_buffers = int(limit * 0.25)
    settings: dict[str, str] = {
        "listen_addresses": "'*'",
        "port": "5432",
        "max_connections": str(tuning.max_connections),
        # Memory
        "shared_buffers": pg_size(shared_buffers),
        "effective_cache_size": pg_size(limit * 0.75),
        "work_mem": tuning.work_mem or pg_size(_clamp(limit / 256, 4, 64)),
        "maintenance_work_mem": tuning.maintenance_work_mem or pg_size(_clamp(limit / 16, 64, 2048)),
        # Checkpoints and WAL
        "checkpoint_completion_target": "0.9",
        "wal_buffers": pg_size(_clamp(shared_buffers / 32, 1, 16)),
        "max_wal_size": tuning.max_wal_size,
        "min_wal_size": tuning.min_wal_size,
        # Query planning on NVMe
        "random_page_cost": "1.1",
        "effective_io_concurrency": "200",
        # Logging (to the container's stderr, rotated by Docker)
        "log_min_duration_statement": str(tuning.log_min_duration_statement_ms),
        "log_destination": "'stderr'",
        "logging_collector": "off",
        "log_timezone": "'UTC'",
        # What initdb writes into a fresh postgresql.conf
        "timezone": "'UTC'",
        "datestyle": "'iso, mdy'",
        "default_text_search_config": "'pg_catalog.english'",
        "dynamic_shared_memory_type": "posix",
    }
    for key, value in tuning.settings.items():
        settings[key] = _pg_value(value)
    return settings


def _pg_value(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        return str(value)
    if re.fullmatch(r"[A-Za-z0-9_.-]+", value):
        return value
    return f"'{value}'"


def render_postgresql_conf(name: str, service: ServiceConfig) -> str:
    settings = postgres_settings(service)
    lines = [
        f"# postgresql.conf for service '{name}', rendered by hetzner-platform from its memory limit "
        f"({service.limits.memory}).",
        "# Edit app.services.<name>.configFiles in the stack config, not this file.",
        "",
    ]
    lines += [f"{key} = {value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"
