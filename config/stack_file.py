"""Read a Pulumi stack file (Pulumi.<stack>.yaml) without the Pulumi CLI.

Encrypted values (`secure: ...`) cannot be decrypted offline; they become marked placeholders so a
plan can run and show where a secret will go without ever holding its value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from config.errors import ConfigError, ConfigIssue

NAMESPACE = "hetzner-platform"


def secret_placeholder(key: str, state: str) -> str:
    return f"<secret {key}: {state}>"


def is_placeholder(value: str) -> bool:
    return value.startswith("<secret ") and value.endswith(">")


@dataclass
class StackFile:
    path: Path
    # Values of our namespace, keyed without the "hetzner-platform:" prefix.
    values: dict[str, Any] = field(default_factory=dict)
    # Keys (ours, without prefix; other namespaces with it) whose value is encrypted.
    secret_keys: set[str] = field(default_factory=set)
    # Keys of other namespaces (hcloud:token, cloudflare:apiToken), full key -> value.
    provider_values: dict[str, Any] = field(default_factory=dict)
    # The base stack file this one extends (config/stack_base.py); `values` hold the merged result.
    extends: str | None = None

    @property
    def stack_name(self) -> str:
        name = self.path.name
        return name.removeprefix("Pulumi.").removesuffix(".yaml").removesuffix(".yml")


def _replace_secure(value: Any, key: str, secret_keys: set[str]) -> Any:
    """Swap every {secure: ...} leaf for a placeholder and remember its key path."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            secret_keys.add(key)
            return secret_placeholder(key, "encrypted in the stack file")
        return {k: _replace_secure(v, f"{key}.{k}", secret_keys) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_secure(v, f"{key}[{i}]", secret_keys) for i, v in enumerate(value)]
    return value


class _StackFileLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but an unquoted timestamp (`orderedOn: 2026-12-04`) stays the text that was
    written, as Pulumi hands it to the program: the schema's date fields parse it and name the field when
    it is not a real day (2026-13-04), where PyYAML would raise its own ValueError."""


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))  # type: ignore[arg-type]


_StackFileLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def read_stack_file(path: Path) -> StackFile:
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_StackFileLoader) or {}
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(str(path), "stack file not found")], str(path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError([ConfigIssue(str(path), f"not valid YAML: {exc}")], str(path)) from None
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise ConfigError([ConfigIssue("config", "the stack file must hold a `config:` mapping")], str(path))
    stack = StackFile(path=path)
    for full_key, value in (document.get("config") or {}).items():
        namespace, _, key = str(full_key).partition(":")
        if not key:
            raise ConfigError([ConfigIssue(str(full_key), "config keys need a namespace, e.g. hetzner-platform:location")], str(path))
        secret_root: set[str] = set()
        replaced = _replace_secure(value, key, secret_root)
        if namespace == NAMESPACE:
            stack.values[key] = replaced
            stack.secret_keys |= secret_root
        else:
            stack.provider_values[str(full_key)] = replaced
            stack.secret_keys |= {f"{namespace}:{k}" for k in secret_root}
    return stack
