"""Generate the configuration reference in docs/configuration.md from the pydantic schema, so the two
never drift.

Run `python -m cli.config_reference --write` after changing config/; a unit test fails while the
document's block differs from this output.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from config.schema import StackConfig

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return " \\| ".join(repr(a).replace("'", "") for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in typing.get_args(annotation) if a is not type(None)) + " (optional)"
    if origin is list:
        return f"list of {_type_name(typing.get_args(annotation)[0])}"
    if origin is dict:
        return f"map of name → {_type_name(typing.get_args(annotation)[1])}"
    if isinstance(annotation, type):
        return annotation.__name__.removesuffix("Config") if issubclass(annotation, BaseModel) else annotation.__name__
    return str(annotation)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel):
            return "(defaults below)"
        if isinstance(value, list) and value and isinstance(value[0], BaseModel):
            return "`" + json.dumps([item.model_dump(by_alias=True) for item in value]) + "`"
        return f"`{value}`" if value not in ([], {}) else "empty"
    if field.default is PydanticUndefined or field.default is None:
        return "unset"
    return f"`{field.default}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows: list[str] = []
    nested: list[tuple[str, type[BaseModel]]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = f"{prefix}{key}"
        rows.append(f"| `{path}` | {_type_name(field.annotation)} | {_default(field)} |")
        for sub in _models_in(field.annotation):
            is_map = typing.get_origin(field.annotation) is dict or "map of" in _type_name(field.annotation)
            is_list = "list of" in _type_name(field.annotation)
            nested.append((f"{path}{'.<name>' if is_map else '[]' if is_list else ''}.", sub))
    for sub_prefix, sub in nested:
        rows += _rows(sub, sub_prefix)
    return rows


def generate() -> str:
    lines = [
        START,
        "Keys of the `hetzner-platform:` namespace in `Pulumi.<stack>.yaml` (camelCase). Generated from",
        "`config/` by `python -m cli.config_reference --write`; a unit test keeps it in sync.",
        "",
        "| key | type | default |",
        "|---|---|---|",
        *_rows(StackConfig, ""),
        "",
        "Secrets (set with `pulumi config set --secret`, never in the file in plain text): `sshPrivateKey` (required),",
        "`appSecrets.<NAME>` (optional; generated when absent), `hcloud:token`, `cloudflare:apiToken`.",
        END,
    ]
    return "\n".join(lines)


def replace_block(text: str, block: str) -> str:
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{DOC} has no {START} ... {END} block")
    return pattern.sub(lambda _: block, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="update docs/configuration.md in place")
    args = parser.parse_args()
    block = generate()
    if args.write:
        DOC.write_text(replace_block(DOC.read_text(encoding="utf-8"), block), encoding="utf-8")
    else:
        sys.stdout.write(block + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
