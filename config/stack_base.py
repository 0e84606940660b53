"""Stack files that extend a base: `hetzner-platform:extends: Pulumi.prod.yaml` in Pulumi.staging.yaml.

The stack's own values are laid over the base's: mappings merge key by key (recursively), everything
else (lists, scalars) replaces the base's value, and `null` removes a key the base sets (staging without
the load balancer: `loadBalancer: null`). A base may extend another base. Secrets are never inherited:
the base's `sshPrivateKey` and `appSecrets` are encrypted for the base's stack, so each stack sets its
own. The offline plan and the Pulumi program both merge here, before validation, so they see the same
values; the merged result has no `extends` key.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.errors import ConfigError, ConfigIssue

if TYPE_CHECKING:
    from config.stack_file import StackFile

EXTENDS_KEY = "extends"
# Secret keys of the namespace (config/loader.py SECRET_KEYS): never taken from a base.
NOT_INHERITED = ("sshPrivateKey", "appSecrets")
MAX_DEPTH = 5


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overlay.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def apply_base(values: dict[str, Any], directory: Path, source: str, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """`values` with its base (and the base's base) merged under it; unchanged without `extends`."""
    name = values.get(EXTENDS_KEY)
    if name is None:
        return values
    from config.stack_file import read_stack_file

    if not isinstance(name, str) or not name.strip():
        raise ConfigError([ConfigIssue(EXTENDS_KEY, "must name a stack file, e.g. Pulumi.prod.yaml")], source)
    path = (directory / name).resolve()
    if path in _seen:
        chain = " -> ".join(p.name for p in (*_seen, path))
        raise ConfigError([ConfigIssue(EXTENDS_KEY, f"stack files extend each other in a circle: {chain}")], source)
    if len(_seen) >= MAX_DEPTH:
        raise ConfigError([ConfigIssue(EXTENDS_KEY, f"more than {MAX_DEPTH} levels of extends")], source)
    if not path.is_file():
        raise ConfigError([ConfigIssue(EXTENDS_KEY, f"{name} not found (relative to {directory})")], source)
    base = read_stack_file(path)
    base_values = {key: value for key, value in base.values.items() if key not in NOT_INHERITED}
    base_values = apply_base(base_values, path.parent, str(path), (*_seen, path))
    own = {key: value for key, value in values.items() if key != EXTENDS_KEY}
    return deep_merge(base_values, own)


def read_merged_stack_file(path: Path) -> StackFile:
    """A stack file with its base merged in (`extends` kept aside on the result)."""
    from config.stack_file import read_stack_file

    stack = read_stack_file(path)
    stack.extends = stack.values.get(EXTENDS_KEY)
    stack.values = apply_base(stack.values, path.parent, str(path))
    return stack
