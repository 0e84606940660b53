"""The optional Prometheus + Grafana preset (`ops.monitoring.prometheus`): scrape config, alert rules
(seed 004's, the YTEMPIRE guide in docs/sources.md, then the small-box ones) and its compose project, all on the loopback address."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from config.ops import PrometheusConfig
from render.host_script import fill_text
from render.ops_view import OpsView
from render.steps import HostRuntime
from spec.host_paths import MONITORING_DIR
from spec.ports import GRAFANA_PORT, PROMETHEUS_PORT

ALERT_RULES = Path(__file__).resolve().parent / "templates" / "ops" / "rootfs" / MONITORING_DIR.lstrip("/") / "alerts.yml"


def prometheus_files(view: OpsView, runtime: HostRuntime, secrets: Mapping[str, str]) -> dict[str, str]:
    """The monitoring compose project and its files under MONITORING_DIR (host path -> content)."""
    preset = view.ops.monitoring.prometheus
    services: dict[str, object] = {"prometheus": _prometheus_service(preset)}
    volumes: dict[str, object] = {"prometheus-data": {}}
    files = {
        f"{MONITORING_DIR}/prometheus.yml": yaml.safe_dump(_prometheus_config(view, runtime), sort_keys=False),
        f"{MONITORING_DIR}/alerts.yml": yaml.safe_dump(_alert_rules(view), sort_keys=False),
    }
    if preset.grafana:
        services["grafana"] = _grafana_service(preset)
        volumes["grafana-data"] = {}
        files[f"{MONITORING_DIR}/grafana-datasources.yml"] = yaml.safe_dump(
            {"apiVersion": 1, "datasources": [{"name": "Prometheus", "type": "prometheus", "access": "proxy",
                                                "url": f"http://127.0.0.1:{PROMETHEUS_PORT}", "isDefault": True}]}, sort_keys=False)
        password = secrets.get("grafanaAdminPassword", "")
        files[f"{MONITORING_DIR}/grafana.env"] = f"GF_SECURITY_ADMIN_PASSWORD={password}\n"
    compose = {"name": f"{view.compose_project}-monitoring", "services": services, "volumes": volumes}
    files[f"{MONITORING_DIR}/compose.yaml"] = yaml.safe_dump(compose, sort_keys=False)
    return files


def _prometheus_config(view: OpsView, runtime: HostRuntime) -> dict[str, object]:
    """prometheus.yml: Prometheus itself, the node exporter, Docker's metrics and the extra targets."""
    monitoring = view.ops.monitoring
    preset = monitoring.prometheus
    scrape = [
        {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{PROMETHEUS_PORT}"]}]},
        {"job_name": "node", "static_configs": [{"targets": [view.node_exporter_address(runtime)]}]},
        {"job_name": "docker", "static_configs": [{"targets": [monitoring.docker_metrics]}]},
        *({"job_name": job, "static_configs": [{"targets": [target]}]} for job, target in preset.extra_targets.items()),
    ]
    return {
        "global": {"scrape_interval": preset.scrape_interval, "evaluation_interval": preset.scrape_interval},
        "rule_files": ["/etc/prometheus/alerts.yml"],
        "scrape_configs": scrape,
    }


def _alert_rules(view: OpsView) -> object:
    """The alert rules template filled with the stack's thresholds."""
    alerts = view.ops.alerts
    return yaml.safe_load(fill_text(
        ALERT_RULES.read_text(encoding="utf-8"), ALERT_RULES.name, project=view.config.project,
        disk_percent=alerts.disk_percent, free_percent=100 - alerts.disk_percent, memory_percent=alerts.memory_percent,
        rpo_seconds=view.ops.rpo_minutes * 60, rpo_minutes=view.ops.rpo_minutes,
    ))


def _prometheus_service(preset: PrometheusConfig) -> dict[str, object]:
    return {
        "image": preset.prometheus_image,
        "network_mode": "host",
        "restart": "unless-stopped",
        "command": [
            "--config.file=/etc/prometheus/prometheus.yml",
            "--storage.tsdb.path=/prometheus",
            f"--storage.tsdb.retention.time={preset.retention}",
            f"--web.listen-address=127.0.0.1:{PROMETHEUS_PORT}",
        ],
        "volumes": [
            "./prometheus.yml:/etc/prometheus/prometheus.yml:ro",
            "./alerts.yml:/etc/prometheus/alerts.yml:ro",
            "prometheus-data:/prometheus",
        ],
        "deploy": {"resources": {"limits": {"memory": "384M", "cpus": "0.5"}}},
    }


def _grafana_service(preset: PrometheusConfig) -> dict[str, object]:
    """Grafana on the loopback address; its admin password comes from grafana.env (0600)."""
    return {
        "image": preset.grafana_image,
        "network_mode": "host",
        "restart": "unless-stopped",
        "env_file": ["./grafana.env"],
        "environment": {
            "GF_SERVER_HTTP_ADDR": "127.0.0.1",
            "GF_SERVER_HTTP_PORT": str(GRAFANA_PORT),
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_USERS_ALLOW_SIGN_UP": "false",
        },
        "volumes": ["grafana-data:/var/lib/grafana", "./grafana-datasources.yml:/etc/grafana/provisioning/datasources/hp.yml:ro"],
        "deploy": {"resources": {"limits": {"memory": "192M", "cpus": "0.5"}}},
    }
