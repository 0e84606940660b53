"""The configuration reference (docs/configuration.md) and the JSON Schema of a stack file
(docs/stack.schema.json) are generated from config/ and must stay in sync with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from cli.config_reference import DOC, END, START, generate
from cli.stack_schema import SCHEMA_FILE, render

ROOT = Path(__file__).resolve().parents[2]
STACK_FILES = sorted([*ROOT.glob("Pulumi.*.yaml"), *(ROOT / "examples").glob("Pulumi.*.yaml")])


def test_configuration_reference_matches_schema() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = text[text.index(START) : text.index(END) + len(END)]
    assert block == generate(), "docs/configuration.md is stale: run python -m cli.config_reference --write"


def test_json_schema_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == render(), (
        "docs/stack.schema.json is stale: run python -m cli.stack_schema --write")


def _validator() -> jsonschema.Draft7Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def _load(path: Path) -> dict[str, Any]:
    # The stack files quote nothing YAML 1.1 would read as a date or a bool where a string is meant.
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize("path", [p for p in STACK_FILES if p.name != "Pulumi.yaml"], ids=lambda p: p.name)
def test_every_stack_file_and_preset_matches_the_schema(path: Path) -> None:
    errors = [error.message for error in _validator().iter_errors(_load(path))]
    assert errors == [], f"{path.name}: {errors}"


@pytest.mark.parametrize(("change", "expected"), [
    (lambda config: config.update({"hetzner-platform:serverz": {}}), "serverz"),
    (lambda config: config["hetzner-platform:ssh"].update({"port": "twenty-two"}), "twenty-two"),
    (lambda config: config.pop("hetzner-platform:servers"), "servers"),
    (lambda config: config.update({"hetzner-platform:environment": "production"}), "production"),
    (lambda config: config["hetzner-platform:servers"]["app"].update({"rolez": ["web"]}), "rolez"),
])
def test_the_schema_marks_mistakes_an_editor_should_show(change: Any, expected: str) -> None:
    document = _load(ROOT / "Pulumi.staging.yaml")
    change(document["config"])
    messages = " ".join(error.message for error in _validator().iter_errors(document))
    assert expected in messages
