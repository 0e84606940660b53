"""Turn raw config values (from a stack file or from Pulumi's runtime config) into a StackConfig."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from config.base import bool_number_paths
from config.cross_checks import cross_field_issues
from config.errors import ConfigError, ConfigIssue, CrossFieldIssues, issues_from_error_details
from config.schema import StackConfig

# Secret keys live beside the schema, never inside it: the model holds no secret values.
SECRET_KEYS = ("sshPrivateKey", "appSecrets")
REQUIRED_SECRETS = ("sshPrivateKey",)


def misplaced_secret_issues(secret_roots: set[str]) -> list[ConfigIssue]:
    """Encrypted values belong in sshPrivateKey or appSecrets: anywhere else they would end up in plain
    scripts and state, because the schema treats those keys as plain settings."""
    return [
        ConfigIssue(root, "holds an encrypted value; secrets go in sshPrivateKey or appSecrets.<NAME> only")
        for root in sorted(secret_roots)
        if root not in SECRET_KEYS
    ]


def config_keys() -> list[str]:
    """Top-level keys of the hetzner-platform namespace, as written in stack files."""
    return [info.alias or name for name, info in StackConfig.model_fields.items()]


def validate_config(values: dict[str, Any], source: str = "stack config") -> StackConfig:
    """Validate raw values; raise ConfigError naming every problem with its path."""
    unknown = sorted(set(values) - set(config_keys()) - set(SECRET_KEYS))
    issues = [ConfigIssue(key, "unknown config key (check the spelling against the configuration reference)") for key in unknown]
    known = {key: value for key, value in values.items() if key not in unknown and key not in SECRET_KEYS}
    issues += [ConfigIssue(path, "expected a number, got a boolean") for path in bool_number_paths(StackConfig, known)]
    try:
        config = StackConfig.model_validate(known)
    except ValidationError as error:
        issues += _expand(error)
        raise ConfigError(issues, source) from None
    issues += cross_field_issues(config)
    if issues:
        raise ConfigError(issues, source)
    return config


def _expand(error: ValidationError) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    plain: list[ErrorDetails] = []
    for detail in error.errors():
        cross = (detail.get("ctx") or {}).get("error")
        if isinstance(cross, CrossFieldIssues):
            issues += cross.issues
        else:
            plain.append(detail)
    if plain:
        issues = issues_from_error_details(plain) + issues
    return issues


def decode_runtime_value(raw: str) -> Any:
    """Pulumi hands structured config to programs as JSON text; scalars stay plain strings."""
    text = raw.strip()
    if text[:1] in "{[":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return raw
    return raw
