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
from config.safe_yaml import YamlRefused, load_yaml_file

NAMESPACE = "hetzner-platform"


# Keys whose value must be stored encrypted (`secure:`), with the command that stores it that way.
# Provider tokens: a plain `hcloud:token` would sit in git and, in the offline plan, reach the live API.
SECRET_COMMANDS = {
    "hcloud:token": "pulumi config set --secret hcloud:token",
    "cloudflare:apiToken": "pulumi config set --secret cloudflare:apiToken",
    f"{NAMESPACE}:sshPrivateKey": f"pulumi config set --secret {NAMESPACE}:sshPrivateKey < ~/.ssh/id_ed25519",
}


def app_secret_command(name: str) -> str:
    return f"pulumi config set --secret --path '{NAMESPACE}:appSecrets.{name}' '<value>'"


def secret_placeholder(key: str, state: str) -> str:
    """The stand-in for an encrypted stack-file value the offline plan cannot read."""
    return f"<secret {key}: {state}>"


def value_placeholder(name: str) -> str:
    """The stand-in for a secret's value in rendered files when the real value is not at hand."""
    return f"<secret {name}>"


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

    def plain_secret_issues(self) -> list[ConfigIssue]:
        """Secrets written in plain text: refused, with the command that stores them encrypted."""
        issues: list[ConfigIssue] = []
        for full_key, command in SECRET_COMMANDS.items():
            namespace, _, key = full_key.partition(":")
            present = key in self.values if namespace == NAMESPACE else full_key in self.provider_values
            secret = key in self.secret_keys if namespace == NAMESPACE else full_key in self.secret_keys
            if present and not secret:
                field = key if namespace == NAMESPACE else full_key
                issues.append(ConfigIssue(field, f"a secret in plain text: remove it from the file and run `{command}`"))
        app_secrets = self.values.get("appSecrets")
        if app_secrets is not None and "appSecrets" not in self.secret_keys:
            names = app_secrets if isinstance(app_secrets, dict) else {"NAME": None}
            for name in names:
                if f"appSecrets.{name}" not in self.secret_keys:
                    issues.append(ConfigIssue(
                        f"appSecrets.{name}",
                        f"a secret in plain text: remove it from the file and run `{app_secret_command(str(name))}`",
                    ))
        return issues

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


def read_stack_file(path: Path) -> StackFile:
    try:
        document = load_yaml_file(path) or {}
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(str(path), "stack file not found")], str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([ConfigIssue(str(path), f"cannot be read: {exc}")], str(path)) from None
    except YamlRefused as exc:
        field = exc.path.removeprefix("config.").removeprefix(f"{NAMESPACE}:") or str(path)
        raise ConfigError([ConfigIssue(field, f"refused: {exc}")], str(path)) from None
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
