"""Assemble a host step script from the plain-file templates in render/templates/host/.

A step script is, in this order: the shared bash library (lib.sh), the values rendered from the
stack config as bash assignments, the files the step installs embedded verbatim in `hp_payload`
(quoted heredocs, so nothing in them is expanded), the step body (`<step>.sh`), and finally
`hp_run </dev/null`. Config file templates use `{{name}}` placeholders filled by `fill`; bash
templates have no placeholders at all, so each is plain, shellcheck-able bash. The template of a file
installed at PATH is render/templates/host/rootfs/PATH (`host_file`); the others are fragments.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from render.steps import HostStep

TEMPLATES = Path(__file__).resolve().parent / "templates" / "host"
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")
_VALUE_NAME = re.compile(r"^HP_[A-Z0-9_]+$")
_MODE = re.compile(r"^0[0-7]{3}$")
_SAFE_KEY = re.compile(r"^[A-Za-z0-9_./@:+-]+$")

Value = str | int | Sequence[str]


class TemplateError(ValueError):
    """A template and the values given for it do not match (a bug in a renderer, not in the config)."""


@cache
def template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def fill(name: str, **values: object) -> str:
    """Template `name` with every `{{key}}` replaced; unknown or unused keys are errors."""
    return fill_text(template(name), name, **values)


def fill_text(text: str, name: str, **values: object) -> str:
    """`text` (the template called `name` in errors) with every `{{key}}` replaced, as `fill` does."""
    used: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise TemplateError(f"template {name}: no value for {{{{{key}}}}}")
        used.add(key)
        return str(values[key])

    result = _PLACEHOLDER.sub(replace, text)
    unused = set(values) - used
    if unused:
        raise TemplateError(f"template {name}: values never used: {sorted(unused)}")
    return result


@dataclass(frozen=True)
class HostFile:
    """A file a step installs: absolute host path, exact content, octal mode. Owner is root:root."""

    path: str
    content: str
    mode: str = "0644"
    # False for embedded templates the script completes at run time (not a host file as such).
    listed: bool = True

    def __post_init__(self) -> None:
        if not _SAFE_KEY.match(self.path):
            raise TemplateError(f"unsafe file key {self.path!r}")
        if self.listed and not self.path.startswith("/"):
            raise TemplateError(f"{self.path}: host files need an absolute path")
        if not _MODE.match(self.mode):
            raise TemplateError(f"{self.path}: mode {self.mode!r} is not octal like 0644")
        if not self.content.endswith("\n") or "\0" in self.content:
            raise TemplateError(f"{self.path}: content must end with a newline and hold no NUL byte")


def host_file(path: str, mode: str = "0644", **values: object) -> HostFile:
    """The file installed at `path`, from its template at rootfs/<path> with every `{{key}}` filled."""
    return HostFile(path, fill(f"rootfs{path}", **values), mode)



def _quote(value: str) -> str:
    """Always single-quoted (shlex.quote leaves plain words bare, which shellcheck flags as commands)."""
    if "'" not in value:
        return f"'{value}'"
    if not re.search(r'[$`\\"!]', value):
        return f'"{value}"'
    return "'" + value.replace("'", "'\"'\"'") + "'"


def bash_value(name: str, value: Value) -> str:
    if not _VALUE_NAME.match(name):
        raise TemplateError(f"bash value name {name!r} must look like HP_NAME")
    if isinstance(value, bool):
        raise TemplateError(f"{name}: pass booleans as 0/1")
    if isinstance(value, int):
        return f"{name}={value}"
    if isinstance(value, str):
        return f"{name}={_quote(value)}"
    items = "".join(f"  {_quote(str(item))}\n" for item in value)
    return f"{name}=(\n{items})" if items else f"{name}=()"


def _delimiter(files: Sequence[HostFile]) -> str:
    lines = {line for item in files for line in item.content.splitlines()}
    delimiter, counter = "HP_EOF", 0
    while delimiter in lines:
        counter += 1
        delimiter = f"HP_EOF_{counter}"
    return delimiter


def payload_functions(files: Sequence[HostFile]) -> str:
    delimiter = _delimiter(files)
    content_cases = "".join(
        f"    {shlex.quote(item.path)})\n      cat <<'{delimiter}'\n{item.content}{delimiter}\n      ;;\n" for item in files
    )
    mode_cases = "".join(f"    {shlex.quote(item.path)}) echo {item.mode} ;;\n" for item in files)
    return (
        "hp_payload() {\n"
        '  case "$1" in\n'
        f"{content_cases}"
        '    *) hp_die "no embedded file for $1" ;;\n'
        "  esac\n"
        "}\n\n"
        "hp_payload_mode() {\n"
        '  case "$1" in\n'
        f"{mode_cases}"
        '    *) hp_die "no embedded file for $1" ;;\n'
        "  esac\n"
        "}\n"
    )


def build_step(
    name: str,
    *,
    server: str,
    values: Mapping[str, Value] | None = None,
    files: Sequence[HostFile] = (),
    missing_runtime: Sequence[str] = (),
) -> HostStep:
    """The step `name` with body `<name>.sh`; `files` are embedded and (if listed) reported."""
    paths = [item.path for item in files]
    if len(paths) != len(set(paths)):
        raise TemplateError(f"step {name}: a file is embedded twice")
    assignments = [
        bash_value("HP_STEP", name),
        # A script rendered before the cloud resources existed (ids, addresses) refuses to run.
        bash_value("HP_MISSING_RUNTIME", ", ".join(missing_runtime)),
        *(bash_value(key, value) for key, value in (values or {}).items()),
    ]
    script = "\n".join(
        [
            "#!/usr/bin/env bash",
            f"# hetzner-platform host step {name!r} for server {server!r}.",
            "# Generated by render/host_steps.py from render/templates/host/: edit the templates, not this file.",
            template("lib.sh").rstrip("\n"),
            "",
            "# ---- values rendered from the stack config ----------------------------------------------------",
            *assignments,
            "",
            "# ---- files this step installs, verbatim ---------------------------------------------------------",
            payload_functions(files).rstrip("\n"),
            "",
            template(f"{name}.sh").rstrip("\n"),
            "",
            "hp_run </dev/null",
            "",
        ]
    )
    return HostStep(name=name, script=script, files={item.path: item.content for item in files if item.listed})
