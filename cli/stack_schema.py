"""Generate docs/stack.schema.json, a JSON Schema of a whole stack file (Pulumi.<stack>.yaml), from the
pydantic models, so an editor checks a stack file while it is typed.

Run `python -m cli.stack_schema --write` after changing config/; a unit test fails while the committed
file differs from this output. The schema is draft-07 because the YAML language server behind most
editors' YAML support "supports JSON Schema 7 and below" (github.com/redhat-developer/yaml-language-server,
README). It is an editing aid: the plan's own validation (config/) stays the authority and checks more
(cross-field rules, formats, the catalogue).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from config.loader import REQUIRED_SECRETS
from config.schema import StackConfig
from config.stack_base import EXTENDS_KEY
from config.stack_file import NAMESPACE, SECRET_COMMANDS

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "docs" / "stack.schema.json"
DRAFT_07 = "http://json-schema.org/draft-07/schema#"

# A value Pulumi stores encrypted: `pulumi config set --secret` writes `{secure: <ciphertext>}`.
SECURE_VALUE = {
    "type": "object",
    "properties": {"secure": {"type": "string"}},
    "required": ["secure"],
    "additionalProperties": False,
    "description": "set with `pulumi config set --secret`; never written in plain text",
}


def _draft_07(node: Any) -> Any:
    """pydantic writes `$defs` (2019-09 and later); draft-07 keeps them under `definitions`."""
    if isinstance(node, dict):
        return {key: _draft_07(value.replace("#/$defs/", "#/definitions/") if key == "$ref" else value)
                for key, value in node.items()}
    if isinstance(node, list):
        return [_draft_07(item) for item in node]
    return node


def generate() -> dict[str, Any]:
    model = _draft_07(StackConfig.model_json_schema(by_alias=True, mode="validation"))
    keys: dict[str, Any] = {f"{NAMESPACE}:{key}": value for key, value in model["properties"].items()}
    keys[f"{NAMESPACE}:{EXTENDS_KEY}"] = {
        "type": "string", "description": "a base stack file whose values this one extends (docs/configuration.md)"}
    for secret in REQUIRED_SECRETS:
        keys[f"{NAMESPACE}:{secret}"] = SECURE_VALUE
    keys[f"{NAMESPACE}:appSecrets"] = {"type": "object", "additionalProperties": SECURE_VALUE}
    for full_key in SECRET_COMMANDS:
        keys.setdefault(full_key, SECURE_VALUE)
    required = [f"{NAMESPACE}:{key}" for key in model.get("required", [])]
    other_namespaces = f"^(?!{NAMESPACE}:)[A-Za-z0-9_.-]+:.+$"  # aws:region, ...: theirs to check
    config = {
        "type": "object",
        # A stack that extends a base holds only what differs, so any key may be partial: only the key
        # names are checked there. The plan checks the merged values.
        "if": {"required": [f"{NAMESPACE}:{EXTENDS_KEY}"]},
        "then": {"propertyNames": {"anyOf": [{"enum": sorted(keys)}, {"pattern": other_namespaces}]}},
        "else": {
            "properties": keys,
            "patternProperties": {other_namespaces: {}},
            "additionalProperties": False,
            "required": required,
        },
    }
    return {
        "$schema": DRAFT_07,
        "title": "hetzner-platform stack file (Pulumi.<stack>.yaml)",
        "description": "Generated from config/ by `python -m cli.stack_schema --write`; see docs/configuration.md.",
        "type": "object",
        "properties": {
            "config": config,
            "secretsprovider": {"type": "string"},
            "encryptionsalt": {"type": "string"},
        },
        "definitions": model.get("$defs", {}),
    }


def render() -> str:
    return json.dumps(generate(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {SCHEMA_FILE.name} in docs/")
    args = parser.parse_args()
    if args.write:
        SCHEMA_FILE.write_text(render(), encoding="utf-8")
    else:
        sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
