"""Read the stack config from Pulumi's runtime (pulumi up / preview, or the offline plan's mocks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from config.errors import ConfigError, ConfigIssue
from config.formats import check_webhook_url
from config.loader import REQUIRED_SECRETS, config_keys, decode_runtime_value, misplaced_secret_issues, validate_config
from config.schema import StackConfig
from config.stack_base import EXTENDS_KEY, apply_base
from config.stack_file import NAMESPACE, SECRET_COMMANDS, app_secret_command, is_placeholder

# The alert webhook's URL reaches curl's --config on the host (render/templates/ops/rootfs/usr/local/sbin/hp-alert-send).
ALERT_WEBHOOK_SECRET = "alertWebhookUrl"


@dataclass
class StackSecrets:
    """Secret values as Pulumi secrets; `placeholders` names those the offline plan stood in for."""

    ssh_private_key: pulumi.Output[str]
    provided: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    placeholders: set[str] = field(default_factory=set)


def _raw_values(cfg: pulumi.Config) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in [*config_keys(), EXTENDS_KEY]:
        raw = cfg.get(key)
        if raw is not None:
            # A YAML null in the stack file (a key that removes its base's value) arrives as the text "null".
            values[key] = None if raw.strip() == "null" else decode_runtime_value(raw)
    # `pulumi up` runs the program in the project directory, where the stack files are.
    return apply_base(values, Path.cwd(), f"stack {pulumi.get_stack()}")


def load_from_pulumi(namespace: str = NAMESPACE) -> tuple[StackConfig, StackSecrets]:
    """Validate everything first; raise ConfigError (all issues at once) before any resource exists."""
    cfg = pulumi.Config(namespace)
    issues: list[ConfigIssue] = misplaced_secret_issues(
        {key for key in config_keys() if pulumi.runtime.is_config_secret(f"{namespace}:{key}")}
    )
    for full_key, command in SECRET_COMMANDS.items():
        provider, _, key = full_key.partition(":")
        if pulumi.Config(provider).get(key) is not None and not pulumi.runtime.is_config_secret(full_key):
            issues.append(ConfigIssue(full_key, f"a secret in plain text: run `{command}`"))
    # Pulumi marks a structured value secret when any value inside it is `secure:` (pulumi/pulumi
    # sdk/go/common/resource/config/value.go, unmarshalValue: `c.secure = hasSecureValue(obj)`), so this
    # catches an appSecrets map without any encrypted value; a map mixing both is refused by the stack
    # file check (StackFile.plain_secret_issues), which sees each entry.
    if cfg.get("appSecrets") is not None and not pulumi.runtime.is_config_secret(f"{namespace}:appSecrets"):
        issues.append(ConfigIssue("appSecrets", f"secrets in plain text: store each with `{app_secret_command('NAME')}`"))
    placeholders: set[str] = set()
    private_key = cfg.get("sshPrivateKey")
    for key in REQUIRED_SECRETS:
        value = cfg.get(key)
        if value is None or not value.strip():
            issues.append(ConfigIssue(key, f"required secret is not set: pulumi config set --secret {key} < ~/.ssh/id_ed25519"))
        elif is_placeholder(value):
            placeholders.add(key)
    app_secrets_raw = cfg.get("appSecrets")
    app_secrets = decode_runtime_value(app_secrets_raw) if app_secrets_raw else {}
    if not isinstance(app_secrets, dict):
        hint = "must be a mapping of NAME: secret value (pulumi config set --secret --path appSecrets.NAME)"
        issues.append(ConfigIssue("appSecrets", hint))
        app_secrets = {}
    for name, value in app_secrets.items():
        if not isinstance(value, str) or not value:
            issues.append(ConfigIssue(f"appSecrets.{name}", "secret value is empty"))
        elif is_placeholder(value):
            placeholders.add(f"appSecrets.{name}")
        elif name == ALERT_WEBHOOK_SECRET:
            try:
                check_webhook_url(value)
            except ValueError as exc:
                issues.append(ConfigIssue(f"appSecrets.{name}", str(exc)))
    try:
        config = validate_config(_raw_values(cfg), source=f"stack {pulumi.get_stack()}")
    except ConfigError as error:
        raise ConfigError(error.issues + issues, error.source) from None
    if issues:
        raise ConfigError(issues, f"stack {pulumi.get_stack()}")
    secrets = StackSecrets(
        ssh_private_key=pulumi.Output.secret(private_key or ""),
        provided={name: pulumi.Output.secret(str(value)) for name, value in app_secrets.items()},
        placeholders=placeholders,
    )
    return config, secrets
