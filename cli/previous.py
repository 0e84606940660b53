"""`plan --previous OUTPUTS_JSON`: the stack's outputs of its last deployment, read from a file.

Accepted: what `pulumi stack output --json --show-secrets` prints (a JSON object of outputs), or a
`plan --json` document (its `outputs` are used). The evaluation hands them to the deployment guard's
StackReference, so a refused resize, access change, moved private IP, ... shows before `pulumi up`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from config.errors import ConfigError, ConfigIssue

FIELD = "--previous"
PLAN_DOCUMENT_KEYS = ("outputs", "resources", "cost")


def load_previous(path: Path) -> dict[str, Any]:
    """The outputs as a dict; ConfigError (exit 2) naming the file and the reason otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([ConfigIssue(FIELD, f"cannot read {path}: {error.strerror or error}")], str(path)) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError([ConfigIssue(FIELD, f"{path} is not JSON ({error.msg}, line {error.lineno})")], str(path)) from None
    if not isinstance(document, dict):
        raise ConfigError([ConfigIssue(FIELD, f"{path} holds a JSON {type(document).__name__}, not the object of stack outputs")],
                          str(path))
    if all(key in document for key in PLAN_DOCUMENT_KEYS):
        outputs = document["outputs"]
        if not isinstance(outputs, dict):
            raise ConfigError([ConfigIssue(FIELD, f"{path}: the plan document's `outputs` is not an object")], str(path))
        return outputs
    return document
